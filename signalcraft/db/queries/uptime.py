"""Uptime monitors, their state, events, packed samples, rollups, pings and status pages.

An HTTP monitor's request header values and body are secrets: a write seals whatever it is
given (signalcraft.db.queries.monitor_secrets), :attr:`MonitorRow.settings` holds the sealed
values, and only :func:`opened` opens them, for the probe engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows, scalar
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries.monitor_secrets import (
    SEAL_BINDING,
    opened,
    replace_secret_values,
    sealed_settings,
    secret_rows_after,
    secret_values,
    with_secret_values,
)

__all__ = ["SEAL_BINDING", "opened", "replace_secret_values", "secret_rows_after"]  # re-exported

_COLS = (
    "id, workspace_id, public_id, kind, name, slug, ping_key, settings, interval_seconds, timeout_seconds,"
    " failures_before_down, successes_before_up, paused, created_at, updated_at, status, status_since,"
    " fail_streak, ok_streak, alert_open, flapping, recent_changes, last_check_at, last_latency_ms,"
    " last_message, cert_expires_at, cert_alert_open, last_ping_at, started_at, last_duration"
)


@dataclass(frozen=True, slots=True)
class MonitorRow:
    id: int
    workspace_id: int
    public_id: str
    kind: str
    name: str
    slug: str | None
    ping_key: str | None
    settings: dict[str, Any]
    interval_seconds: int
    timeout_seconds: int
    failures_before_down: int
    successes_before_up: int
    paused: bool
    created_at: float
    updated_at: float
    status: str
    status_since: float | None
    fail_streak: int
    ok_streak: int
    alert_open: bool
    flapping: bool
    recent_changes: tuple[float, ...]
    last_check_at: float | None
    last_latency_ms: int | None
    last_message: str
    cert_expires_at: float | None
    cert_alert_open: bool
    last_ping_at: float | None
    started_at: float | None
    last_duration: float | None


def _monitor(r: Row) -> MonitorRow:
    return MonitorRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        orjson.loads(r[7]),
        r[8],
        r[9],
        r[10],
        r[11],
        bool(r[12]),
        r[13],
        r[14],
        r[15],
        r[16],
        r[17],
        r[18],
        bool(r[19]),
        bool(r[20]),
        tuple(orjson.loads(r[21])),
        r[22],
        r[23],
        r[24],
        r[25],
        bool(r[26]),
        r[27],
        r[28],
        r[29],
    )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- monitors ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonitorValues:
    kind: str
    name: str
    settings: dict[str, Any]
    interval_seconds: int
    timeout_seconds: int
    failures_before_down: int
    successes_before_up: int


def insert_monitor(
    conn: apsw.Connection,
    workspace_id: int,
    v: MonitorValues,
    public_id: str,
    ping_key: str | None,
    slug: str | None,
    now: float,
) -> int:
    conn.execute(
        "INSERT INTO monitors(workspace_id, public_id, kind, name, slug, ping_key, settings,"
        " interval_seconds, timeout_seconds, failures_before_down, successes_before_up, created_at,"
        " updated_at, status_since)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            workspace_id,
            public_id,
            v.kind,
            v.name,
            slug,
            ping_key,
            dumps(with_secret_values(v.settings, {})),  # sealed below: the row id is part of the seal
            v.interval_seconds,
            v.timeout_seconds,
            v.failures_before_down,
            v.successes_before_up,
            now,
            now,
            now,
        ),
    )
    monitor_id = conn.last_insert_rowid()
    if secret_values(v.settings):
        sealed = sealed_settings(conn, workspace_id, monitor_id, v.settings, now)
        conn.execute("UPDATE monitors SET settings = ? WHERE id = ?", (dumps(sealed), monitor_id))
    add_event(conn, monitor_id, now, "pending", "created")
    return monitor_id


def update_monitor(conn: apsw.Connection, monitor_id: int, v: MonitorValues, now: float) -> None:
    """A value equal to the sealed one stored under its key stays as it is; others are sealed."""
    row = one(conn, "SELECT workspace_id, settings FROM monitors WHERE id = ?", (monitor_id,))
    assert row is not None, monitor_id
    settings = sealed_settings(conn, row[0], monitor_id, v.settings, now, orjson.loads(row[1]))
    conn.execute(
        "UPDATE monitors SET name = ?, settings = ?, interval_seconds = ?, timeout_seconds = ?,"
        " failures_before_down = ?, successes_before_up = ?, updated_at = ? WHERE id = ?",
        (
            v.name,
            dumps(settings),
            v.interval_seconds,
            v.timeout_seconds,
            v.failures_before_down,
            v.successes_before_up,
            now,
            monitor_id,
        ),
    )


def get_monitor(conn: apsw.Connection, workspace_id: int, monitor_id: int) -> MonitorRow | None:
    row = one(
        conn, f"SELECT {_COLS} FROM monitors WHERE id = ? AND workspace_id = ?", (monitor_id, workspace_id)
    )
    return _monitor(row) if row else None


def monitor_by_id(conn: apsw.Connection, monitor_id: int) -> MonitorRow | None:
    row = one(conn, f"SELECT {_COLS} FROM monitors WHERE id = ?", (monitor_id,))
    return _monitor(row) if row else None


def monitor_by(conn: apsw.Connection, column: str, value: str) -> MonitorRow | None:
    """By ``ping_key`` or ``public_id`` (both unique)."""
    assert column in ("ping_key", "public_id")
    row = one(conn, f"SELECT {_COLS} FROM monitors WHERE {column} = ?", (value,))
    return _monitor(row) if row else None


def monitor_by_slug(conn: apsw.Connection, workspace_id: int, slug: str) -> MonitorRow | None:
    row = one(conn, f"SELECT {_COLS} FROM monitors WHERE workspace_id = ? AND slug = ?", (workspace_id, slug))
    return _monitor(row) if row else None


def list_monitors(conn: apsw.Connection, workspace_id: int) -> list[MonitorRow]:
    return [
        _monitor(r)
        for r in rows(
            conn, f"SELECT {_COLS} FROM monitors WHERE workspace_id = ? ORDER BY name, id", (workspace_id,)
        )
    ]


def monitors_of_kind(conn: apsw.Connection, probes: bool) -> list[MonitorRow]:
    """Every unpaused probe (``probes``) or heartbeat monitor, across workspaces."""
    op = "<>" if probes else "="
    return [
        _monitor(r)
        for r in rows(conn, f"SELECT {_COLS} FROM monitors WHERE kind {op} 'heartbeat' AND paused = 0")
    ]


def monitors_version(conn: apsw.Connection) -> tuple[int, float]:
    """Changes when a monitor is added, edited, paused or deleted: the engine reloads then."""
    row = one(conn, "SELECT count(*), coalesce(max(updated_at), 0) + coalesce(sum(id), 0) FROM monitors")
    assert row is not None
    return int(row[0]), float(row[1])


def delete_monitor(conn: apsw.Connection, monitor_id: int) -> None:
    conn.execute("DELETE FROM monitors WHERE id = ?", (monitor_id,))


def set_paused(conn: apsw.Connection, monitor_id: int, paused: bool, now: float) -> None:
    conn.execute(
        "UPDATE monitors SET paused = ?, updated_at = ? WHERE id = ?", (int(paused), now, monitor_id)
    )


@dataclass(frozen=True, slots=True)
class StateUpdate:
    status: str
    status_since: float | None
    fail_streak: int
    ok_streak: int
    alert_open: bool
    flapping: bool
    recent_changes: tuple[float, ...]


def save_state(conn: apsw.Connection, monitor_id: int, s: StateUpdate) -> None:
    conn.execute(
        "UPDATE monitors SET status = ?, status_since = ?, fail_streak = ?, ok_streak = ?, alert_open = ?,"
        " flapping = ?, recent_changes = ? WHERE id = ?",
        (
            s.status,
            s.status_since,
            s.fail_streak,
            s.ok_streak,
            int(s.alert_open),
            int(s.flapping),
            dumps(list(s.recent_changes)),
            monitor_id,
        ),
    )


def save_check(
    conn: apsw.Connection,
    monitor_id: int,
    at: float,
    latency_ms: int,
    message: str,
    cert_expires_at: float | None,
    cert_alert_open: bool,
) -> None:
    conn.execute(
        "UPDATE monitors SET last_check_at = ?, last_latency_ms = ?, last_message = ?,"
        " cert_expires_at = coalesce(?, cert_expires_at), cert_alert_open = ? WHERE id = ?",
        (at, latency_ms, message, cert_expires_at, int(cert_alert_open), monitor_id),
    )


def save_heartbeat(
    conn: apsw.Connection,
    monitor_id: int,
    *,
    last_ping_at: float | None,
    started_at: float | None,
    last_duration: float | None,
    message: str,
) -> None:
    conn.execute(
        "UPDATE monitors SET last_ping_at = ?, started_at = ?, last_duration = ?, last_message = ?"
        " WHERE id = ?",
        (last_ping_at, started_at, last_duration, message, monitor_id),
    )


def set_slug_settings(conn: apsw.Connection, monitor_id: int, settings: dict[str, Any], now: float) -> None:
    conn.execute(
        "UPDATE monitors SET settings = ?, updated_at = ? WHERE id = ?", (dumps(settings), now, monitor_id)
    )


# --- state changes ------------------------------------------------------------------------------


def add_event(conn: apsw.Connection, monitor_id: int, at: float, status: str, message: str = "") -> None:
    conn.execute(
        "INSERT INTO monitor_events(monitor_id, at, status, message) VALUES (?, ?, ?, ?)",
        (monitor_id, at, status, message[:500]),
    )


@dataclass(frozen=True, slots=True)
class EventRow:
    monitor_id: int
    at: float
    status: str
    message: str


def events_since(conn: apsw.Connection, monitor_ids: Sequence[int], since: float) -> list[EventRow]:
    """State changes at or after ``since`` of the given monitors, oldest first."""
    if not monitor_ids:
        return []
    marks = ",".join("?" * len(monitor_ids))
    return [
        EventRow(*r)
        for r in rows(
            conn,
            f"SELECT monitor_id, at, status, message FROM monitor_events WHERE monitor_id IN ({marks})"
            " AND at >= ? ORDER BY monitor_id, at, id",
            (*monitor_ids, since),
        )
    ]


def status_before(conn: apsw.Connection, monitor_ids: Sequence[int], before: float) -> dict[int, str]:
    """Each monitor's state just before ``before`` (absent when it had none yet)."""
    found: dict[int, str] = {}
    for monitor_id in monitor_ids:
        status = scalar(
            conn,
            "SELECT status FROM monitor_events WHERE monitor_id = ? AND at < ?"
            " ORDER BY at DESC, id DESC LIMIT 1",
            (monitor_id, before),
        )
        if status is not None:
            found[monitor_id] = status
    return found


