"""The audit trail: who did what, when, from where. Append-only (a trigger refuses UPDATE)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from signalcraft.db.connection import rows


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user, an API key, the CLI or the system; and from which address."""

    label: str
    user_id: int | None = None
    ip: str = ""


SYSTEM = Actor("system")
CLI = Actor("cli")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    workspace_id: int | None
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    ip: str
    at: float


def record(
    conn: apsw.Connection,
    actor: Actor,
    action: str,
    now: float,
    *,
    workspace_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit_log(workspace_id, actor_user_id, actor, action, target, detail, ip, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            workspace_id,
            actor.user_id,
            actor.label,
            action,
            target[:200],
            orjson.dumps(detail or {}).decode(),
            actor.ip[:64],
            now,
        ),
    )


def entries(
    conn: apsw.Connection,
    workspace_id: int | None,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action_prefix: str = "",
) -> list[AuditEntry]:
    clauses = ["(workspace_id IS ? OR ? IS NULL)"]
    params: list[Any] = [workspace_id, workspace_id]
    if before_id is not None:
        clauses.append("id < ?")
        params.append(before_id)
    if action_prefix:
        clauses.append("action LIKE ? ESCAPE '\\'")
        params.append(action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    found = rows(
        conn,
        "SELECT id, workspace_id, actor, action, target, detail, ip, at FROM audit_log WHERE "
        + " AND ".join(clauses)
        + " ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5]), r[6], r[7]) for r in found]
