"""The dashboard's hourly rollups (tables in migration 0014): what the periodic task writes.

Rows are taken in id order, ``limit`` ids at a time, from just past ``rollup_progress``; each
call adds their counts to the hour they belong to and moves the progress past them, in the
caller's transaction (so a crash loses nothing and counts nothing twice). The dashboard's
reads are in :mod:`signalcraft.db.queries.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from signalcraft.db.connection import one, scalar

HOUR = 3600


@dataclass(frozen=True, slots=True)
class Progress:
    alerts_done: int  # every alert with an id up to this one is in alert_rollups
    ingest_done: int  # every ingest_log line with an id up to this one is in ingest_rollups


def progress(conn: apsw.Connection) -> Progress:
    found = one(conn, "SELECT alerts_done, ingest_done FROM rollup_progress WHERE id = 1")
    assert found is not None  # inserted by migration 0014, never deleted
    return Progress(int(found[0]), int(found[1]))


def roll_up_alerts(conn: apsw.Connection, limit: int) -> int:
    """Add up to ``limit`` ids' worth of new alerts; returns how many alerts were added."""
    done = progress(conn).alerts_done
    upto = scalar(
        conn, "SELECT max(id) FROM (SELECT id FROM alerts WHERE id > ? ORDER BY id LIMIT ?)", (done, limit)
    )
    if upto is None:
        return 0
    conn.execute(
        "INSERT INTO alert_rollups(workspace_id, hour, integration_id, severity, new_alerts)"
        f" SELECT workspace_id, CAST(first_seen_at / {HOUR} AS INTEGER) * {HOUR} AS h, integration_id,"
        " severity, count(*) FROM alerts WHERE id > ? AND id <= ?"
        " GROUP BY workspace_id, h, integration_id, severity"
        " ON CONFLICT DO UPDATE SET new_alerts = new_alerts + excluded.new_alerts",
        (done, upto),
    )
    added = int(scalar(conn, "SELECT count(*) FROM alerts WHERE id > ? AND id <= ?", (done, upto)))
    _advance(conn, "alerts_done", upto)
    return added


def roll_up_ingest(conn: apsw.Connection, limit: int) -> int:
    """Add up to ``limit`` ids' worth of ingest requests; returns how many were added."""
    done = progress(conn).ingest_done
    upto = scalar(
        conn,
        "SELECT max(id) FROM (SELECT id FROM ingest_log WHERE id > ? ORDER BY id LIMIT ?)",
        (done, limit),
    )
    if upto is None:
        return 0
    conn.execute(
        "INSERT INTO ingest_rollups(workspace_id, hour, integration_id, events, accepted, refused)"
        f" SELECT workspace_id, CAST(received_at / {HOUR} AS INTEGER) * {HOUR} AS h, integration_id,"
        " coalesce(sum(CASE WHEN accepted = 1 THEN alerts END), 0), sum(accepted = 1), sum(accepted = 0)"
        " FROM ingest_log WHERE id > ? AND id <= ? GROUP BY workspace_id, h, integration_id"
        " ON CONFLICT DO UPDATE SET events = events + excluded.events,"
        " accepted = accepted + excluded.accepted, refused = refused + excluded.refused",
        (done, upto),
    )
    added = int(scalar(conn, "SELECT count(*) FROM ingest_log WHERE id > ? AND id <= ?", (done, upto)))
    _advance(conn, "ingest_done", upto)
    return added


def _advance(conn: apsw.Connection, column: str, upto: int) -> None:
    # The row exists from migration 0014 on.
    conn.execute(f"UPDATE rollup_progress SET {column} = ? WHERE id = 1", (upto,))
