"""Working on alert groups: the inbox read with its filters, acknowledge/resolve/snooze/assign
writes, notes, and saved inbox views. Group rows and the timeline come from
:mod:`signalcraft.db.queries.alerts`; this module adds what people do with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows, scalar
from signalcraft.db.queries import alert_match as am
from signalcraft.db.queries import alerts as aq

OPEN_STATUSES = ("triggered", "acknowledged", "snoozed")


# --- the inbox ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What the inbox shows. Empty tuples and ``None`` mean "any"."""

    statuses: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()
    source: str = ""
    integration_id: int | None = None
    label: tuple[str, str] | None = None  # (key, value): on the group's or any of its alerts' labels
    assignee_id: int | None = None
    unassigned: bool = False
    search: str = ""


@dataclass(frozen=True, slots=True)
class InboxRow:
    group: aq.GroupRow
    snoozed_until: float | None
    assignee_id: int | None
    assignee_name: str  # the assignee's name, else email; "" when unassigned


def _where(conn: apsw.Connection, workspace_id: int, f: InboxFilter) -> tuple[list[str], list[object]]:
    clauses: list[str] = ["workspace_id = ?"]
    params: list[object] = [workspace_id]

    def add(clause: str, *values: object) -> None:
        clauses.append(clause)
        params.extend(values)

    if f.statuses:
        add(f"status IN ({', '.join('?' * len(f.statuses))})", *f.statuses)
    if f.severities:
        add(f"severity IN ({', '.join('?' * len(f.severities))})", *f.severities)
    if f.source:
        add("source = ?", f.source)
    if f.integration_id is not None:
        add("integration_id = ?", f.integration_id)
    if f.unassigned:
        add("assignee_user_id IS NULL")
    elif f.assignee_id is not None:
        add("assignee_user_id = ?", f.assignee_id)
    if f.label is not None:
        clause, values = am.label_clause(conn, workspace_id, *f.label)
        add(clause, *values)
    if f.search:
        clause, values = am.search_clause(conn, workspace_id, f.search)
        add(clause, *values)
    return clauses, params


def _inbox_select(where: str) -> str:
    # The page's rows in the inner query (index order, LIMIT), assignee names joined on
    # those rows only: one query for the page, no per-row lookups.
    return (
        f"SELECT g.*, coalesce(nullif(u.name, ''), u.email, '') FROM (SELECT {aq._GROUP_COLS},"
        f" snoozed_until, assignee_user_id FROM alert_groups WHERE {where}"
        " ORDER BY last_seen_at DESC, id DESC LIMIT ?) g LEFT JOIN users u ON u.id = g.assignee_user_id"
        " ORDER BY g.last_seen_at DESC, g.id DESC"
    )


def _inbox_row(row: Row) -> InboxRow:
    return InboxRow(aq._group(row[:17]), row[17], row[18], row[19])


def list_inbox(
    conn: apsw.Connection,
    workspace_id: int,
    f: InboxFilter,
    *,
    before: tuple[float, int] | None = None,
    limit: int = 50,
) -> list[InboxRow]:
    """Newest activity first; ``before`` is the (last_seen_at, id) cursor of the previous page."""
    clauses, params = _where(conn, workspace_id, f)
    if before is not None:
        clauses.append("(last_seen_at, id) < (?, ?)")
        params.extend(before)
    sql = _inbox_select(" AND ".join(clauses))
    return [_inbox_row(r) for r in rows(conn, sql, (*params, limit))]


def inbox_row(conn: apsw.Connection, workspace_id: int, group_id: int) -> InboxRow | None:
    row = one(conn, _inbox_select("workspace_id = ? AND id = ?"), (workspace_id, group_id, 1))
    return _inbox_row(row) if row else None


def open_counts(conn: apsw.Connection, workspace_id: int) -> dict[str, int]:
    """Groups per open status (the inbox tabs); resolved ones are not counted (they pile up)."""
    found = rows(
        conn,
        "SELECT status, count(*) FROM alert_groups WHERE workspace_id = ? AND status IN (?, ?, ?)"
        " GROUP BY status",
        (workspace_id, *OPEN_STATUSES),
    )
    counts = dict.fromkeys(OPEN_STATUSES, 0)
    counts.update({str(r[0]): int(r[1]) for r in found})
    return counts


def latest_events(conn: apsw.Connection, group_id: int, limit: int = 200) -> list[aq.EventRow]:
    """The group's timeline, newest first (a flapping group keeps its latest events in view)."""
    found = rows(
        conn,
        "SELECT id, alert_id, kind, at, actor, detail FROM alert_events WHERE group_id = ?"
        " ORDER BY id DESC LIMIT ?",
        (group_id, limit),
    )
    return [aq.EventRow(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5])) for r in found]


# --- state changes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkState:
    id: int
    status: str
    assignee_id: int | None


def work_states(conn: apsw.Connection, workspace_id: int, group_ids: Iterable[int]) -> dict[int, WorkState]:
    """Status and assignee of those groups that belong to the workspace (others are absent)."""
    ids = sorted(set(group_ids))
    if not ids:
        return {}
    found = rows(
        conn,
        f"SELECT id, status, assignee_user_id FROM alert_groups WHERE workspace_id = ?"
        f" AND id IN ({', '.join('?' * len(ids))})",
        (workspace_id, *ids),
    )
    return {int(r[0]): WorkState(int(r[0]), str(r[1]), r[2]) for r in found}


