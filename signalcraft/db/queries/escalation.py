"""Escalation policies, their runs (the durable timer), the notices a step sends, and people's
notification rules. Runs and notices change state by compare-and-set (rowcount checked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows, scalar

# --- policies ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyRow:
    id: int
    workspace_id: int
    name: str
    doc: dict[str, Any]
    created_at: float
    updated_at: float


_POLICY_COLS = "id, workspace_id, name, doc, created_at, updated_at"


def _policy(row: Row) -> PolicyRow:
    return PolicyRow(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5])


def policies_of(conn: apsw.Connection, workspace_id: int) -> list[PolicyRow]:
    found = rows(
        conn,
        f"SELECT {_POLICY_COLS} FROM escalation_policies WHERE workspace_id = ? ORDER BY name",
        (workspace_id,),
    )
    return [_policy(r) for r in found]


def policy(conn: apsw.Connection, workspace_id: int, policy_id: int) -> PolicyRow | None:
    row = one(
        conn,
        f"SELECT {_POLICY_COLS} FROM escalation_policies WHERE id = ? AND workspace_id = ?",
        (policy_id, workspace_id),
    )
    return _policy(row) if row else None


def policy_name_taken(conn: apsw.Connection, workspace_id: int, name: str, except_id: int | None) -> bool:
    found = one(
        conn,
        "SELECT 1 FROM escalation_policies WHERE workspace_id = ? AND name = ? AND id IS NOT ?",
        (workspace_id, name, except_id),
    )
    return found is not None


def insert_policy(
    conn: apsw.Connection, workspace_id: int, name: str, doc: dict[str, Any], now: float
) -> int:
    conn.execute(
        "INSERT INTO escalation_policies(workspace_id, name, doc, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (workspace_id, name, orjson.dumps(doc).decode(), now, now),
    )
    return conn.last_insert_rowid()


def update_policy(
    conn: apsw.Connection, workspace_id: int, policy_id: int, name: str, doc: dict[str, Any], now: float
) -> None:
    conn.execute(
        "UPDATE escalation_policies SET name = ?, doc = ?, updated_at = ? WHERE id = ? AND workspace_id = ?",
        (name, orjson.dumps(doc).decode(), now, policy_id, workspace_id),
    )


def delete_policy(conn: apsw.Connection, workspace_id: int, policy_id: int) -> None:
    conn.execute(
        "DELETE FROM escalation_policies WHERE id = ? AND workspace_id = ?", (policy_id, workspace_id)
    )


# --- runs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    workspace_id: int
    group_id: int
    policy_id: int | None
    policy_name: str
    event_id: int | None
    status: str
    step: int
    round: int
    next_at: float | None
    steps_fired: int
    stop_reason: str | None
    started_at: float
    ended_at: float | None


_RUN_COLS = (
    "id, workspace_id, group_id, policy_id, policy_name, event_id, status, step, round, next_at,"
    " steps_fired, stop_reason, started_at, ended_at"
)


def insert_run(
    conn: apsw.Connection,
    workspace_id: int,
    group_id: int,
    policy_id: int,
    policy_name: str,
    event_id: int | None,
    now: float,
) -> int | None:
    """A running run, its first step due ``now``; None when this policy already escalates the group."""
    conn.execute(
        "INSERT OR IGNORE INTO escalation_runs(workspace_id, group_id, policy_id, policy_name, event_id,"
        " next_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, group_id, policy_id, policy_name, event_id, now, now),
    )
    return conn.last_insert_rowid() if conn.changes() == 1 else None


def run(conn: apsw.Connection, run_id: int) -> RunRow | None:
    row = one(conn, f"SELECT {_RUN_COLS} FROM escalation_runs WHERE id = ?", (run_id,))
    return RunRow(*row) if row else None


def runs_of_group(conn: apsw.Connection, workspace_id: int, group_id: int) -> list[RunRow]:
    found = rows(
        conn,
        f"SELECT {_RUN_COLS} FROM escalation_runs WHERE group_id = ? AND workspace_id = ? ORDER BY id",
        (group_id, workspace_id),
    )
    return [RunRow(*r) for r in found]


def live_run_ids(
    conn: apsw.Connection, *, group_id: int | None = None, policy_id: int | None = None
) -> list[int]:
    found = rows(
        conn,
        "SELECT id FROM escalation_runs WHERE status = 'running'"
        " AND (group_id = ? OR ? IS NULL) AND (policy_id = ? OR ? IS NULL) ORDER BY id",
        (group_id, group_id, policy_id, policy_id),
    )
    return [r[0] for r in found]


def due_run_ids(conn: apsw.Connection, now: float, limit: int = 500) -> list[int]:
    found = rows(
        conn,
        "SELECT id FROM escalation_runs WHERE status = 'running' AND next_at <= ? ORDER BY next_at LIMIT ?",
        (now, limit),
    )
    return [r[0] for r in found]


def claim_step(
    conn: apsw.Connection,
    current: RunRow,
    step: int,
    round_: int,
    next_at: float | None,
    fired: int,
    now: float,
) -> bool:
    """Move a running run from the state the caller read to the next (``next_at`` None: finished).
    False when someone else moved it first."""
    conn.execute(
        "UPDATE escalation_runs SET step = ?, round = ?, next_at = ?, steps_fired = steps_fired + ?,"
        " status = CASE WHEN ? IS NULL THEN 'finished' ELSE 'running' END,"
        " ended_at = CASE WHEN ? IS NULL THEN ? ELSE NULL END"
        " WHERE id = ? AND status = 'running' AND step = ? AND round = ? AND next_at = ?",
        (
            step,
            round_,
            next_at,
            fired,
            next_at,
            next_at,
            now,
            current.id,
            current.step,
            current.round,
            current.next_at,
        ),
    )
    return conn.changes() == 1


def stop_run(conn: apsw.Connection, run_id: int, reason: str, now: float) -> bool:
    conn.execute(
        "UPDATE escalation_runs SET status = 'stopped', stop_reason = ?, next_at = NULL, ended_at = ?"
        " WHERE id = ? AND status = 'running'",
        (reason, now, run_id),
    )
    return conn.changes() == 1


def next_wake(conn: apsw.Connection) -> float | None:
    """The earliest time a running run or a pending notice is due."""
    value = scalar(
        conn,
        "SELECT min(t) FROM (SELECT min(next_at) AS t FROM escalation_runs WHERE status = 'running'"
        " UNION ALL SELECT min(due_at) FROM escalation_notices WHERE status = 'pending')",
    )
    return None if value is None else float(value)


# --- notices -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeRow:
    id: int
    workspace_id: int
    run_id: int
    group_id: int
    event_id: int | None
    user_id: int | None
    channel_id: int
    due_at: float
    status: str
    notification_id: int | None


_NOTICE_COLS = (
    "id, workspace_id, run_id, group_id, event_id, user_id, channel_id, due_at, status, notification_id"
)


def insert_notice(
    conn: apsw.Connection,
    workspace_id: int,
    run_id: int,
    group_id: int,
    event_id: int,
    user_id: int | None,
    channel_id: int,
    due_at: float,
    now: float,
) -> int:
    conn.execute(
        "INSERT INTO escalation_notices(workspace_id, run_id, group_id, event_id, user_id, channel_id,"
        " due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, run_id, group_id, event_id, user_id, channel_id, due_at, now),
    )
    return conn.last_insert_rowid()


def notice(conn: apsw.Connection, notice_id: int) -> NoticeRow | None:
    row = one(conn, f"SELECT {_NOTICE_COLS} FROM escalation_notices WHERE id = ?", (notice_id,))
    return NoticeRow(*row) if row else None


def due_notices(conn: apsw.Connection, now: float, limit: int = 1000) -> list[NoticeRow]:
    found = rows(
        conn,
        f"SELECT {_NOTICE_COLS} FROM escalation_notices WHERE status = 'pending' AND due_at <= ?"
        " ORDER BY due_at, id LIMIT ?",
        (now, limit),
    )
    return [NoticeRow(*r) for r in found]


def notices_of_runs(conn: apsw.Connection, run_ids: list[int]) -> list[NoticeRow]:
    if not run_ids:
        return []
    marks = ", ".join("?" * len(run_ids))
    found = rows(
        conn,
        f"SELECT {_NOTICE_COLS} FROM escalation_notices WHERE run_id IN ({marks}) ORDER BY id",
        tuple(run_ids),
    )
    return [NoticeRow(*r) for r in found]


def mark_notice_sent(conn: apsw.Connection, notice_id: int, notification_id: int) -> bool:
    conn.execute(
        "UPDATE escalation_notices SET status = 'sent', notification_id = ?"
        " WHERE id = ? AND status = 'pending'",
        (notification_id, notice_id),
    )
    return conn.changes() == 1


def cancel_notice(conn: apsw.Connection, notice_id: int) -> bool:
    conn.execute(
        "UPDATE escalation_notices SET status = 'cancelled' WHERE id = ? AND status = 'pending'", (notice_id,)
    )
    return conn.changes() == 1


def cancel_notices_of_run(conn: apsw.Connection, run_id: int) -> int:
    conn.execute(
        "UPDATE escalation_notices SET status = 'cancelled' WHERE run_id = ? AND status = 'pending'",
        (run_id,),
    )
    return conn.changes()


# --- people's notification rules -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    user_id: int
    urgency: str
    channel_id: int
    delay_minutes: int


def rules_of(
    conn: apsw.Connection, workspace_id: int, user_id: int, urgency: str | None = None
) -> list[RuleRow]:
    """A person's rules (of one urgency), soonest first; rules of deleted contact methods left out."""
    found = rows(
        conn,
        "SELECT r.id, r.user_id, r.urgency, r.channel_id, r.delay_minutes FROM user_notification_rules r"
        " JOIN channels c ON c.id = r.channel_id AND c.deleted_at IS NULL"
        " WHERE r.workspace_id = ? AND r.user_id = ? AND (r.urgency = ? OR ? IS NULL)"
        " ORDER BY r.urgency, r.delay_minutes, r.id",
        (workspace_id, user_id, urgency, urgency),
    )
    return [RuleRow(*r) for r in found]


def replace_rules(
    conn: apsw.Connection, workspace_id: int, user_id: int, rules: list[tuple[str, int, int]], now: float
) -> None:
    """Replace a person's rules with ``(urgency, channel_id, delay_minutes)`` triples."""
    conn.execute(
        "DELETE FROM user_notification_rules WHERE workspace_id = ? AND user_id = ?", (workspace_id, user_id)
    )
    for urgency, channel_id, delay in dict.fromkeys(rules):
        conn.execute(
            "INSERT INTO user_notification_rules(workspace_id, user_id, urgency, channel_id, delay_minutes,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (workspace_id, user_id, urgency, channel_id, delay, now),
        )


def delete_rules_of_channel(conn: apsw.Connection, channel_id: int) -> None:
    conn.execute("DELETE FROM user_notification_rules WHERE channel_id = ?", (channel_id,))
