"""Named queries for on-call schedules, their overrides and their iCal feed tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows, scalar


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    id: int
    workspace_id: int
    name: str
    timezone: str
    layers: list[dict[str, Any]]
    updated_at: float


@dataclass(frozen=True, slots=True)
class OverrideRow:
    id: int
    schedule_id: int
    user_id: int
    starts_at: float
    ends_at: float
    created_by: int | None
    reason: str
    created_at: float


_SCHEDULE_COLS = "id, workspace_id, name, timezone, layers, updated_at"
_OVERRIDE_COLS = "id, schedule_id, user_id, starts_at, ends_at, created_by, reason, created_at"


def _schedule(r: Row) -> ScheduleRow:
    return ScheduleRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5])


def _override(r: Row) -> OverrideRow:
    return OverrideRow(*r)


# --- schedules ---------------------------------------------------------------------------


def schedule(conn: apsw.Connection, workspace_id: int, schedule_id: int) -> ScheduleRow | None:
    r = one(
        conn,
        f"SELECT {_SCHEDULE_COLS} FROM schedules WHERE id = ? AND workspace_id = ?",
        (schedule_id, workspace_id),
    )
    return _schedule(r) if r else None


def schedules_of(conn: apsw.Connection, workspace_id: int) -> list[ScheduleRow]:
    found = rows(
        conn, f"SELECT {_SCHEDULE_COLS} FROM schedules WHERE workspace_id = ? ORDER BY name", (workspace_id,)
    )
    return [_schedule(r) for r in found]


def name_taken(conn: apsw.Connection, workspace_id: int, name: str, except_id: int | None) -> bool:
    return bool(
        scalar(
            conn,
            "SELECT 1 FROM schedules WHERE workspace_id = ? AND name = ? AND id IS NOT ?",
            (workspace_id, name, except_id),
        )
    )


def insert_schedule(
    conn: apsw.Connection,
    workspace_id: int,
    name: str,
    timezone: str,
    layers: list[dict[str, Any]],
    now: float,
) -> int:
    conn.execute(
        "INSERT INTO schedules(workspace_id, name, timezone, layers, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (workspace_id, name, timezone, orjson.dumps(layers).decode(), now, now),
    )
    return conn.last_insert_rowid()


def update_schedule(
    conn: apsw.Connection,
    workspace_id: int,
    schedule_id: int,
    name: str,
    timezone: str,
    layers: list[dict[str, Any]],
    now: float,
) -> None:
    conn.execute(
        "UPDATE schedules SET name = ?, timezone = ?, layers = ?, updated_at = ?"
        " WHERE id = ? AND workspace_id = ?",
        (name, timezone, orjson.dumps(layers).decode(), now, schedule_id, workspace_id),
    )


def delete_schedule(conn: apsw.Connection, workspace_id: int, schedule_id: int) -> bool:
    conn.execute("DELETE FROM schedules WHERE id = ? AND workspace_id = ?", (schedule_id, workspace_id))
    return conn.changes() > 0


# --- overrides ---------------------------------------------------------------------------


def overrides_of(
    conn: apsw.Connection, schedule_id: int, *, ending_after: float | None = None
) -> list[OverrideRow]:
    """Oldest start first; with ``ending_after``, only those still running or ahead then."""
    sql = f"SELECT {_OVERRIDE_COLS} FROM schedule_overrides WHERE schedule_id = ?"
    params: tuple[Any, ...] = (schedule_id,)
    if ending_after is not None:
        sql += " AND ends_at > ?"
        params += (ending_after,)
    return [_override(r) for r in rows(conn, sql + " ORDER BY starts_at, id", params)]


def override(conn: apsw.Connection, schedule_id: int, override_id: int) -> OverrideRow | None:
    r = one(
        conn,
        f"SELECT {_OVERRIDE_COLS} FROM schedule_overrides WHERE id = ? AND schedule_id = ?",
        (override_id, schedule_id),
    )
    return _override(r) if r else None


def insert_override(
    conn: apsw.Connection,
    schedule_id: int,
    user_id: int,
    starts_at: float,
    ends_at: float,
    created_by: int | None,
    reason: str,
    now: float,
) -> int:
    conn.execute(
        "INSERT INTO schedule_overrides(schedule_id, user_id, starts_at, ends_at, created_by, reason,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (schedule_id, user_id, starts_at, ends_at, created_by, reason, now),
    )
    return conn.last_insert_rowid()


def delete_override(conn: apsw.Connection, schedule_id: int, override_id: int) -> bool:
    conn.execute(
        "DELETE FROM schedule_overrides WHERE id = ? AND schedule_id = ?", (override_id, schedule_id)
    )
    return conn.changes() > 0


# --- people ------------------------------------------------------------------------------


def active_member_ids(conn: apsw.Connection, workspace_id: int) -> set[int]:
    """Members who can be on call: in the workspace and not disabled."""
    found = rows(
        conn,
        "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.workspace_id = ? AND u.disabled_at IS NULL",
        (workspace_id,),
    )
    return {r[0] for r in found}


def display_names(conn: apsw.Connection, user_ids: set[int]) -> dict[int, str]:
    """Name (or e-mail when the name is empty) of each user, members or not."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    found = rows(conn, f"SELECT id, name, email FROM users WHERE id IN ({marks})", tuple(user_ids))
    return {r[0]: r[1] or r[2] for r in found}


# --- iCal feeds --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: int
    workspace_id: int
    schedule_id: int | None
    user_id: int | None


def feed_by_hash(conn: apsw.Connection, token_hash: str) -> FeedRow | None:
    r = one(
        conn,
        "SELECT id, workspace_id, schedule_id, user_id FROM ical_feeds WHERE token_hash = ?",
        (token_hash,),
    )
    return FeedRow(*r) if r else None


def set_schedule_feed(
    conn: apsw.Connection, workspace_id: int, schedule_id: int, token_hash: str, now: float
) -> None:
    """Create or replace (rotate) the schedule's feed token: the old one stops working."""
    conn.execute(
        "INSERT INTO ical_feeds(workspace_id, schedule_id, token_hash, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(schedule_id) WHERE schedule_id IS NOT NULL"
        " DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        (workspace_id, schedule_id, token_hash, now),
    )


def set_user_feed(
    conn: apsw.Connection, workspace_id: int, user_id: int, token_hash: str, now: float
) -> None:
    conn.execute(
        "INSERT INTO ical_feeds(workspace_id, user_id, token_hash, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(workspace_id, user_id) WHERE user_id IS NOT NULL"
        " DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        (workspace_id, user_id, token_hash, now),
    )


def feed_exists(
    conn: apsw.Connection, workspace_id: int, *, schedule_id: int | None = None, user_id: int | None = None
) -> bool:
    return bool(
        scalar(
            conn,
            "SELECT 1 FROM ical_feeds WHERE workspace_id = ? AND schedule_id IS ? AND user_id IS ?",
            (workspace_id, schedule_id, user_id),
        )
    )
