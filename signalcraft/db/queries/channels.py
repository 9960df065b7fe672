"""Notification channels: a kind, a name, a public config and a secret config (both JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows
from signalcraft.errors import Conflict, NotFound

_COLS = (
    "id, workspace_id, kind, name, config, secret_config, created_at, updated_at, deleted_at, broken_at,"
    " broken_reason, broken_group_id"
)


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    workspace_id: int
    kind: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    secret_config: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    deleted_at: float | None = None
    broken_at: float | None = None
    broken_reason: str | None = None
    broken_group_id: int | None = None

    @property
    def full_config(self) -> dict[str, Any]:
        """What a transport reads: public and secret keys together."""
        return {**self.config, **self.secret_config}


def _channel(row: Row) -> Channel:
    return Channel(
        row[0],
        row[1],
        row[2],
        row[3],
        orjson.loads(row[4]),
        orjson.loads(row[5]),
        *row[6:],
    )


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


def _name_taken(conn: apsw.Connection, workspace_id: int, name: str, except_id: int | None) -> bool:
    return (
        one(
            conn,
            "SELECT 1 FROM channels WHERE workspace_id = ? AND name = ? AND deleted_at IS NULL"
            " AND id IS NOT ?",
            (workspace_id, name, except_id),
        )
        is not None
    )


def create(
    conn: apsw.Connection,
    workspace_id: int,
    kind: str,
    name: str,
    config: dict[str, Any],
    secret_config: dict[str, Any],
    now: float,
) -> Channel:
    if _name_taken(conn, workspace_id, name, None):
        raise Conflict("a channel with this name exists", field="name")
    conn.execute(
        "INSERT INTO channels(workspace_id, kind, name, config, secret_config, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, kind, name, _json(config), _json(secret_config), now, now),
    )
    return get(conn, workspace_id, conn.last_insert_rowid())


def get(conn: apsw.Connection, workspace_id: int, channel_id: int) -> Channel:
    """A live (not deleted) channel of the workspace, or NotFound."""
    row = one(
        conn,
        f"SELECT {_COLS} FROM channels WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
        (channel_id, workspace_id),
    )
    if row is None:
        raise NotFound("no such channel", field="channel_id")
    return _channel(row)


def by_id(conn: apsw.Connection, channel_id: int) -> Channel | None:
    """Any channel, deleted ones included (the worker decides what to do with those)."""
    row = one(conn, f"SELECT {_COLS} FROM channels WHERE id = ?", (channel_id,))
    return _channel(row) if row else None


def list_for(conn: apsw.Connection, workspace_id: int) -> list[Channel]:
    return [
        _channel(r)
        for r in rows(
            conn,
            f"SELECT {_COLS} FROM channels WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY name",
            (workspace_id,),
        )
    ]


def update(
    conn: apsw.Connection,
    channel: Channel,
    name: str,
    config: dict[str, Any],
    secret_config: dict[str, Any],
    now: float,
) -> Channel:
    if _name_taken(conn, channel.workspace_id, name, channel.id):
        raise Conflict("a channel with this name exists", field="name")
    conn.execute(
        "UPDATE channels SET name = ?, config = ?, secret_config = ?, updated_at = ? WHERE id = ?",
        (name, _json(config), _json(secret_config), now, channel.id),
    )
    return get(conn, channel.workspace_id, channel.id)


def soft_delete(conn: apsw.Connection, channel: Channel, now: float) -> None:
    conn.execute("UPDATE channels SET deleted_at = ? WHERE id = ?", (now, channel.id))


def mark_broken(conn: apsw.Connection, channel_id: int, now: float, reason: str) -> bool:
    """Compare-and-set: True only for the call that broke it (so one alert is raised)."""
    conn.execute(
        "UPDATE channels SET broken_at = ?, broken_reason = ? WHERE id = ? AND broken_at IS NULL",
        (now, reason[:500], channel_id),
    )
    return conn.changes() == 1


def set_broken_group(conn: apsw.Connection, channel_id: int, group_id: int) -> None:
    conn.execute("UPDATE channels SET broken_group_id = ? WHERE id = ?", (group_id, channel_id))


def clear_broken(conn: apsw.Connection, channel_id: int) -> None:
    conn.execute(
        "UPDATE channels SET broken_at = NULL, broken_reason = NULL, broken_group_id = NULL WHERE id = ?",
        (channel_id,),
    )
