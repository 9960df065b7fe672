"""Retention deletes: the oldest rows first, at most ``limit`` of them per call.

Each function is one short statement meant to run as its own write; the policy that loops
over them lives in :mod:`signalcraft.retention`.
"""

from __future__ import annotations

import apsw

from signalcraft.db.connection import scalar


def delete_raw_payloads_before(conn: apsw.Connection, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` raw payloads received before ``cutoff``; returns how many.

    Alerts, deploys and ingest log lines keep their normalized data: the foreign keys
    are ``ON DELETE SET NULL``, so their ``raw_id`` becomes NULL.
    """
    conn.execute(
        "DELETE FROM raw_payloads WHERE id IN"
        " (SELECT id FROM raw_payloads WHERE received_at < ? ORDER BY received_at LIMIT ?)",
        (cutoff, limit),
    )
    return conn.changes()


def delete_ingest_log_before(conn: apsw.Connection, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` ingest log lines received before ``cutoff``; returns how many."""
    conn.execute(
        "DELETE FROM ingest_log WHERE id IN"
        " (SELECT id FROM ingest_log WHERE received_at < ? ORDER BY received_at LIMIT ?)",
        (cutoff, limit),
    )
    return conn.changes()


def delete_resolved_alerts_before(conn: apsw.Connection, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` alerts of groups resolved before ``cutoff``; returns how many.

    The FTS index follows through the ``alerts_fts_delete`` trigger; the alerts' events cascade.
    """
    conn.execute(
        "DELETE FROM alerts WHERE id IN (SELECT a.id FROM alert_groups g JOIN alerts a ON a.group_id = g.id"
        " WHERE g.status = 'resolved' AND g.resolved_at < ? ORDER BY g.resolved_at LIMIT ?)",
        (cutoff, limit),
    )
    return conn.changes()


def delete_resolved_group_events_before(conn: apsw.Connection, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` timeline events and notes of groups resolved before ``cutoff``."""
    deleted = 0
    for table in ("alert_events", "alert_notes"):
        conn.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT e.id FROM alert_groups g"
            f" JOIN {table} e ON e.group_id = g.id"
            " WHERE g.status = 'resolved' AND g.resolved_at < ? ORDER BY g.resolved_at LIMIT ?)",
            (cutoff, limit - deleted),
        )
        deleted += conn.changes()
        if deleted >= limit:
            break
    return deleted


def delete_resolved_groups_before(conn: apsw.Connection, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` alert groups resolved before ``cutoff`` (their alerts and events are
    gone already, see above; notifications and escalation rows cascade)."""
    conn.execute(
        "DELETE FROM alert_groups WHERE id IN (SELECT id FROM alert_groups"
        " WHERE status = 'resolved' AND resolved_at < ? ORDER BY resolved_at LIMIT ?)",
        (cutoff, limit),
    )
    return conn.changes()


def delete_notifications_before(conn: apsw.Connection, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` finished notifications (and their attempts) created before ``cutoff``.

    Pending and in-flight ones stay whatever their age: the outbox still owns them.
    """
    conn.execute(
        "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications"
        " WHERE created_at < ? AND status IN ('delivered', 'failed') ORDER BY created_at LIMIT ?)",
        (cutoff, limit),
    )
    return conn.changes()


def delete_audit_before(conn: apsw.Connection, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` audit entries older than ``cutoff``: the only deletion the
    ``audit_log_no_delete`` trigger lets through, by way of a permit row for this one write."""
    conn.execute("INSERT INTO audit_purge_permit(cutoff) VALUES (?)", (cutoff,))
    conn.execute(
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)",
        (cutoff, limit),
    )
    deleted = conn.changes()
    conn.execute("DELETE FROM audit_purge_permit")
    return deleted


# --- disk space ---------------------------------------------------------------------------------

AUTO_VACUUM_INCREMENTAL = 2


def auto_vacuum_mode(conn: apsw.Connection) -> int:
    """0 = none (SQLite's default), 1 = full, 2 = incremental."""
    return int(scalar(conn, "PRAGMA auto_vacuum"))


def free_pages(conn: apsw.Connection) -> int:
    return int(scalar(conn, "PRAGMA freelist_count"))


def incremental_vacuum(conn: apsw.Connection, pages: int) -> None:
    """Return up to ``pages`` free pages to the file system (only with auto_vacuum=incremental)."""
    conn.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()


def vacuum(conn: apsw.Connection, *, incremental: bool) -> None:
    """Rewrite the whole file (offline: it holds the write lock throughout). With ``incremental``
    the file is switched to auto_vacuum=incremental first, so retention can then free pages
    nightly without another full VACUUM."""
    if incremental:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("VACUUM")
