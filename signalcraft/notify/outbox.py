"""The notification outbox: the source of truth for what must be delivered.

A row is written by :func:`enqueue` inside the caller's write transaction (with the event
that causes it), before anything is sent. A worker :func:`claim`\\ s it with a lease
(compare-and-set, checking the rowcount), sends, and records the outcome. A worker that
dies mid-send leaves a lease that :func:`recover_expired_leases` hands back, so every
notification is delivered at least once; the idempotency key, the same on every attempt,
lets receivers drop the rare duplicate. Huey's queue only carries ids to wake workers:
its SQLite storage deletes a task when a worker takes it, so it cannot be the record.

Every function takes the write connection and ``now``; none reads the clock.
"""

from __future__ import annotations

import hashlib
import random
import secrets

import apsw

from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import notifications as nq
from signalcraft.ingest.model import Severity
from signalcraft.notify.message import EVENT_KINDS

LEASE_SECONDS = 60.0  # longer than any send may take (HTTP timeout 10 s, SMTP 15 s)
BACKOFF_BASE = 15.0
BACKOFF_CAP = 3600.0
JITTER = 0.2  # +-20 %, so retries after an outage do not arrive all at once
RETRY_AFTER_CAP = 86400.0  # honour a server's Retry-After up to a day
MAX_ATTEMPTS = 10  # about 2.5 hours of retries, then the channel is marked broken


def idempotency_key(channel_id: int, event_id: int | None, event_kind: str) -> str:
    """Derived from the event when there is one (enqueueing an event twice makes one row)."""
    if event_id is None:
        return f"ntf_{secrets.token_hex(16)}"
    digest = hashlib.sha256(f"{channel_id}:{event_id}:{event_kind}".encode()).hexdigest()
    return f"ntf_{digest[:32]}"


def enqueue(
    conn: apsw.Connection,
    *,
    workspace_id: int,
    channel_id: int,
    group_id: int | None,
    event_kind: str,
    now: float,
    event_id: int | None = None,
) -> int:
    """Write a pending notification (due now) in the caller's transaction; returns its id.
    After the commit, wake a worker with ``notify.tasks.dispatch``."""
    if event_kind not in EVENT_KINDS:
        raise ValueError(f"event_kind must be one of {EVENT_KINDS}, not {event_kind!r}")
    return nq.insert(
        conn,
        workspace_id=workspace_id,
        channel_id=channel_id,
        group_id=group_id,
        event_id=event_id,
        event_kind=event_kind,
        idempotency_key=idempotency_key(channel_id, event_id, event_kind),
        now=now,
    )


def claim(
    conn: apsw.Connection, notification_id: int, worker: str, now: float, lease_seconds: float = LEASE_SECONDS
) -> nq.NotificationRow | None:
    """Take a due, pending notification for ``worker`` until ``now + lease_seconds``; None if
    someone else has it, it is not due, or it is finished."""
    if not nq.claim(conn, notification_id, worker, now, now + lease_seconds):
        return None
    return nq.get(conn, notification_id)


def record_attempt(
    conn: apsw.Connection,
    notification_id: int,
    *,
    now: float,
    outcome: str,
    status_code: int | None = None,
    error: str = "",
    duration_ms: int | None = None,
) -> None:
    nq.add_attempt(conn, notification_id, now, outcome, status_code, error, duration_ms)


def mark_delivered(
    conn: apsw.Connection, notification_id: int, worker: str, now: float, provider_ref: str | None = None
) -> bool:
    """False when the lease was lost meanwhile (another worker owns the row now)."""
    return nq.set_delivered(conn, notification_id, worker, now, provider_ref)


