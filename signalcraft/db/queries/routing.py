"""Routing rules, the default route, silences, maintenance windows, inhibit rules, decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows, scalar


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- rules and the default route -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    position: int
    name: str
    doc: dict[str, Any]
    enabled: bool
    updated_at: float


def rules_of(conn: apsw.Connection, workspace_id: int) -> list[RuleRow]:
    found = rows(
        conn,
        "SELECT id, position, name, doc, enabled, updated_at FROM routing_rules WHERE workspace_id = ?"
        " ORDER BY position, id",
        (workspace_id,),
    )
    return [RuleRow(r[0], r[1], r[2], orjson.loads(r[3]), bool(r[4]), r[5]) for r in found]


def insert_rule(
    conn: apsw.Connection,
    workspace_id: int,
    position: int,
    name: str,
    doc: dict[str, Any],
    enabled: bool,
    now: float,
) -> int:
    conn.execute(
        "INSERT INTO routing_rules(workspace_id, position, name, doc, enabled, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, position, name, _dumps(doc), int(enabled), now, now),
    )
    return conn.last_insert_rowid()


def update_rule(
    conn: apsw.Connection,
    workspace_id: int,
    rule_id: int,
    position: int,
    name: str,
    doc: dict[str, Any],
    enabled: bool,
    now: float,
) -> None:
    conn.execute(
        "UPDATE routing_rules SET position = ?, name = ?, doc = ?, enabled = ?, updated_at = ?"
        " WHERE id = ? AND workspace_id = ?",
        (position, name, _dumps(doc), int(enabled), now, rule_id, workspace_id),
    )


def delete_rule(conn: apsw.Connection, workspace_id: int, rule_id: int) -> bool:
    conn.execute("DELETE FROM routing_rules WHERE id = ? AND workspace_id = ?", (rule_id, workspace_id))
    return conn.changes() > 0


def default_route(conn: apsw.Connection, workspace_id: int) -> dict[str, Any]:
    doc = scalar(conn, "SELECT doc FROM routing_defaults WHERE workspace_id = ?", (workspace_id,))
    return orjson.loads(doc) if doc else {}


def set_default_route(conn: apsw.Connection, workspace_id: int, doc: dict[str, Any], now: float) -> None:
    conn.execute(
        "INSERT INTO routing_defaults(workspace_id, doc, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(workspace_id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        (workspace_id, _dumps(doc), now),
    )


def live_channel_ids(conn: apsw.Connection, workspace_id: int) -> set[int]:
    """Channels of the workspace that are not deleted (rules may only notify these; a person's
    own contact methods are not the workspace's to route to)."""
    found = rows(
        conn,
        "SELECT id FROM channels WHERE workspace_id = ? AND deleted_at IS NULL AND owner_user_id IS NULL",
        (workspace_id,),
    )
    return {r[0] for r in found}


# --- silences --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SilenceRow:
    id: int
    matchers: list[str]
    starts_at: float
    ends_at: float
    author: str
    comment: str
    created_at: float
    expired_at: float | None
    group_id: int | None


_SILENCE_COLS = "id, matchers, starts_at, ends_at, author, comment, created_at, expired_at, group_id"


def _silence(r: Row) -> SilenceRow:
    return SilenceRow(r[0], orjson.loads(r[1]), *r[2:])


def insert_silence(
    conn: apsw.Connection,
    workspace_id: int,
    matchers: list[str],
    starts_at: float,
    ends_at: float,
    author: str,
    comment: str,
    now: float,
    group_id: int | None,
) -> int:
    conn.execute(
        "INSERT INTO silences(workspace_id, matchers, starts_at, ends_at, author, comment, created_at,"
        " group_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, _dumps(matchers), starts_at, ends_at, author, comment, now, group_id),
    )
    return conn.last_insert_rowid()


def silence(conn: apsw.Connection, workspace_id: int, silence_id: int) -> SilenceRow | None:
    r = one(
        conn,
        f"SELECT {_SILENCE_COLS} FROM silences WHERE id = ? AND workspace_id = ?",
        (silence_id, workspace_id),
    )
    return _silence(r) if r else None


def silences_of(
    conn: apsw.Connection, workspace_id: int, *, current_at: float | None = None, limit: int = 200
) -> list[SilenceRow]:
    """Newest first; with ``current_at``, only those not yet ended (active or pending)."""
    sql = f"SELECT {_SILENCE_COLS} FROM silences WHERE workspace_id = ?"
    params: tuple[Any, ...] = (workspace_id,)
    if current_at is not None:
        sql += " AND ends_at > ?"
        params += (current_at,)
    return [_silence(r) for r in rows(conn, sql + " ORDER BY id DESC LIMIT ?", (*params, limit))]


def update_silence(
    conn: apsw.Connection,
    workspace_id: int,
    silence_id: int,
    matchers: list[str],
    starts_at: float,
    ends_at: float,
    comment: str,
) -> None:
    conn.execute(
        "UPDATE silences SET matchers = ?, starts_at = ?, ends_at = ?, comment = ?"
        " WHERE id = ? AND workspace_id = ?",
        (_dumps(matchers), starts_at, ends_at, comment, silence_id, workspace_id),
    )


def expire_silence(conn: apsw.Connection, workspace_id: int, silence_id: int, now: float) -> bool:
    """End a silence now; False if it had already ended."""
    conn.execute(
        "UPDATE silences SET ends_at = ?, expired_at = ? WHERE id = ? AND workspace_id = ? AND ends_at > ?",
        (now, now, silence_id, workspace_id, now),
    )
    return conn.changes() > 0


# --- maintenance windows and inhibit rules --------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowRow:
    id: int
    name: str
    integrations: list[int]
    matchers: list[str]
    starts_at: float | None
    ends_at: float | None
    weekly: dict[str, Any] | None
    updated_at: float


_WINDOW_COLS = "id, name, integrations, matchers, starts_at, ends_at, weekly, updated_at"


def _window(r: Row) -> WindowRow:
    return WindowRow(
        r[0],
        r[1],
        orjson.loads(r[2]),
        orjson.loads(r[3]),
        r[4],
        r[5],
        orjson.loads(r[6]) if r[6] else None,
        r[7],
    )


def windows_of(conn: apsw.Connection, workspace_id: int) -> list[WindowRow]:
    found = rows(
        conn,
        f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE workspace_id = ? ORDER BY id",
        (workspace_id,),
    )
    return [_window(r) for r in found]


def window(conn: apsw.Connection, workspace_id: int, window_id: int) -> WindowRow | None:
    r = one(
        conn,
        f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE id = ? AND workspace_id = ?",
        (window_id, workspace_id),
    )
    return _window(r) if r else None


def save_window(
    conn: apsw.Connection,
    workspace_id: int,
    window_id: int | None,
    name: str,
    integrations: list[int],
    matchers: list[str],
    starts_at: float | None,
    ends_at: float | None,
    weekly: dict[str, Any] | None,
    now: float,
) -> int:
    """Insert (``window_id`` None) or update; returns the id."""
    values = (
        name,
        _dumps(integrations),
        _dumps(matchers),
        starts_at,
        ends_at,
        _dumps(weekly) if weekly is not None else None,
        now,
    )
    if window_id is None:
        conn.execute(
            "INSERT INTO maintenance_windows(name, integrations, matchers, starts_at, ends_at, weekly,"
            " updated_at, workspace_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, workspace_id, now),
        )
        return conn.last_insert_rowid()
    conn.execute(
        "UPDATE maintenance_windows SET name = ?, integrations = ?, matchers = ?, starts_at = ?, ends_at = ?,"
        " weekly = ?, updated_at = ? WHERE id = ? AND workspace_id = ?",
        (*values, window_id, workspace_id),
    )
    return window_id


def delete_window(conn: apsw.Connection, workspace_id: int, window_id: int) -> bool:
    conn.execute(
        "DELETE FROM maintenance_windows WHERE id = ? AND workspace_id = ?", (window_id, workspace_id)
    )
    return conn.changes() > 0


@dataclass(frozen=True, slots=True)
class InhibitRow:
    id: int
    name: str
    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str]
    updated_at: float