def workspace_events_since(conn: apsw.Connection, workspace_id: int, since: float) -> list[EventRow]:
    """:func:`events_since` for every monitor of a workspace (one index walk per monitor)."""
    return [
        EventRow(*r)
        for r in rows(
            conn,
            "SELECT e.monitor_id, e.at, e.status, e.message FROM monitors m JOIN monitor_events e"
            " ON e.monitor_id = m.id AND e.at >= ? WHERE m.workspace_id = ?"
            " ORDER BY e.monitor_id, e.at, e.id",
            (since, workspace_id),
        )
    ]


def workspace_status_before(conn: apsw.Connection, workspace_id: int, before: float) -> dict[int, str]:
    """:func:`status_before` for every monitor of a workspace, in one query."""
    return {
        r[0]: r[1]
        for r in rows(
            conn,
            "SELECT m.id, (SELECT status FROM monitor_events e WHERE e.monitor_id = m.id AND e.at < ?"
            " ORDER BY e.at DESC, e.id DESC LIMIT 1) FROM monitors m WHERE m.workspace_id = ?",
            (before, workspace_id),
        )
        if r[1] is not None
    }


def recent_events(conn: apsw.Connection, monitor_id: int, limit: int = 50) -> list[EventRow]:
    return [
        EventRow(*r)
        for r in rows(
            conn,
            "SELECT monitor_id, at, status, message FROM monitor_events WHERE monitor_id = ?"
            " ORDER BY at DESC, id DESC LIMIT ?",
            (monitor_id, limit),
        )
    ]


