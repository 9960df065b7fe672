"""Numbers for the dashboard: alert volume, deduplication, noise, response times, after-hours pages.

Every query is bounded by the workspace and the period, and reaches rows through the existing
indexes (no index is added for the dashboard):

- groups through ``alert_groups_recent (workspace_id, last_seen_at)``: a group created in a
  period was last seen in it or later, so ``last_seen_at >= start`` bounds the scan;
- alerts through those groups (``alerts_group``): an alert's group was last seen no earlier
  than the alert was first seen;
- requests through ``ingest_log_received (received_at)``.

Times are epoch seconds; a period is ``[start, end]`` (both inclusive, so an alert received
at the very moment the page is drawn counts). Percentiles are nearest-rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from signalcraft.db.connection import one, rows


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float


_GROUPS_IN = "SELECT id FROM alert_groups WHERE workspace_id = :ws AND last_seen_at >= :start"
_CREATED_IN = "first_seen_at >= :start AND first_seen_at <= :end"


def _params(workspace_id: int, window: Window, **extra: float | int) -> dict[str, float | int]:
    return {"ws": workspace_id, "start": window.start, "end": window.end, **extra}


@dataclass(frozen=True, slots=True)
class AlertCell:
    bucket: int  # index from the window's start in bucket steps; -1: first seen before the window
    integration_id: int
    severity: int
    alerts: int


def alerts_by_bucket(
    conn: apsw.Connection, workspace_id: int, window: Window, bucket_seconds: float
) -> list[AlertCell]:
    """Distinct alerts that received an event in the window, by the bucket they were first
    seen in (-1 when before the window), integration and severity. One pass over the alerts."""
    sql = (
        "SELECT CASE WHEN first_seen_at >= :start THEN CAST((first_seen_at - :start) / :size AS INTEGER)"
        " ELSE -1 END AS b, integration_id, severity, count(*)"
        f" FROM alerts WHERE group_id IN ({_GROUPS_IN}) AND last_seen_at >= :start AND first_seen_at <= :end"
        " GROUP BY b, integration_id, severity"
    )
    found = rows(conn, sql, _params(workspace_id, window, size=bucket_seconds))
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
    """Requests received in the window by bucket and integration. One pass over the ingest log."""
    sql = (
        "SELECT CAST((received_at - :start) / :size AS INTEGER) AS b, integration_id,"
        " coalesce(sum(CASE WHEN accepted = 1 THEN alerts END), 0), sum(accepted = 1), sum(accepted = 0)"
        " FROM ingest_log WHERE received_at >= :start AND received_at <= :end AND workspace_id = :ws"
        " GROUP BY b, integration_id"
    )
    found = rows(conn, sql, _params(workspace_id, window, size=bucket_seconds))
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
    fall in it."""
    sql = (
        "SELECT i.name, g.title, g.sev, g.n, g.alerts, g.events FROM ("
        "   SELECT integration_id, title, max(id) AS last_id, max(severity) AS sev, count(*) AS n,"
        "   sum(alert_count) AS alerts, sum(event_count) AS events"
        f"   FROM alert_groups WHERE workspace_id = :ws AND last_seen_at >= :start AND {_CREATED_IN}"
        "   GROUP BY integration_id, title) AS g"
        " JOIN integrations i ON i.id = g.integration_id"
        " ORDER BY g.n DESC, g.events DESC, g.last_id DESC LIMIT :limit"
    )
    found = rows(conn, sql, _params(workspace_id, window, limit=limit))
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


def _percentiles(cte: str) -> str:
    """count, median and p90 (nearest rank: the value at rank ceil(p * n)) of ``cte(v, i, n)``."""
    return (
        f"(SELECT coalesce(max(n), 0) FROM {cte}),"
        f" (SELECT v FROM {cte} WHERE i = (50 * n + 99) / 100),"
        f" (SELECT v FROM {cte} WHERE i = (90 * n + 99) / 100)"
    )


def group_stats(conn: apsw.Connection, workspace_id: int, window: Window) -> GroupStats:
    # %w: 0 is Sunday, 6 Saturday; working hours are 09:00:00 to 17:59:59.
    sql = (
        "WITH g AS MATERIALIZED (SELECT first_seen_at AS f, acknowledged_at - first_seen_at AS a,"
        "   resolved_at - first_seen_at AS r FROM alert_groups"
        f"   WHERE workspace_id = :ws AND last_seen_at >= :start AND {_CREATED_IN}),"
        " ra AS (SELECT a AS v, row_number() OVER (ORDER BY a) AS i, count(*) OVER () AS n"
        "   FROM g WHERE a IS NOT NULL),"
        " rr AS (SELECT r AS v, row_number() OVER (ORDER BY r) AS i, count(*) OVER () AS n"
        "   FROM g WHERE r IS NOT NULL)"
        " SELECT (SELECT count(*) FROM g),"
        " (SELECT coalesce(sum(strftime('%w', f, 'unixepoch') IN ('0', '6')"
        "   OR CAST(strftime('%H', f, 'unixepoch') AS INTEGER) NOT BETWEEN 9 AND 17), 0) FROM g),"
        f" {_percentiles('ra')}, {_percentiles('rr')}"
    )
    found = one(conn, sql, _params(workspace_id, window))
    assert found is not None  # an aggregate always has a row
    return GroupStats(
        int(found[0]),
        int(found[1]),
        Durations(int(found[2]), found[3], found[4]),
        Durations(int(found[5]), found[6], found[7]),
    )
