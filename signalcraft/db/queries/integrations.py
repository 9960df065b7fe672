"""Integrations: a source type, a name, a credential (stored hashed) and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apsw
import orjson

from signalcraft.auth.secrets import token_hash
from signalcraft.db.connection import Row, one, rows
from signalcraft.errors import InvalidInput, NotFound

_COLS = (
    "id, workspace_id, type, name, token_hint, settings, created_at, rotated_at, revoked_at, last_received_at"
)


@dataclass(frozen=True, slots=True)
class Integration:
    id: int
    workspace_id: int
    type: str
    name: str
    token_hint: str
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    rotated_at: float | None = None
    revoked_at: float | None = None
    last_received_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _integration(row: Row) -> Integration:
    return Integration(
        row[0], row[1], row[2], row[3], row[4], orjson.loads(row[5]), row[6], row[7], row[8], row[9]
    )


def create(
    conn: apsw.Connection,
    workspace_id: int,
    type_: str,
    name: str,
    token: str,
    settings: dict[str, Any],
    now: float,
) -> Integration:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("give the integration a name of 1 to 100 characters", field="name")
    conn.execute(
        "INSERT INTO integrations(workspace_id, type, name, token_hash, token_hint, settings, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, type_, name, token_hash(token), token[:6], orjson.dumps(settings).decode(), now),
    )
    return get(conn, workspace_id, conn.last_insert_rowid())


def get(conn: apsw.Connection, workspace_id: int, integration_id: int) -> Integration:
    row = one(
        conn,
        f"SELECT {_COLS} FROM integrations WHERE id = ? AND workspace_id = ?",
        (integration_id, workspace_id),
    )
    if row is None:
        raise NotFound("no such integration", field="integration")
    return _integration(row)


def by_token(conn: apsw.Connection, token: str) -> Integration | None:
    """The active integration whose credential is ``token`` (revoked ones are not found)."""
    row = one(
        conn,
        f"SELECT {_COLS} FROM integrations WHERE token_hash = ? AND revoked_at IS NULL",
        (token_hash(token),),
    )
    return _integration(row) if row else None


def by_id(conn: apsw.Connection, integration_id: int) -> Integration | None:
    row = one(conn, f"SELECT {_COLS} FROM integrations WHERE id = ?", (integration_id,))
    return _integration(row) if row else None


def list_for(conn: apsw.Connection, workspace_id: int) -> list[Integration]:
    return [
        _integration(r)
        for r in rows(
            conn,
            f"SELECT {_COLS} FROM integrations WHERE workspace_id = ? ORDER BY revoked_at IS NOT NULL, name",
            (workspace_id,),
        )
    ]


def rotate(
    conn: apsw.Connection, workspace_id: int, integration_id: int, token: str, now: float
) -> Integration:
    current = get(conn, workspace_id, integration_id)
    if not current.active:
        raise InvalidInput("a revoked integration cannot be rotated", field="integration")
    conn.execute(
        "UPDATE integrations SET token_hash = ?, token_hint = ?, rotated_at = ? WHERE id = ?",
        (token_hash(token), token[:6], now, integration_id),
    )
    return get(conn, workspace_id, integration_id)


def revoke(conn: apsw.Connection, workspace_id: int, integration_id: int, now: float) -> Integration:
    get(conn, workspace_id, integration_id)
    conn.execute(
        "UPDATE integrations SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", (now, integration_id)
    )
    return get(conn, workspace_id, integration_id)


def update_settings(
    conn: apsw.Connection, workspace_id: int, integration_id: int, settings: dict[str, Any]
) -> Integration:
    get(conn, workspace_id, integration_id)
    conn.execute(
        "UPDATE integrations SET settings = ? WHERE id = ?", (orjson.dumps(settings).decode(), integration_id)
    )
    return get(conn, workspace_id, integration_id)


def touch_received(conn: apsw.Connection, integration_id: int, now: float) -> None:
    conn.execute("UPDATE integrations SET last_received_at = ? WHERE id = ?", (now, integration_id))