# --- samples and rollups ------------------------------------------------------------------------


def append_sample(conn: apsw.Connection, monitor_id: int, hour: int, packed: bytes) -> None:
    conn.execute(
        "INSERT INTO monitor_samples(monitor_id, hour, data) VALUES (?, ?, ?)"
        # || yields TEXT even for two BLOBs; the cast gives the same bytes back as a BLOB
        " ON CONFLICT(monitor_id, hour) DO UPDATE SET data = CAST(data || excluded.data AS BLOB)",
        (monitor_id, hour, packed),
    )


def samples_since(conn: apsw.Connection, monitor_id: int, since_hour: int) -> list[tuple[int, bytes]]:
    return [
        (r[0], bytes(r[1]))
        for r in rows(
            conn,
            "SELECT hour, data FROM monitor_samples WHERE monitor_id = ? AND hour >= ? ORDER BY hour",
            (monitor_id, since_hour),
        )
    ]


def hours_to_roll_up(
    conn: apsw.Connection, since_hour: int, before_hour: int
) -> list[tuple[int, int, bytes]]:
    """(monitor, hour, samples) of closed hours without a rollup yet."""
    return [
        (r[0], r[1], bytes(r[2]))
        for r in rows(
            conn,
            "SELECT s.monitor_id, s.hour, s.data FROM monitor_samples s LEFT JOIN monitor_rollups r"
            " ON r.monitor_id = s.monitor_id AND r.hour = s.hour"
            " WHERE s.hour >= ? AND s.hour < ? AND r.monitor_id IS NULL",
            (since_hour, before_hour),
        )
    ]


