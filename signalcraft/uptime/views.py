"""What the monitor list and the monitor page show, read in one snapshot and computed here:
uptime % per window from state changes, latency from rollups (and the current hour's raw
samples), recent changes and pings. Used by the HTML pages and the JSON API alike."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import apsw

from signalcraft.db.queries import uptime as uq
from signalcraft.uptime import samples, stats
from signalcraft.uptime.heartbeat import deadline_of, schedule_of
from signalcraft.uptime.schedule import next_expected

HOURS_IN_SPARKLINE = 24


@dataclass(frozen=True, slots=True)
class MonitorSummary:
    monitor: uq.MonitorRow
    uptime: dict[str, float | None]  # "24h", "7d", "30d", "90d"
    latency: list[int | None]  # hourly p50, the last 24 hours, oldest first

    @property
    def shown_status(self) -> str:
        return "paused" if self.monitor.paused else self.monitor.status


def _changes(events: Sequence[uq.EventRow]) -> dict[int, list[stats.Change]]:
    by_monitor: dict[int, list[stats.Change]] = defaultdict(list)
    for e in events:
        by_monitor[e.monitor_id].append((e.at, e.status))
    return by_monitor


def _hourly(
    rollups: Sequence[tuple[int, int, int | None]], first_hour: int, hours: int
) -> dict[int, list[int | None]]:
    found: dict[int, list[int | None]] = defaultdict(lambda: [None] * hours)
    for monitor_id, hour, p50 in rollups:
        if 0 <= hour - first_hour < hours:
            found[monitor_id][hour - first_hour] = p50
    return found


def _summaries(
    monitors: Sequence[uq.MonitorRow],
    before: dict[int, str],
    events: Sequence[uq.EventRow],
    rollups: Sequence[tuple[int, int, int | None]],
    now: float,
) -> list[MonitorSummary]:
    changes = _changes(events)
    first_hour = samples.hour_of(now) - HOURS_IN_SPARKLINE
    hourly = _hourly(rollups, first_hour, HOURS_IN_SPARKLINE)
    empty: list[int | None] = [None] * HOURS_IN_SPARKLINE
    return [
        MonitorSummary(
            m, stats.uptime_windows(before.get(m.id), changes.get(m.id, []), now), hourly.get(m.id, empty)
        )
        for m in monitors
    ]


def summaries(conn: apsw.Connection, monitors: Sequence[uq.MonitorRow], now: float) -> list[MonitorSummary]:
    """Uptime windows and sparklines of a few monitors (a page, a badge, the API)."""
    ids = [m.id for m in monitors]
    since = now - stats.WINDOWS[-1][1]
    first_hour = samples.hour_of(now) - HOURS_IN_SPARKLINE
    rollups = [(r.monitor_id, r.hour, r.p50_ms) for r in uq.rollups_since(conn, ids, first_hour)]
    return _summaries(
        monitors, uq.status_before(conn, ids, since), uq.events_since(conn, ids, since), rollups, now
    )


def workspace_summaries(conn: apsw.Connection, workspace_id: int, now: float) -> list[MonitorSummary]:
    """Every monitor of a workspace with its uptime windows and sparkline: four queries in all,
    whatever the number of monitors (the list page of 1,000 monitors)."""
    since = now - stats.WINDOWS[-1][1]
    first_hour = samples.hour_of(now) - HOURS_IN_SPARKLINE
    return _summaries(
        uq.list_monitors(conn, workspace_id),
        uq.workspace_status_before(conn, workspace_id, since),
        uq.workspace_events_since(conn, workspace_id, since),
        uq.workspace_hourly_p50(conn, workspace_id, first_hour),
        now,
    )


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    start: float  # the hour
    checks: int
    failures: int
    p50_ms: int | None
    p95_ms: int | None


@dataclass(frozen=True, slots=True)
class MonitorDetail:
    summary: MonitorSummary
    bars: list[stats.DayBar]
    latency: list[LatencyPoint]  # hourly, the last `hours` hours, the current one from raw samples
    events: list[uq.EventRow]
    pings: list[uq.PingRow]
    next_ping_due: float | None
    late_after: float | None


def latency_series(conn: apsw.Connection, monitor_id: int, now: float, hours: int) -> list[LatencyPoint]:
    current = samples.hour_of(now)
    first = current - hours + 1
    by_hour = {r.hour: r for r in uq.rollups_since(conn, [monitor_id], first)}
    for hour, data in uq.samples_since(conn, monitor_id, first):
        if hour not in by_hour:  # not rolled up yet: the current hour (or one the engine has not closed)
            r = samples.rollup(hour, data)
            by_hour[hour] = uq.RollupRow(monitor_id, hour, r.checks, r.failures, r.p50_ms, r.p95_ms)
    points = []
    for hour in range(first, current + 1):
        row = by_hour.get(hour)
        points.append(
            LatencyPoint(
                hour * samples.HOUR,
                row.checks if row else 0,
                row.failures if row else 0,
                row.p50_ms if row else None,
                row.p95_ms if row else None,
            )
        )
    return points


def detail(conn: apsw.Connection, monitor: uq.MonitorRow, now: float, *, hours: int = 48) -> MonitorDetail:
    summary = summaries(conn, [monitor], now)[0]
    start = stats.bar_start(now)
    before = uq.status_before(conn, [monitor.id], start).get(monitor.id)
    changes = [(e.at, e.status) for e in uq.events_since(conn, [monitor.id], start)]
    is_heartbeat = monitor.kind == "heartbeat"
    return MonitorDetail(
        summary,
        stats.day_bars(before, changes, now),
        latency_series(conn, monitor.id, now, hours),
        uq.recent_events(conn, monitor.id),
        uq.pings_of(conn, monitor.id) if is_heartbeat else [],
        next_expected(schedule_of(monitor), monitor.last_ping_at) if is_heartbeat else None,
        deadline_of(monitor) if is_heartbeat else None,
    )
