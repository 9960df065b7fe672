"""Retention deletes: the oldest rows first, at most ``limit`` of them per call.

Each function is one short statement meant to run as its own write; the policy that loops
over them lives in :mod:`signalcraft.retention`.
"""

from __future__ import annotations

import apsw


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
