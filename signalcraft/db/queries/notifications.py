"""The notification outbox, its attempt log, and the system alert group a broken channel raises.

Every state change of a notification is a compare-and-set on (id, status, lease_owner): the
caller checks the rowcount, so a worker whose lease expired cannot overwrite the outcome of
the worker that took over.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows, scalar

_COLS = (
    "id, workspace_id, channel_id, group_id, event_id, event_kind, idempotency_key, status, attempts,"
    " next_attempt_at, lease_until, lease_owner, provider_ref, created_at, delivered_at, last_error"
)


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: int
    workspace_id: int
    channel_id: int
    group_id: int | None
    event_id: int | None
    event_kind: str
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: float
    lease_until: float | None
    lease_owner: str | None
    provider_ref: str | None
    created_at: float
    delivered_at: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AttemptRow:
    notification_id: int
    at: float
    outcome: str
    status_code: int | None
    error: str
    duration_ms: int | None


def _notification(row: Row) -> NotificationRow:
    return NotificationRow(*row)


def insert(
    conn: apsw.Connection,
    *,
    workspace_id: int,
    channel_id: int,
    group_id: int | None,
    event_id: int | None,
    event_kind: str,
    idempotency_key: str,
    now: float,
) -> int:
    """Insert a pending row; an existing row with the same key is kept and its id returned."""
    conn.execute(
        "INSERT INTO notifications(workspace_id, channel_id, group_id, event_id, event_kind, idempotency_key,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(idempotency_key) DO NOTHING",
        (workspace_id, channel_id, group_id, event_id, event_kind, idempotency_key, now, now),
    )
    return int(scalar(conn, "SELECT id FROM notifications WHERE idempotency_key = ?", (idempotency_key,)))


def get(conn: apsw.Connection, notification_id: int) -> NotificationRow | None:
    row = one(conn, f"SELECT {_COLS} FROM notifications WHERE id = ?", (notification_id,))
    return _notification(row) if row else None


def claim(conn: apsw.Connection, notification_id: int, owner: str, now: float, lease_until: float) -> bool:
    conn.execute(
        "UPDATE notifications SET status = 'sending', lease_owner = ?, lease_until = ?,"
        " attempts = attempts + 1"
        " WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?",
        (owner, lease_until, notification_id, now),
    )
    return conn.changes() == 1


def set_delivered(
    conn: apsw.Connection, notification_id: int, owner: str, now: float, provider_ref: str | None
) -> bool:
    conn.execute(
        "UPDATE notifications SET status = 'delivered', delivered_at = ?,"
        " provider_ref = coalesce(?, provider_ref),"
        " lease_owner = NULL, lease_until = NULL, last_error = NULL"
        " WHERE id = ? AND status = 'sending' AND lease_owner = ?",
        (now, provider_ref, notification_id, owner),
    )
    return conn.changes() == 1


def set_pending(conn: apsw.Connection, notification_id: int, owner: str, next_at: float, error: str) -> bool:
    conn.execute(
        "UPDATE notifications SET status = 'pending', next_attempt_at = ?, last_error = ?,"
        " lease_owner = NULL,"
        " lease_until = NULL WHERE id = ? AND status = 'sending' AND lease_owner = ?",
        (next_at, error[:1000], notification_id, owner),
    )
    return conn.changes() == 1


def set_failed(conn: apsw.Connection, notification_id: int, owner: str, error: str) -> bool:
    conn.execute(
        "UPDATE notifications SET status = 'failed', last_error = ?, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ? AND status = 'sending' AND lease_owner = ?",
        (error[:1000], notification_id, owner),
    )
    return conn.changes() == 1


def release_expired(conn: apsw.Connection, notification_id: int, now: float) -> bool:
    """A lease that ran out (its worker died or hung) goes back to pending, due now."""
    conn.execute(
        "UPDATE notifications SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,"
        " lease_until = NULL,"
        " last_error = 'the worker did not finish in time (lease expired)'"
        " WHERE id = ? AND status = 'sending' AND lease_until < ?",
        (now, notification_id, now),
    )
    return conn.changes() == 1


def expired_leases(conn: apsw.Connection, now: float, limit: int = 500) -> list[int]:
    return [
        int(r[0])
        for r in rows(
            conn,
            "SELECT id FROM notifications WHERE status = 'sending' AND lease_until < ?"
            " ORDER BY lease_until LIMIT ?",
            (now, limit),
        )
    ]


def due(conn: apsw.Connection, now: float, limit: int = 500) -> list[int]:
    return [
        int(r[0])
        for r in rows(
            conn,
            "SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at LIMIT ?",
            (now, limit),
        )
    ]


def add_attempt(
    conn: apsw.Connection,
    notification_id: int,
    now: float,
    outcome: str,
    status_code: int | None,
    error: str,
    duration_ms: int | None,
) -> None:
    conn.execute(
        "INSERT INTO notification_attempts(notification_id, at, outcome, status_code, error, duration_ms)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (notification_id, now, outcome, status_code, error[:1000], duration_ms),
    )


def first_provider_ref(conn: apsw.Connection, channel_id: int, group_id: int) -> str | None:
    """The message to update: the first one delivered to this channel for this group."""
    value = scalar(
        conn,
        "SELECT provider_ref FROM notifications WHERE channel_id = ? AND group_id = ?"
        " AND status = 'delivered'"
        " AND provider_ref IS NOT NULL ORDER BY id LIMIT 1",
        (channel_id, group_id),
    )
    return None if value is None else str(value)


def for_group(
    conn: apsw.Connection, workspace_id: int, group_id: int, limit: int = 200
) -> list[NotificationRow]:
    return [
        _notification(r)
        for r in rows(
            conn,
            f"SELECT {_COLS} FROM notifications WHERE workspace_id = ? AND group_id = ? ORDER BY id LIMIT ?",
            (workspace_id, group_id, limit),
        )
    ]


def attempts_of(conn: apsw.Connection, notification_ids: list[int]) -> list[AttemptRow]:
    if not notification_ids:
        return []
    marks = ", ".join("?" * len(notification_ids))
    return [
        AttemptRow(*r)
        for r in rows(
            conn,
            "SELECT notification_id, at, outcome, status_code, error, duration_ms FROM notification_attempts"
            f" WHERE notification_id IN ({marks}) ORDER BY id",
            tuple(notification_ids),
        )
    ]


# --- the system alert group a broken channel raises --------------------------------------


def open_system_group(conn: apsw.Connection, workspace_id: int, group_key: str) -> int | None:
    value = scalar(
        conn,
        "SELECT id FROM alert_groups WHERE workspace_id = ? AND integration_id IS NULL AND group_key = ?"
        " AND status <> 'resolved' ORDER BY id DESC LIMIT 1",
        (workspace_id, group_key),
    )
    return None if value is None else int(value)


def insert_system_group(
    conn: apsw.Connection,
    workspace_id: int,
    group_key: str,
    severity: int,
    title: str,
    service: str,
    group_labels: dict[str, str],
    now: float,
) -> int:
    """An alert group that SignalCraft itself raises (no integration, no alerts: source 'signalcraft')."""
    conn.execute(
        "INSERT INTO alert_groups(workspace_id, integration_id, group_key, status, severity, title, source,"
        " service, group_labels, event_count, first_seen_at, last_seen_at)"
        " VALUES (?, NULL, ?, 'triggered', ?, ?, 'signalcraft', ?, ?, 1, ?, ?)",
        (workspace_id, group_key, severity, title, service, orjson.dumps(group_labels).decode(), now, now),
    )
    return conn.last_insert_rowid()


def touch_system_group(conn: apsw.Connection, group_id: int, now: float) -> None:
    conn.execute(
        "UPDATE alert_groups SET event_count = event_count + 1, last_seen_at = ? WHERE id = ?",
        (now, group_id),
    )


def last_per_channel(conn: apsw.Connection, workspace_id: int) -> dict[int, NotificationRow]:
    """The newest notification of each channel of the workspace (for "last delivery")."""
    found = rows(
        conn,
        f"SELECT {_COLS} FROM notifications WHERE id IN"
        " (SELECT max(id) FROM notifications WHERE workspace_id = ? GROUP BY channel_id)",
        (workspace_id,),
    )
    return {n.channel_id: n for n in map(_notification, found)}