_INHIBIT_COLS = "id, name, source_matchers, target_matchers, equal, updated_at"


def _inhibit(r: Row) -> InhibitRow:
    return InhibitRow(r[0], r[1], orjson.loads(r[2]), orjson.loads(r[3]), orjson.loads(r[4]), r[5])


def inhibit_rules_of(conn: apsw.Connection, workspace_id: int) -> list[InhibitRow]:
    found = rows(
        conn, f"SELECT {_INHIBIT_COLS} FROM inhibit_rules WHERE workspace_id = ? ORDER BY id", (workspace_id,)
    )
    return [_inhibit(r) for r in found]


def inhibit_rule(conn: apsw.Connection, workspace_id: int, rule_id: int) -> InhibitRow | None:
    r = one(
        conn,
        f"SELECT {_INHIBIT_COLS} FROM inhibit_rules WHERE id = ? AND workspace_id = ?",
        (rule_id, workspace_id),
    )
    return _inhibit(r) if r else None


def save_inhibit_rule(
    conn: apsw.Connection,
    workspace_id: int,
    rule_id: int | None,
    name: str,
    source: list[str],
    target: list[str],
    equal: list[str],
    now: float,
) -> int:
    values = (name, _dumps(source), _dumps(target), _dumps(equal), now)
    if rule_id is None:
        conn.execute(
            "INSERT INTO inhibit_rules(name, source_matchers, target_matchers, equal, updated_at,"
            " workspace_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*values, workspace_id, now),
        )
        return conn.last_insert_rowid()
    conn.execute(
        "UPDATE inhibit_rules SET name = ?, source_matchers = ?, target_matchers = ?, equal = ?,"
        " updated_at = ? WHERE id = ? AND workspace_id = ?",
        (*values, rule_id, workspace_id),
    )
    return rule_id


