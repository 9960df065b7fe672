"""Numbers for the dashboard: alert volume, deduplication, noise, response times, after-hours pages.

Every query is bounded by the workspace and the period:

- new alerts and ingest requests come from the hourly rollups (migration 0014) for the rows
  the rollup task has reached, plus the rows past its progress from the base tables by id
  (a short range: what arrived since the task's last run). A period therefore starts on a
  whole hour, and buckets are whole hours;
- alerts first seen before the period but touched in it through the groups that span its
  start (``alert_groups_span``, migration 0018): an alert's group was first seen no later
  than the alert, and last seen no earlier; their alerts through ``alerts_touched``, which
  holds both times of the alerts seen more than once, so only the alerts counted are read
  from the table;
- groups created in a period through ``alert_groups_created (workspace_id, first_seen_at)``.

Times are epoch seconds; a period is ``[start, end]`` (both inclusive, so an alert received
at the very moment the page is drawn counts). Percentiles are nearest-rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw
import orjson

from signalcraft.db.connection import one, rows
from signalcraft.db.queries import rollups

HOUR = rollups.HOUR


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float


_CREATED_IN = "workspace_id = :ws AND first_seen_at >= :start AND first_seen_at <= :end"


def _params(workspace_id: int, window: Window, **extra: float | int) -> dict[str, float | int]:
    return {"ws": workspace_id, "start": window.start, "end": window.end, **extra}


@dataclass(frozen=True, slots=True)
class AlertCell:
    bucket: int  # index from the window's start in bucket steps; -1: first seen before the window
    integration_id: int
    severity: int
    alerts: int


def _check_hours(window: Window, bucket_seconds: float) -> None:
    if window.start % HOUR or bucket_seconds % HOUR:
        raise ValueError(
            "the rollups answer for whole hours: start and bucket size must be multiples of 3600"
        )


def alerts_by_bucket(
    conn: apsw.Connection, workspace_id: int, window: Window, bucket_seconds: float
) -> list[AlertCell]:
    """Distinct alerts that received an event in the window, by the bucket they were first
    seen in (-1 when before the window), integration and severity."""
    _check_hours(window, bucket_seconds)
    done = rollups.progress(conn).alerts_done
    bucket = "CAST((h - :start) / :size AS INTEGER)"
    sql = (
        f"SELECT {bucket} AS b, integration_id, severity, sum(n) FROM ("
        "   SELECT hour AS h, integration_id, severity, new_alerts AS n FROM alert_rollups"
        "   WHERE workspace_id = :ws AND hour >= :start AND hour <= :end"
        "   UNION ALL"  # past the rollups: a rowid range (+ keeps the planner off the time index)
        "   SELECT first_seen_at, integration_id, severity, 1 FROM alerts"
        "   WHERE id > :done AND workspace_id = :ws AND +first_seen_at >= :start AND +first_seen_at <= :end)"
        " GROUP BY b, integration_id, severity"
        " UNION ALL"
        " SELECT -1, integration_id, severity, count(*) FROM alerts WHERE group_id IN ("
        "   SELECT id FROM alert_groups WHERE workspace_id = :ws AND last_seen_at >= :start"
        "   AND first_seen_at < :start)"
        " AND first_seen_at < :start AND last_seen_at >= :start"
        " AND last_seen_at > first_seen_at"  # implied; names the partial index alerts_touched
        " GROUP BY integration_id, severity"
    )
    found = rows(conn, sql, _params(workspace_id, window, size=bucket_seconds, done=done))
    return [AlertCell(int(b), int(i), int(sev), int(n)) for b, i, sev, n in found]


@dataclass(frozen=True, slots=True)
class IngestCell:
    bucket: int
    integration_id: int
    events: int  # alert events in accepted requests (repeats, resolves, acknowledgements included)
    accepted: int  # requests
    refused: int  # requests


def ingest_by_bucket(
    conn: apsw.Connection, workspace_id: int, window: Window, bucket_seconds: float
) -> list[IngestCell]:
    """Requests received in the window by bucket and integration."""
    _check_hours(window, bucket_seconds)
    done = rollups.progress(conn).ingest_done
    sql = (
        "SELECT CAST((h - :start) / :size AS INTEGER) AS b, integration_id, sum(e), sum(a), sum(r) FROM ("
        "   SELECT hour AS h, integration_id, events AS e, accepted AS a, refused AS r FROM ingest_rollups"
        "   WHERE workspace_id = :ws AND hour >= :start AND hour <= :end"
        "   UNION ALL"
        "   SELECT received_at, integration_id, CASE WHEN accepted = 1 THEN alerts ELSE 0 END, accepted = 1,"
        "   accepted = 0 FROM ingest_log"
        "   WHERE id > :done AND workspace_id = :ws AND +received_at >= :start AND +received_at <= :end)"
        " GROUP BY b, integration_id"
    )
    found = rows(conn, sql, _params(workspace_id, window, size=bucket_seconds, done=done))
    return [IngestCell(int(b), int(i), int(e), int(a), int(r)) for b, i, e, a, r in found]


@dataclass(frozen=True, slots=True)
class NoisyAlert:
    integration_name: str
    title: str
    severity: int  # the worst of its groups
    pages: int  # alert groups created in the window (each one pages)
    alerts: int  # distinct alerts in those groups
    events: int  # events those groups received


def noisy_alerts(
    conn: apsw.Connection, workspace_id: int, window: Window, limit: int = 8
) -> list[NoisyAlert]:
    """What paged most often in the window: alert groups created, by integration and title,
    then by events received. Only groups created in the window count, so their events all
    fall in it.

    Two steps, so that only the leaders' groups are read from the table: pages per title from
    the covering index ``alert_groups_created``, then events, alerts and severity for the
    titles that can still make the list (as many pages as the last one in it, or more)."""
    counted = rows(
        conn,
        f"SELECT integration_id, title, count(*), max(id) FROM alert_groups WHERE {_CREATED_IN}"
        " GROUP BY integration_id, title",
        _params(workspace_id, window),
    )
    if not counted:
        return []
    counted.sort(key=lambda r: -int(r[2]))
    least = int(counted[min(limit, len(counted)) - 1][2])
    keys = [[r[0], r[1]] for r in counted if int(r[2]) >= least]
    sql = (
        "SELECT i.name, g.title, g.sev, g.n, g.alerts, g.events FROM ("
        "   SELECT integration_id, title, max(id) AS last_id, max(severity) AS sev, count(*) AS n,"
        "   sum(alert_count) AS alerts, sum(event_count) AS events"
        f"   FROM alert_groups WHERE {_CREATED_IN}"
        "   AND (integration_id, title) IN (SELECT value ->> 0, value ->> 1 FROM json_each(:keys))"
        "   GROUP BY integration_id, title) AS g"
        " JOIN integrations i ON i.id = g.integration_id"
        " ORDER BY g.n DESC, g.events DESC, g.last_id DESC LIMIT :limit"
    )
    found = rows(
        conn, sql, {**_params(workspace_id, window, limit=limit), "keys": orjson.dumps(keys).decode()}
    )
    return [NoisyAlert(r[0], r[1], *(int(v) for v in r[2:])) for r in found]


@dataclass(frozen=True, slots=True)
class Durations:
    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Alert groups created in a window: each one pages."""

    pages: int
    after_hours: int  # created outside 09:00-18:00 Monday to Friday, UTC
    acknowledged: Durations  # seconds from creation to acknowledgement (MTTA)
    resolved: Durations  # seconds from creation to resolution (MTTR)


