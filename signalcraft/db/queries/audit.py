"""The audit trail: who did what, when, from where. Append-only (a trigger refuses UPDATE)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
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

MASK = "***"


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, secret_keys: Collection[str] = ()
) -> dict[str, dict[str, Any]]:
    """The changed fields only, as ``{"before": {...}, "after": {...}}``: the one shape every caller records.

    A key present on one side only is a change (creation: ``before={}``; deletion: ``after={}``).
    Values under ``secret_keys`` never reach the log: a changed secret shows as ``"***"`` on both
    sides, so the trail says *that* it changed, not what it was or became.
    """
    out: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for key in (*before, *(k for k in after if k not in before)):
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        if old == new:
            continue
        secret = key in secret_keys
        if old is not _ABSENT:
            out["before"][key] = MASK if secret and old not in (None, "") else old
        if new is not _ABSENT:
            out["after"][key] = MASK if secret and new not in (None, "") else new
    return out


_ABSENT: Any = object()


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


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit page and export narrow to; empty fields match everything."""

    action_prefix: str = ""
    actor: str = ""  # exact, case-insensitive
    target: str = ""  # substring
    since: float | None = None
    until: float | None = None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def entries(
    conn: apsw.Connection,
    workspace_id: int | None,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action_prefix: str = "",
    where: AuditFilter | None = None,
) -> list[AuditEntry]:
    """Newest first; ``before_id`` is the cursor of the next page."""
    f = where or AuditFilter(action_prefix=action_prefix)
    clauses = ["(workspace_id IS ? OR ? IS NULL)"]
    params: list[Any] = [workspace_id, workspace_id]
    if before_id is not None:
        clauses.append("id < ?")
        params.append(before_id)
    if f.action_prefix:
        clauses.append("action LIKE ? ESCAPE '\\'")
        params.append(_like(f.action_prefix) + "%")
    if f.actor:
        clauses.append("actor = ? COLLATE NOCASE")
        params.append(f.actor)
    if f.target:
        clauses.append("target LIKE ? ESCAPE '\\'")
        params.append("%" + _like(f.target) + "%")
    if f.since is not None:
        clauses.append("at >= ?")
        params.append(f.since)
    if f.until is not None:
        clauses.append("at < ?")
        params.append(f.until)
    found = rows(
        conn,
        "SELECT id, workspace_id, actor, action, target, detail, ip, at FROM audit_log WHERE "
        + " AND ".join(clauses)
        + " ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5]), r[6], r[7]) for r in found]