def delete_inhibit_rule(conn: apsw.Connection, workspace_id: int, rule_id: int) -> bool:
    conn.execute("DELETE FROM inhibit_rules WHERE id = ? AND workspace_id = ?", (rule_id, workspace_id))
    return conn.changes() > 0


# --- what routing reads about alerts -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventToRoute:
    id: int
    group_id: int
    alert_id: int | None
    kind: str


def events_to_route(conn: apsw.Connection, workspace_id: int, event_ids: list[int]) -> list[EventToRoute]:
    if not event_ids:
        return []
    marks = ", ".join("?" * len(event_ids))
    found = rows(
        conn,
        f"SELECT id, group_id, alert_id, kind FROM alert_events WHERE workspace_id = ? AND id IN ({marks})"
        " ORDER BY id",
        (workspace_id, *event_ids),
    )
    return [EventToRoute(*r) for r in found]


def alert_after_event(conn: apsw.Connection, group_id: int, event_id: int) -> int | None:
    """The alert of the group's first event after ``event_id`` that names one: for a
    ``reopened`` event, the alert whose arrival reopened the group (recorded right after it)."""
    value = scalar(
        conn,
        "SELECT alert_id FROM alert_events WHERE group_id = ? AND id > ? AND alert_id IS NOT NULL"
        " ORDER BY id LIMIT 1",
        (group_id, event_id),
    )
    return None if value is None else int(value)


def firing_labels(
    conn: apsw.Connection, workspace_id: int, except_alert_id: int, limit: int = 5000
) -> list[dict[str, str]]:
    """Labels of the workspace's unresolved alerts (inhibition sources), newest first."""
    found = rows(
        conn,
        "SELECT labels FROM alerts WHERE workspace_id = ? AND status <> 'resolved' AND id <> ?"
        " ORDER BY id DESC LIMIT ?",
        (workspace_id, except_alert_id, limit),
    )
    return [orjson.loads(r[0]) for r in found]


# --- the router's sweep ------------------------------------------------------------------

# Event kinds routing acts on (see signalcraft.routing.apply): triggers, the group-level
# follow-ups ingest writes, and people's acknowledge/resolve (recorded without an alert).
_SWEPT = (
    "(kind IN ('created', 'reopened', 'group_acknowledged', 'group_resolved')"
    " OR (kind IN ('acknowledged', 'resolved') AND alert_id IS NULL))"
)


@dataclass(frozen=True, slots=True)
class EventsAfter:
    events: list[tuple[int, int]]  # (event id, workspace id), in id order
    last: int  # the cursor may move here: every event up to it was looked at