def nearest_rank(ordered: list[float], percent: int) -> float | None:
    """The value at rank ceil(percent / 100 * n) of a sorted list (None when empty)."""
    return ordered[(percent * len(ordered) + 99) // 100 - 1] if ordered else None


def _durations(values: list[float]) -> Durations:
    values.sort()
    return Durations(len(values), nearest_rank(values, 50), nearest_rank(values, 90))


# Outside 09:00:00-17:59:59 Monday to Friday, UTC, for first_seen_at: integer arithmetic on
# milliseconds rounded as strftime(..., 'unixepoch') rounds them (a third of the time of
# strftime on a month of groups). Day 0 of the epoch was a Thursday: (day + 3) % 7 is 0 on
# Monday, so 5 and 6 are the weekend.
_MS = "CAST(first_seen_at * 1000.0 + 0.5 AS INTEGER)"
AFTER_HOURS = (
    f"(({_MS} / 86400000 + 3) % 7 >= 5 OR ({_MS} % 86400000) / 3600000 NOT BETWEEN 9 AND 17)"
)


def group_stats(conn: apsw.Connection, workspace_id: int, window: Window) -> GroupStats:
    """Pages, after-hours pages and response times of the groups created in the window, all
    read from the covering index ``alert_groups_created`` (a sort in Python is cheaper than
    SQLite's window functions for the percentiles)."""
    params = _params(workspace_id, window)
    found = one(
        conn,
        f"SELECT count(*), coalesce(sum({AFTER_HOURS}), 0) FROM alert_groups WHERE {_CREATED_IN}",
        params,
    )
    assert found is not None  # an aggregate always has a row
    times = rows(
        conn,
        "SELECT acknowledged_at - first_seen_at, resolved_at - first_seen_at FROM alert_groups"
        f" WHERE {_CREATED_IN} AND (acknowledged_at IS NOT NULL OR resolved_at IS NOT NULL)",
        params,
    )
    return GroupStats(
        int(found[0]),
        int(found[1]),
        _durations([a for a, _ in times if a is not None]),
        _durations([r for _, r in times if r is not None]),
    )