def save_rollups(
    conn: apsw.Connection, found: Iterable[tuple[int, int, int, int, int | None, int | None]]
) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO monitor_rollups(monitor_id, hour, checks, failures, p50_ms, p95_ms)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        list(found),
    )


@dataclass(frozen=True, slots=True)
class RollupRow:
    monitor_id: int
    hour: int
    checks: int
    failures: int
    p50_ms: int | None
    p95_ms: int | None


def rollups_since(conn: apsw.Connection, monitor_ids: Sequence[int], since_hour: int) -> list[RollupRow]:
    if not monitor_ids:
        return []
    marks = ",".join("?" * len(monitor_ids))
    return [
        RollupRow(*r)
        for r in rows(
            conn,
            "SELECT monitor_id, hour, checks, failures, p50_ms, p95_ms FROM monitor_rollups"
            f" WHERE monitor_id IN ({marks}) AND hour >= ? ORDER BY monitor_id, hour",
            (*monitor_ids, since_hour),
        )
    ]


def workspace_hourly_p50(
    conn: apsw.Connection, workspace_id: int, since_hour: int
) -> list[tuple[int, int, int | None]]:
    """(monitor, hour, p50) of every monitor of a workspace since ``since_hour``: sparklines."""
    return [
        (r[0], r[1], r[2])
        for r in rows(
            conn,
            "SELECT r.monitor_id, r.hour, r.p50_ms FROM monitors m JOIN monitor_rollups r"
            " ON r.monitor_id = m.id AND r.hour >= ? WHERE m.workspace_id = ?",
            (since_hour, workspace_id),
        )
    ]


def prune(
    conn: apsw.Connection,
    monitor_id: int,
    samples_before_hour: int,
    rollups_before_hour: int,
    events_before: float,
) -> None:
    """Retention of one monitor's results (by primary key ranges: cheap)."""
    conn.execute(
        "DELETE FROM monitor_samples WHERE monitor_id = ? AND hour < ?", (monitor_id, samples_before_hour)
    )
    conn.execute(
        "DELETE FROM monitor_rollups WHERE monitor_id = ? AND hour < ?", (monitor_id, rollups_before_hour)
    )
    # The latest change before the cut stays: it is the state the window starts in.
    conn.execute(
        "DELETE FROM monitor_events WHERE monitor_id = ? AND at < ? AND id < (SELECT max(id)"
        " FROM monitor_events WHERE monitor_id = ? AND at < ?)",
        (monitor_id, events_before, monitor_id, events_before),
    )


def all_monitor_ids(conn: apsw.Connection) -> list[int]:
    return [int(r[0]) for r in rows(conn, "SELECT id FROM monitors")]


# --- heartbeat pings ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PingRow:
    id: int
    at: float
    kind: str
    exit_status: int | None
    duration: float | None
    source: str
    remote: str
    message: str
    body: bytes | None
    body_size: int


def insert_ping(
    conn: apsw.Connection,
    monitor_id: int,
    at: float,
    kind: str,
    *,
    exit_status: int | None,
    duration: float | None,
    source: str,
    remote: str,
    message: str,
    body: bytes | None,
    body_size: int,
    keep: int,
) -> None:
    conn.execute(
        "INSERT INTO monitor_pings(monitor_id, at, kind, exit_status, duration, source, remote, message,"
        " body, body_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (monitor_id, at, kind, exit_status, duration, source, remote[:64], message[:500], body, body_size),
    )
    conn.execute(
        "DELETE FROM monitor_pings WHERE monitor_id = ? AND id <= (SELECT id FROM monitor_pings"
        " WHERE monitor_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (monitor_id, monitor_id, keep),
    )


def pings_of(conn: apsw.Connection, monitor_id: int, limit: int = 50) -> list[PingRow]:
    return [
        PingRow(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bytes(r[8]) if r[8] is not None else None, r[9]
        )
        for r in rows(
            conn,
            "SELECT id, at, kind, exit_status, duration, source, remote, message, body, body_size"
            " FROM monitor_pings WHERE monitor_id = ? ORDER BY id DESC LIMIT ?",
            (monitor_id, limit),
        )
    ]