def backoff_delay(attempts: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: exponential with jitter, capped; never sooner
    than the server's Retry-After."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    delay = min(BACKOFF_CAP, base * (rng or random).uniform(1 - JITTER, 1 + JITTER))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


def out_of_attempts(row: nq.NotificationRow) -> bool:
    return row.attempts >= MAX_ATTEMPTS


def gave_up(row: nq.NotificationRow, error: str) -> str:
    return f"gave up after {row.attempts} attempts: {error}"


def schedule_retry(
    conn: apsw.Connection,
    row: nq.NotificationRow,
    worker: str,
    now: float,
    error: str,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Back to pending, due after :func:`backoff_delay`; returns when (None if the lease was lost).
    The caller checks :func:`out_of_attempts` first: then it is a permanent failure."""
    next_at = now + backoff_delay(row.attempts, retry_after, rng)
    return next_at if nq.set_pending(conn, row.id, worker, next_at, error) else None


def mark_failed_permanently(
    conn: apsw.Connection, row: nq.NotificationRow, worker: str, now: float, error: str
) -> int | None:
    """No more retries; the channel is marked broken. Returns the id of the alert group raised
    in the workspace (None if the channel was already broken: one alert per breakage)."""
    nq.set_failed(conn, row.id, worker, error)
    return break_channel(conn, row.channel_id, now, error)


def skip(conn: apsw.Connection, row: nq.NotificationRow, worker: str, now: float, reason: str) -> None:
    """Not sent: the channel is deleted or broken. Logged as an attempt so the group shows why."""
    nq.set_failed(conn, row.id, worker, reason)
    nq.add_attempt(conn, row.id, now, "skipped", None, reason, None)


def recover_expired_leases(conn: apsw.Connection, now: float) -> list[int]:
    """Rows whose worker died or hung: back to pending, due now; returns their ids."""
    recovered = []
    for notification_id in nq.expired_leases(conn, now):
        if nq.release_expired(conn, notification_id, now):
            nq.add_attempt(
                conn,
                notification_id,
                now,
                "lease_expired",
                None,
                "the worker did not finish before its lease expired",
                None,
            )
            recovered.append(notification_id)
    return recovered


def due(conn: apsw.Connection, now: float) -> list[int]:
    return nq.due(conn, now)


# --- broken channels ----------------------------------------------------------------------


def break_channel(conn: apsw.Connection, channel_id: int, now: float, reason: str) -> int | None:
    if not cq.mark_broken(conn, channel_id, now, reason):
        return None
    channel = cq.by_id(conn, channel_id)
    assert channel is not None
    group_id = raise_channel_alert(conn, channel, reason, now)
    cq.set_broken_group(conn, channel_id, group_id)
    return group_id


def raise_channel_alert(conn: apsw.Connection, channel: cq.Channel, reason: str, now: float) -> int:
    """A ``signalcraft``-source alert group in the channel's workspace (one open per channel),
    with the reason in its timeline, so the workspace learns that notifications stopped."""
    key = f"channel-broken:{channel.id}"
    ws = channel.workspace_id
    detail = {"channel_id": channel.id, "channel": channel.name, "kind": channel.kind, "reason": reason[:500]}
    group_id = nq.open_system_group(conn, ws, key)
    if group_id is None:
        group_id = nq.insert_system_group(
            conn,
            ws,
            key,
            int(Severity.ERROR),
            f"Notification channel “{channel.name}” ({channel.kind}) is broken",
            "notifications",
            {"channel": channel.name, "channel_kind": channel.kind},
            now,
        )
        aq.add_event(conn, ws, group_id, None, "created", now, "", detail)
    else:
        nq.touch_system_group(conn, group_id, now)
        aq.add_event(conn, ws, group_id, None, "channel_broken", now, "", detail)
    return group_id


def repair_channel(conn: apsw.Connection, channel: cq.Channel, actor: str, now: float) -> int | None:
    """Clear the broken mark and resolve the alert it raised; returns that group's id if resolved."""
    cq.clear_broken(conn, channel.id)
    group = (
        aq.get_group(conn, channel.workspace_id, channel.broken_group_id) if channel.broken_group_id else None
    )
    if group is None or group.status == "resolved":
        return None
    aq.set_group_status(conn, group.id, "resolved", 0, now, actor)
    aq.add_event(
        conn,
        channel.workspace_id,
        group.id,
        None,
        "group_resolved",
        now,
        actor,
        {"reason": "channel repaired"},
    )
    return group.id
