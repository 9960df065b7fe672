"""Alerts, alert groups, their timeline, raw payloads, deploys and the ingest log."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

import apsw
import orjson
import zstandard

from signalcraft.db.connection import Row, one, rows, scalar
from signalcraft.db.queries import alert_match
from signalcraft.pipeline.state import GroupCandidate

_ZSTD_LEVEL = 3
_per_thread = threading.local()


def compress(body: bytes) -> bytes:
    """zstd at level 3. A compressor is costly to create and not safe to share between
    threads, so each thread makes one and reuses it (the output is the same)."""
    compressor: zstandard.ZstdCompressor | None = getattr(_per_thread, "zstd", None)
    if compressor is None:
        compressor = _per_thread.zstd = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
    return compressor.compress(body)


def decompress(blob: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(blob)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- writes used by the pipeline --------------------------------------------------------


def insert_raw(
    conn: apsw.Connection,
    workspace_id: int,
    integration_id: int,
    now: float,
    content_type: str,
    size: int,
    compressed: bytes,
) -> int:
    conn.execute(
        "INSERT INTO raw_payloads(workspace_id, integration_id, received_at, content_type, size, body)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (workspace_id, integration_id, now, content_type[:100], size, compressed),
    )
    return conn.last_insert_rowid()


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    group_id: int
    status: str
    # The searchable columns as stored, so a duplicate that does not change them skips the
    # full-text re-index (see refresh_open_alert).
    title: str = ""
    description: str = ""
    labels: str = "{}"


def open_alert(conn: apsw.Connection, integration_id: int, fingerprint: str) -> OpenAlert | None:
    row = one(
        conn,
        "SELECT id, group_id, status, title, description, labels FROM alerts WHERE integration_id = ?"
        " AND fingerprint = ? AND status <> 'resolved'",
        (integration_id, fingerprint),
    )
    return OpenAlert(*row) if row else None


def newest_group(conn: apsw.Connection, integration_id: int, group_key: str) -> GroupCandidate | None:
    row = one(
        conn,
        "SELECT id, status, last_seen_at, resolved_at FROM alert_groups WHERE integration_id = ?"
        " AND group_key = ? ORDER BY id DESC LIMIT 1",
        (integration_id, group_key),
    )
    return GroupCandidate(*row) if row else None


def insert_group(
    conn: apsw.Connection,
    workspace_id: int,
    integration_id: int,
    group_key: str,
    severity: int,
    title: str,
    source: str,
    service: str,
    group_labels: dict[str, str],
    now: float,
) -> int:
    conn.execute(
        "INSERT INTO alert_groups(workspace_id, integration_id, group_key, status, severity, title, source,"
        " service, group_labels, first_seen_at, last_seen_at)"
        " VALUES (?, ?, ?, 'triggered', ?, ?, ?, ?, ?, ?, ?)",
        (
            workspace_id,
            integration_id,
            group_key,
            severity,
            title,
            source,
            service,
            dumps(group_labels),
            now,
            now,
        ),
    )
    return conn.last_insert_rowid()


def reopen_group(conn: apsw.Connection, group_id: int) -> None:
    conn.execute(
        "UPDATE alert_groups SET status = 'triggered', resolved_at = NULL, resolved_by = NULL,"
        " acknowledged_at = NULL, acknowledged_by = NULL WHERE id = ?",
        (group_id,),
    )


def insert_alert(
    conn: apsw.Connection,
    *,
    workspace_id: int,
    integration_id: int,
    group_id: int,
    fingerprint: str,
    status: str,
    severity: int,
    title: str,
    description: str,
    source: str,
    service: str,
    labels: str,
    annotations: str,
    links: str,
    stacktrace: str | None,
    occurred_at: float | None,
    now: float,
    raw_id: int | None,
) -> int:
    conn.execute(
        "INSERT INTO alerts(workspace_id, integration_id, group_id, fingerprint, status, severity, title,"
        " description, source, service, labels, annotations, links, stacktrace, occurred_at, first_seen_at,"
        " last_seen_at, raw_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            workspace_id,
            integration_id,
            group_id,
            fingerprint,
            status,
            severity,
            title,
            description,
            source,
            service,
            labels,
            annotations,
            links,
            stacktrace,
            occurred_at,
            now,
            now,
            raw_id,
        ),
    )
    conn.execute(
        "UPDATE alert_groups SET alert_count = alert_count + 1, firing_count = firing_count + 1,"
        " event_count = event_count + 1, last_seen_at = ?, severity = max(severity, ?) WHERE id = ?",
        (now, severity, group_id),
    )
    return conn.last_insert_rowid()


class Refresh(NamedTuple):
    """A firing re-send of an alert: what :func:`refresh_open_alerts` writes onto the open one
    (a tuple: made once per alert on the hot path)."""

    fingerprint: str
    severity: int
    title: str
    description: str
    labels: str
    annotations: str
    links: str
    stacktrace: str | None
    ends_at: float | None


def refresh_open_alerts(
    conn: apsw.Connection, integration_id: int, refreshes: list[Refresh], *, now: float, raw_id: int | None
) -> dict[str, OpenAlert]:
    """Firing duplicates of open alerts, by fingerprint (each at most once): count each and
    keep the latest payload's content (``ends_at`` too when the payload has one; see
    :func:`set_ends_at`). Returns the open alerts found, as they were, by fingerprint; a
    fingerprint with no open alert is absent, and nothing is written for it.

    One ``UPDATE ... RETURNING`` per alert finds and counts it (a re-sent alert is the common
    case), run by ``executemany`` so a request of fifty re-sends costs one call, not fifty.
    A group's counters are updated once per request, however many of its alerts came.

    Title, description and labels are written only when they differ from the stored ones:
    naming them in an UPDATE fires ``alerts_fts_update`` (a delete and an insert in the
    full-text index) even when the values are the same, and a re-sent alert (Prometheus
    re-sends every evaluation) almost never changes them.
    """
    found: dict[str, OpenAlert] = {}
    for fp, *row in conn.executemany(
        "UPDATE alerts SET event_count = event_count + 1, last_seen_at = ?, severity = ?, annotations = ?,"
        " links = ?, stacktrace = coalesce(?, stacktrace), raw_id = coalesce(?, raw_id),"
        " ends_at = coalesce(?, ends_at)"
        " WHERE integration_id = ? AND fingerprint = ? AND status <> 'resolved'"
        " RETURNING fingerprint, id, group_id, status, title, description, labels",
        [
            (
                now,
                r.severity,
                r.annotations,
                r.links,
                r.stacktrace,
                raw_id,
                r.ends_at,
                integration_id,
                r.fingerprint,
            )
            for r in refreshes
        ],
    ):
        found[fp] = OpenAlert(*row)
    if not found:
        return found
    changed = [
        (r.title, r.description, r.labels, alert.id)
        for r in refreshes
        if (alert := found.get(r.fingerprint)) is not None
        and (r.title, r.description, r.labels) != (alert.title, alert.description, alert.labels)
    ]
    if changed:
        conn.executemany("UPDATE alerts SET title = ?, description = ?, labels = ? WHERE id = ?", changed)
    per_group: dict[int, list[int]] = {}  # group id -> [re-sends, highest severity]
    for r in refreshes:
        alert = found.get(r.fingerprint)
        if alert is None:
            continue
        counts = per_group.get(alert.group_id)
        if counts is None:
            per_group[alert.group_id] = [1, r.severity]
        else:
            counts[0] += 1
            counts[1] = max(counts[1], r.severity)
    conn.executemany(
        "UPDATE alert_groups SET event_count = event_count + ?, last_seen_at = ?,"
        " severity = max(severity, ?) WHERE id = ?",
        [(n, now, severity, group_id) for group_id, (n, severity) in per_group.items()],
    )
    return found


def count_event(conn: apsw.Connection, alert_id: int, group_id: int, now: float, raw_id: int | None) -> None:
    conn.execute(
        "UPDATE alerts SET event_count = event_count + 1, last_seen_at = ?, raw_id = coalesce(?, raw_id)"
        " WHERE id = ?",
        (now, raw_id, alert_id),
    )
    conn.execute(
        "UPDATE alert_groups SET event_count = event_count + 1, last_seen_at = ? WHERE id = ?",
        (now, group_id),
    )


def set_alert_status(conn: apsw.Connection, alert_id: int, status: str, now: float) -> None:
    conn.execute(
        "UPDATE alerts SET status = ?, resolved_at = CASE WHEN ? = 'resolved' THEN ? ELSE resolved_at END"
        " WHERE id = ?",
        (status, status, now, alert_id),
    )


@dataclass(frozen=True, slots=True)
class GroupState:
    status: str
    firing_count: int
    unacknowledged: int


def group_state(conn: apsw.Connection, group_id: int) -> GroupState:
    row = one(
        conn,
        "SELECT g.status, (SELECT count(*) FROM alerts a WHERE a.group_id = g.id AND a.status <> 'resolved'),"
        " (SELECT count(*) FROM alerts a WHERE a.group_id = g.id AND a.status = 'firing')"
        " FROM alert_groups g WHERE g.id = ?",
        (group_id,),
    )
    assert row is not None
    return GroupState(row[0], row[1], row[2])


def set_group_status(
    conn: apsw.Connection, group_id: int, status: str, firing_count: int, now: float, actor: str
) -> None:
    conn.execute(
        "UPDATE alert_groups SET status = ?, firing_count = ?,"
        " resolved_at = CASE WHEN ? = 'resolved' THEN ? ELSE NULL END,"
        " resolved_by = CASE WHEN ? = 'resolved' THEN ? ELSE NULL END,"
        " acknowledged_at = CASE WHEN ? = 'acknowledged' AND acknowledged_at IS NULL THEN ?"
        "   ELSE acknowledged_at END,"
        " acknowledged_by = CASE WHEN ? = 'acknowledged' AND acknowledged_by IS NULL THEN ?"
        "   ELSE acknowledged_by END"
        " WHERE id = ?",
        (status, firing_count, status, now, status, actor, status, now, status, actor, group_id),
    )


def add_event(
    conn: apsw.Connection,
    workspace_id: int,
    group_id: int,
    alert_id: int | None,
    kind: str,
    now: float,
    actor: str = "",
    detail: dict[str, Any] | None = None,
) -> int:
    conn.execute(
        "INSERT INTO alert_events(workspace_id, group_id, alert_id, kind, at, actor, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, group_id, alert_id, kind, now, actor, dumps(detail or {})),
    )
    return conn.last_insert_rowid()


def insert_deploy(
    conn: apsw.Connection,
    workspace_id: int,
    integration_id: int,
    summary: str,
    source: str,
    component: str,
    occurred_at: float | None,
    now: float,
    details: str,
    links: str,
    raw_id: int | None,
) -> int:
    conn.execute(
        "INSERT INTO deploy_events(workspace_id, integration_id, summary, source, component, occurred_at,"
        " received_at, details, links, raw_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, integration_id, summary, source, component, occurred_at, now, details, links, raw_id),
    )
    return conn.last_insert_rowid()


def log_ingest(
    conn: apsw.Connection,
    request_id: str,
    workspace_id: int,
    integration_id: int,
    now: float,
    accepted: bool,
    message: str,
    alerts: int,
    action: str = "",
    alert_id: int | None = None,
    raw_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO ingest_log(request_id, workspace_id, integration_id, received_at, accepted, message,"
        " alerts, action, alert_id, raw_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request_id,
            workspace_id,
            integration_id,
            now,
            int(accepted),
            message[:500],
            alerts,
            action,
            alert_id,
            raw_id,
        ),
    )


def record_heartbeat(
    conn: apsw.Connection, workspace_id: int, integration_id: int, name: str, now: float
) -> None:
    conn.execute(
        "INSERT INTO heartbeat_pings(workspace_id, integration_id, name, last_ping_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(integration_id, name) DO UPDATE SET last_ping_at = excluded.last_ping_at,"
        " ping_count = ping_count + 1",
        (workspace_id, integration_id, name, now),
    )


def alert_fingerprint(conn: apsw.Connection, integration_id: int, alert_id: int) -> str | None:
    value = scalar(
        conn, "SELECT fingerprint FROM alerts WHERE id = ? AND integration_id = ?", (alert_id, integration_id)
    )
    return None if value is None else str(value)


# --- reads for the API and UI ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRow:
    id: int
    integration_id: int | None
    status: str
    severity: int
    title: str
    source: str
    service: str
    alert_count: int
    firing_count: int
    event_count: int
    first_seen_at: float
    last_seen_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    resolved_at: float | None
    resolved_by: str | None
    group_labels: dict[str, str]


_GROUP_COLS = (
    "id, integration_id, status, severity, title, source, service, alert_count, firing_count, event_count,"
    " first_seen_at, last_seen_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by,"
    " group_labels"
)


def _group(row: Row) -> GroupRow:
    return GroupRow(*row[:16], orjson.loads(row[16]))  # type: ignore[call-arg]  # columns = fields


def list_groups(
    conn: apsw.Connection,
    workspace_id: int,
    *,
    statuses: tuple[str, ...] = (),
    integration_id: int | None = None,
    before: tuple[float, int] | None = None,
    limit: int = 50,
    search: str = "",
) -> list[GroupRow]:
    """Newest activity first; ``before`` is the (last_seen_at, id) cursor of the previous page."""
    clauses, params = ["workspace_id = ?"], [workspace_id]
    if statuses:
        clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
        params.extend(statuses)  # type: ignore[arg-type]
    if integration_id is not None:
        clauses.append("integration_id = ?")
        params.append(integration_id)
    if before is not None:
        clauses.append("(last_seen_at, id) < (?, ?)")
        params.extend(before)  # type: ignore[arg-type]
    if search:
        clause, values = alert_match.search_clause(conn, workspace_id, search)
        clauses.append(clause)
        params.extend(values)  # type: ignore[arg-type]
    sql = (
        f"SELECT {_GROUP_COLS} FROM alert_groups WHERE {' AND '.join(clauses)}"
        " ORDER BY last_seen_at DESC, id DESC LIMIT ?"
    )
    return [_group(r) for r in rows(conn, sql, (*params, limit))]


def get_group(conn: apsw.Connection, workspace_id: int, group_id: int) -> GroupRow | None:
    row = one(
        conn,
        f"SELECT {_GROUP_COLS} FROM alert_groups WHERE id = ? AND workspace_id = ?",
        (group_id, workspace_id),
    )
    return _group(row) if row else None


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    group_id: int
    integration_id: int
    fingerprint: str
    status: str
    severity: int
    title: str
    description: str
    source: str
    service: str
    labels: dict[str, str]
    annotations: dict[str, str]
    links: list[dict[str, str]]
    stacktrace: dict[str, Any] | None
    occurred_at: float | None
    first_seen_at: float
    last_seen_at: float
    resolved_at: float | None
    event_count: int
    raw_id: int | None


_ALERT_COLS = (
    "id, group_id, integration_id, fingerprint, status, severity, title, description, source, service,"
    " labels, annotations, links, stacktrace, occurred_at, first_seen_at, last_seen_at, resolved_at,"
    " event_count, raw_id"
)


def _alert(row: Row) -> AlertRow:
    return AlertRow(  # type: ignore[call-arg]  # columns match the fields
        *row[:10],
        orjson.loads(row[10]),
        orjson.loads(row[11]),
        orjson.loads(row[12]),
        orjson.loads(row[13]) if row[13] else None,
        *row[14:],
    )


def alerts_of_group(
    conn: apsw.Connection, workspace_id: int, group_id: int, limit: int = 500
) -> list[AlertRow]:
    return [
        _alert(r)
        for r in rows(
            conn,
            f"SELECT {_ALERT_COLS} FROM alerts WHERE group_id = ? AND workspace_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (group_id, workspace_id, limit),
        )
    ]


def recent_alerts(conn: apsw.Connection, workspace_id: int, limit: int = 100) -> list[AlertRow]:
    return [
        _alert(r)
        for r in rows(
            conn,
            f"SELECT {_ALERT_COLS} FROM alerts WHERE workspace_id = ? ORDER BY id DESC LIMIT ?",
            (workspace_id, limit),
        )
    ]


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    alert_id: int | None
    kind: str
    at: float
    actor: str
    detail: dict[str, Any]


def events_of_group(conn: apsw.Connection, group_id: int, limit: int = 500) -> list[EventRow]:
    found = rows(
        conn,
        "SELECT id, alert_id, kind, at, actor, detail FROM alert_events WHERE group_id = ?"
        " ORDER BY id LIMIT ?",
        (group_id, limit),
    )
    return [EventRow(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5])) for r in found]


def raw_payload(conn: apsw.Connection, workspace_id: int, raw_id: int) -> bytes | None:
    blob = scalar(
        conn, "SELECT body FROM raw_payloads WHERE id = ? AND workspace_id = ?", (raw_id, workspace_id)
    )
    return decompress(blob) if blob is not None else None


@dataclass(frozen=True, slots=True)
class IngestLogRow:
    request_id: str
    integration_id: int
    received_at: float
    accepted: bool
    message: str
    alerts: int
    action: str
    alert_id: int | None
    raw_id: int | None


def ingest_request(conn: apsw.Connection, workspace_id: int, request_id: str) -> IngestLogRow | None:
    row = one(
        conn,
        "SELECT request_id, integration_id, received_at, accepted, message, alerts, action, alert_id,"
        " raw_id FROM ingest_log WHERE request_id = ? AND workspace_id = ?",
        (request_id, workspace_id),
    )
    return IngestLogRow(row[0], row[1], row[2], bool(row[3]), *row[4:]) if row else None


def ingest_log_of(conn: apsw.Connection, integration_id: int, limit: int = 20) -> list[IngestLogRow]:
    found = rows(
        conn,
        "SELECT request_id, integration_id, received_at, accepted, message, alerts, action, alert_id,"
        " raw_id FROM ingest_log WHERE integration_id = ? ORDER BY id DESC LIMIT ?",
        (integration_id, limit),
    )
    return [IngestLogRow(r[0], r[1], r[2], bool(r[3]), *r[4:]) for r in found]


def deploys(conn: apsw.Connection, workspace_id: int, limit: int = 50) -> list[Row]:
    return rows(
        conn,
        "SELECT id, integration_id, summary, source, component, occurred_at, received_at, details,"
        " links FROM deploy_events WHERE workspace_id = ? ORDER BY id DESC LIMIT ?",
        (workspace_id, limit),
    )


def set_ends_at(conn: apsw.Connection, alert_id: int, ends_at: float) -> None:
    conn.execute("UPDATE alerts SET ends_at = ? WHERE id = ?", (ends_at, alert_id))


def alerts_past_ends_at(conn: apsw.Connection, now: float, limit: int = 500) -> list[tuple[int, str]]:
    """(integration id, fingerprint) of open alerts whose ``ends_at`` has passed."""
    found = rows(
        conn,
        "SELECT integration_id, fingerprint FROM alerts WHERE status <> 'resolved' AND ends_at IS NOT NULL"
        " AND ends_at <= ? ORDER BY ends_at LIMIT ?",
        (now, limit),
    )
    return [(int(r[0]), str(r[1])) for r in found]