def routing_cursor(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT event_id FROM routing_cursor WHERE id = 1") or 0)


def move_routing_cursor(conn: apsw.Connection, event_id: int) -> None:
    conn.execute(
        "INSERT INTO routing_cursor(id, event_id) VALUES (1, ?)"
        " ON CONFLICT(id) DO UPDATE SET event_id = max(event_id, excluded.event_id)",
        (event_id,),
    )


def events_after(conn: apsw.Connection, after: int, limit: int) -> EventsAfter:
    """Up to ``limit`` events routing acts on with an id above ``after`` (a rowid range scan)."""
    found = [
        (int(r[0]), int(r[1]))
        for r in rows(
            conn,
            f"SELECT id, workspace_id FROM alert_events WHERE id > ? AND {_SWEPT} ORDER BY id LIMIT ?",
            (after, limit),
        )
    ]
    if len(found) == limit:
        return EventsAfter(found, found[-1][0])
    newest = scalar(conn, "SELECT max(id) FROM alert_events")
    return EventsAfter(found, max(after, int(newest or 0)))


# --- decisions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: int
    group_id: int
    alert_id: int | None
    event_id: int | None
    event_kind: str
    at: float
    matched_rules: list[int]
    used_default: bool
    notified_channels: list[int]
    escalation_policies: list[int]
    severity: str
    labels: dict[str, str]
    suppressed_reason: str | None
    suppressed_by: int | None
    dropped: bool
    note: str


_DECISION_COLS = (
    "id, group_id, alert_id, event_id, event_kind, at, matched_rules, used_default, notified_channels,"
    " escalation_policies, severity, labels, suppressed_reason, suppressed_by, dropped, note"
)


def _decision(r: Row) -> DecisionRow:
    return DecisionRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        orjson.loads(r[6]),
        bool(r[7]),
        orjson.loads(r[8]),
        orjson.loads(r[9]),
        r[10],
        orjson.loads(r[11]),
        r[12],
        r[13],
        bool(r[14]),
        r[15],
    )


def insert_decision(conn: apsw.Connection, workspace_id: int, d: DecisionRow) -> int:
    conn.execute(
        "INSERT INTO routing_decisions(workspace_id, group_id, alert_id, event_id, event_kind, at,"
        " matched_rules, used_default, notified_channels, escalation_policies, severity, labels,"
        " suppressed_reason, suppressed_by, dropped, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            workspace_id,
            d.group_id,
            d.alert_id,
            d.event_id,
            d.event_kind,
            d.at,
            _dumps(d.matched_rules),
            int(d.used_default),
            _dumps(d.notified_channels),
            _dumps(d.escalation_policies),
            d.severity,
            _dumps(d.labels),
            d.suppressed_reason,
            d.suppressed_by,
            int(d.dropped),
            d.note,
        ),
    )
    return conn.last_insert_rowid()


def decided(conn: apsw.Connection, event_id: int) -> bool:
    return one(conn, "SELECT 1 FROM routing_decisions WHERE event_id = ?", (event_id,)) is not None


def decisions_of_group(
    conn: apsw.Connection, workspace_id: int, group_id: int, limit: int = 200
) -> list[DecisionRow]:
    found = rows(
        conn,
        f"SELECT {_DECISION_COLS} FROM routing_decisions WHERE group_id = ? AND workspace_id = ?"
        " ORDER BY id LIMIT ?",
        (group_id, workspace_id, limit),
    )
    return [_decision(r) for r in found]


def trigger_channels(conn: apsw.Connection, group_id: int) -> list[int]:
    """The channels notified when the group last triggered (acks and resolves go to the same)."""
    value = scalar(
        conn,
        "SELECT notified_channels FROM routing_decisions WHERE group_id = ? AND event_kind = 'triggered'"
        " ORDER BY id DESC LIMIT 1",
        (group_id,),
    )
    return orjson.loads(value) if value else []


@dataclass(frozen=True, slots=True)
class AlertFactsRow:
    id: int
    group_id: int
    integration_id: int
    source: str
    severity: int
    title: str
    labels: dict[str, str]
    first_seen_at: float


_FACT_COLS = "id, group_id, integration_id, source, severity, title, labels, first_seen_at"


def alert_facts(conn: apsw.Connection, workspace_id: int, alert_id: int) -> AlertFactsRow | None:
    r = one(
        conn, f"SELECT {_FACT_COLS} FROM alerts WHERE id = ? AND workspace_id = ?", (alert_id, workspace_id)
    )
    return AlertFactsRow(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), r[7]) if r else None


def recent_alert_facts(conn: apsw.Connection, workspace_id: int, limit: int) -> list[AlertFactsRow]:
    found = rows(
        conn,
        f"SELECT {_FACT_COLS} FROM alerts WHERE workspace_id = ? ORDER BY id DESC LIMIT ?",
        (workspace_id, limit),
    )
    return [AlertFactsRow(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), r[7]) for r in found]