def set_acknowledged(conn: apsw.Connection, group_id: int, actor: str, now: float) -> None:
    conn.execute(
        "UPDATE alert_groups SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?,"
        " snoozed_until = NULL WHERE id = ?",
        (now, actor, group_id),
    )


def set_resolved(conn: apsw.Connection, group_id: int, actor: str, now: float) -> int:
    """Close every open alert of the group and the group itself; returns how many alerts closed."""
    conn.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = ? WHERE group_id = ? AND status <> 'resolved'",
        (now, group_id),
    )
    closed = conn.changes()
    conn.execute(
        "UPDATE alert_groups SET status = 'resolved', firing_count = 0, resolved_at = ?, resolved_by = ?,"
        " snoozed_until = NULL WHERE id = ?",
        (now, actor, group_id),
    )
    return closed


def set_snoozed(conn: apsw.Connection, group_id: int, until: float) -> None:
    conn.execute(
        "UPDATE alert_groups SET status = 'snoozed', snoozed_until = ? WHERE id = ?", (until, group_id)
    )


def set_woken(conn: apsw.Connection, group_id: int) -> None:
    """Back to triggered: a snooze ends as if the alert had just fired (acknowledgement cleared)."""
    conn.execute(
        "UPDATE alert_groups SET status = 'triggered', snoozed_until = NULL, acknowledged_at = NULL,"
        " acknowledged_by = NULL WHERE id = ? AND status = 'snoozed'",
        (group_id,),
    )


def due_snoozed(conn: apsw.Connection, now: float, limit: int = 1000) -> list[tuple[int, int]]:
    """(workspace_id, group_id) of snoozed groups whose time has come."""
    found = rows(
        conn,
        "SELECT workspace_id, id FROM alert_groups WHERE status = 'snoozed' AND snoozed_until <= ?"
        " ORDER BY snoozed_until LIMIT ?",
        (now, limit),
    )
    return [(int(r[0]), int(r[1])) for r in found]


def set_assignee(conn: apsw.Connection, group_id: int, user_id: int | None) -> None:
    conn.execute("UPDATE alert_groups SET assignee_user_id = ? WHERE id = ?", (user_id, group_id))


# --- notes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteRow:
    id: int
    group_id: int
    user_id: int | None
    author: str
    body: str
    at: float


_NOTE_COLS = "id, group_id, user_id, author, body, at"


def insert_note(
    conn: apsw.Connection,
    workspace_id: int,
    group_id: int,
    user_id: int | None,
    author: str,
    body: str,
    now: float,
) -> NoteRow:
    conn.execute(
        "INSERT INTO alert_notes(workspace_id, group_id, user_id, author, body, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (workspace_id, group_id, user_id, author, body, now),
    )
    return NoteRow(conn.last_insert_rowid(), group_id, user_id, author, body, now)


def notes_of_group(
    conn: apsw.Connection, workspace_id: int, group_id: int, limit: int = 500
) -> list[NoteRow]:
    found = rows(
        conn,
        f"SELECT {_NOTE_COLS} FROM alert_notes WHERE group_id = ? AND workspace_id = ?"
        " ORDER BY id DESC LIMIT ?",
        (group_id, workspace_id, limit),
    )
    return [NoteRow(*r) for r in found]


# --- saved views --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewRow:
    id: int
    name: str
    query: str
    user_id: int | None
    created_at: float


_VIEW_COLS = "id, name, query, user_id, created_at"


def list_views(conn: apsw.Connection, workspace_id: int) -> list[ViewRow]:
    found = rows(
        conn, f"SELECT {_VIEW_COLS} FROM saved_views WHERE workspace_id = ? ORDER BY name", (workspace_id,)
    )
    return [ViewRow(*r) for r in found]


def view_by_name(conn: apsw.Connection, workspace_id: int, name: str) -> ViewRow | None:
    row = one(
        conn,
        f"SELECT {_VIEW_COLS} FROM saved_views WHERE workspace_id = ? AND name = ?",
        (workspace_id, name),
    )
    return ViewRow(*row) if row else None


def view_name_taken(
    conn: apsw.Connection, workspace_id: int, name: str, except_id: int | None = None
) -> bool:
    return bool(
        scalar(
            conn,
            "SELECT 1 FROM saved_views WHERE workspace_id = ? AND name = ? AND id IS NOT ?",
            (workspace_id, name, except_id),
        )
    )


def insert_view(
    conn: apsw.Connection, workspace_id: int, user_id: int | None, name: str, query: str, now: float
) -> ViewRow:
    conn.execute(
        "INSERT INTO saved_views(workspace_id, user_id, name, query, created_at) VALUES (?, ?, ?, ?, ?)",
        (workspace_id, user_id, name, query, now),
    )
    return ViewRow(conn.last_insert_rowid(), name, query, user_id, now)


def update_view(conn: apsw.Connection, view_id: int, name: str, query: str) -> None:
    conn.execute("UPDATE saved_views SET name = ?, query = ? WHERE id = ?", (name, query, view_id))


def delete_view(conn: apsw.Connection, view_id: int) -> None:
    conn.execute("DELETE FROM saved_views WHERE id = ?", (view_id,))