# --- the internal integration alerts of monitors come from ---------------------------------------


def uptime_integration(conn: apsw.Connection, workspace_id: int) -> iq.Integration | None:
    found = scalar(
        conn,
        "SELECT id FROM integrations WHERE workspace_id = ? AND type = 'uptime'"
        " AND revoked_at IS NULL ORDER BY id LIMIT 1",
        (workspace_id,),
    )
    return None if found is None else iq.get(conn, workspace_id, int(found))


# --- status pages -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusPageRow:
    workspace_id: int
    enabled: bool
    title: str
    logo: bytes | None
    logo_type: str


@dataclass(frozen=True, slots=True)
class PageMonitorRow:
    monitor_id: int
    public_name: str
    position: int


@dataclass(frozen=True, slots=True)
class NoteRow:
    id: int
    kind: str
    title: str
    body: str
    starts_at: float
    ends_at: float | None


def status_page(conn: apsw.Connection, workspace_id: int) -> StatusPageRow:
    row = one(
        conn,
        "SELECT workspace_id, enabled, title, logo, logo_type FROM status_pages WHERE workspace_id = ?",
        (workspace_id,),
    )
    if row is None:
        return StatusPageRow(workspace_id, False, "", None, "")
    return StatusPageRow(row[0], bool(row[1]), row[2], bytes(row[3]) if row[3] is not None else None, row[4])


def save_status_page(conn: apsw.Connection, workspace_id: int, enabled: bool, title: str, now: float) -> None:
    conn.execute(
        "INSERT INTO status_pages(workspace_id, enabled, title, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(workspace_id) DO UPDATE SET enabled = excluded.enabled, title = excluded.title,"
        " updated_at = excluded.updated_at",
        (workspace_id, int(enabled), title, now),
    )


def save_logo(conn: apsw.Connection, workspace_id: int, logo: bytes | None, logo_type: str) -> None:
    conn.execute(
        "UPDATE status_pages SET logo = ?, logo_type = ? WHERE workspace_id = ?",
        (logo, logo_type, workspace_id),
    )


def page_monitors(conn: apsw.Connection, workspace_id: int) -> list[PageMonitorRow]:
    return [
        PageMonitorRow(*r)
        for r in rows(
            conn,
            "SELECT monitor_id, public_name, position FROM status_page_monitors WHERE workspace_id = ?"
            " ORDER BY position, public_name",
            (workspace_id,),
        )
    ]


def set_page_monitors(conn: apsw.Connection, workspace_id: int, chosen: Sequence[tuple[int, str]]) -> None:
    conn.execute("DELETE FROM status_page_monitors WHERE workspace_id = ?", (workspace_id,))
    conn.executemany(
        "INSERT INTO status_page_monitors(workspace_id, monitor_id, public_name, position)"
        " SELECT ?, id, ?, ? FROM monitors WHERE id = ? AND workspace_id = ?",
        [(workspace_id, name, i, monitor_id, workspace_id) for i, (monitor_id, name) in enumerate(chosen)],
    )


def notes(conn: apsw.Connection, workspace_id: int, *, ending_after: float | None = None) -> list[NoteRow]:
    where, params = "workspace_id = ?", [workspace_id]
    if ending_after is not None:
        where += " AND (ends_at IS NULL OR ends_at > ?)"
        params.append(ending_after)  # type: ignore[arg-type]
    return [
        NoteRow(*r)
        for r in rows(
            conn,
            f"SELECT id, kind, title, body, starts_at, ends_at FROM status_page_notes WHERE {where}"
            " ORDER BY starts_at DESC, id DESC LIMIT 100",
            tuple(params),
        )
    ]


def add_note(
    conn: apsw.Connection,
    workspace_id: int,
    kind: str,
    title: str,
    body: str,
    starts_at: float,
    ends_at: float | None,
    now: float,
) -> int:
    conn.execute(
        "INSERT INTO status_page_notes(workspace_id, kind, title, body, starts_at, ends_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, kind, title, body, starts_at, ends_at, now),
    )
    return conn.last_insert_rowid()


def delete_note(conn: apsw.Connection, workspace_id: int, note_id: int) -> bool:
    conn.execute("DELETE FROM status_page_notes WHERE id = ? AND workspace_id = ?", (note_id, workspace_id))
    return conn.changes() > 0
