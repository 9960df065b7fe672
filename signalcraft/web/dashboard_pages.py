"""The workspace dashboard (HTML): alert volume, deduplication, noise, response times, after-hours pages.

The numbers come from :mod:`signalcraft.db.queries.stats` in one read transaction; this module
chooses the period's time frame, and turns rows into stat cards, charts and tables (pure
functions of the rows and ``now``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import apsw
from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.types import ControllerRouterHandler
from markupsafe import Markup

from signalcraft.auth.rbac import Permission
from signalcraft.db import Database
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import stats
from signalcraft.errors import InvalidInput
from signalcraft.ingest.model import Severity
from signalcraft.web import charts
from signalcraft.web.access import workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.responses import render

HOUR, DAY = 3600, 86400


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    label: str
    bucket_seconds: int
    buckets: int
    before: str  # the previous period, for trends: "the 7 days before"


PERIODS = {
    "24h": Period("24h", "Last 24 hours", HOUR, 24, "the 24 hours before"),
    "7d": Period("7d", "Last 7 days", DAY, 7, "the 7 days before"),
    "30d": Period("30d", "Last 30 days", DAY, 30, "the 30 days before"),
}
DEFAULT_PERIOD = "7d"


@dataclass(frozen=True, slots=True)
class Frame:
    """The period as time: whole UTC hours or days, the last one running until ``now``."""

    period: Period
    current: stats.Window
    previous: stats.Window  # the same length, one period earlier
    bucket_starts: tuple[float, ...]


def frame_for(period: Period, now: float) -> Frame:
    size = period.bucket_seconds
    start = math.floor(now / size) * size - (period.buckets - 1) * size
    span = period.buckets * size
    return Frame(period, stats.Window(start, now), stats.Window(start - span, now - span),
                 tuple(start + i * size for i in range(period.buckets)))


def parse_period(value: str) -> Period:
    found = PERIODS.get(value or DEFAULT_PERIOD)
    if found is None:
        raise InvalidInput(f"choose one of: {', '.join(PERIODS)}", field="period")
    return found


@dataclass(frozen=True, slots=True)
class DashboardData:
    alerts: list[stats.AlertCell]
    ingest: list[stats.IngestCell]
    integrations: list[iq.Integration]
    noisy_alerts: list[stats.NoisyAlert]
    groups: stats.GroupStats
    groups_before: stats.GroupStats


def _volume(conn: apsw.Connection, workspace_id: int, frame: Frame
            ) -> tuple[list[stats.AlertCell], list[stats.IngestCell], list[iq.Integration], stats.GroupStats]:
    now, size = frame.current, frame.period.bucket_seconds
    return (stats.alerts_by_bucket(conn, workspace_id, now, size),
            stats.ingest_by_bucket(conn, workspace_id, now, size),
            iq.list_for(conn, workspace_id),
            stats.group_stats(conn, workspace_id, frame.previous))


def _pages(conn: apsw.Connection, workspace_id: int, frame: Frame
           ) -> tuple[list[stats.NoisyAlert], stats.GroupStats]:
    now = frame.current
    return stats.noisy_alerts(conn, workspace_id, now), stats.group_stats(conn, workspace_id, now)


async def load(db: Database, workspace_id: int, frame: Frame) -> DashboardData:
    """Everything the page shows, read in two halves at once, each in one read transaction on
    its own connection: for 30 days the queries walk tens of thousands of index entries, and
    SQLite runs the halves on two cores (apsw releases the GIL while a statement steps). The
    two snapshots start together, so they differ at most by what commits in between; the
    halves are balanced by their cost on the 1,000,000-alert bench (docs/benchmarks.md)."""
    (alerts, ingest, integrations, groups_before), (noisy, groups) = await asyncio.gather(
        db.aread(lambda c: _volume(c, workspace_id, frame)),
        db.aread(lambda c: _pages(c, workspace_id, frame)),
    )
    return DashboardData(alerts, ingest, integrations, noisy, groups, groups_before)


@dataclass(frozen=True, slots=True)
class Totals:
    events: int
    accepted_requests: int
    refused_requests: int
    alerts_touched: int  # distinct alerts that received an event
    new_alerts: int  # of which first seen in the period


def totals(data: DashboardData) -> Totals:
    return Totals(sum(c.events for c in data.ingest), sum(c.accepted for c in data.ingest),
                  sum(c.refused for c in data.ingest), sum(c.alerts for c in data.alerts),
                  sum(c.alerts for c in data.alerts if c.bucket >= 0))


@dataclass(frozen=True, slots=True)
class NoisySource:
    integration: iq.Integration
    events: int
    new_alerts: int


def noisy_sources(data: DashboardData, limit: int = 5) -> list[NoisySource]:
    """Integrations by alert events received, then by new alerts."""
    events: dict[int, int] = {}
    created: dict[int, int] = {}
    for i in data.ingest:
        events[i.integration_id] = events.get(i.integration_id, 0) + i.events
    for a in data.alerts:
        if a.bucket >= 0:
            created[a.integration_id] = created.get(a.integration_id, 0) + a.alerts
    found = [NoisySource(i, events.get(i.id, 0), created.get(i.id, 0)) for i in data.integrations]
    found = [s for s in found if s.events or s.new_alerts]
    return sorted(found, key=lambda s: (-s.events, -s.new_alerts, s.integration.id))[:limit]


# --- formatting --------------------------------------------------------------------------

def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < HOUR:
        return f"{s // 60} min"
    if s < DAY:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // HOUR, 24)
    return f"{d} d {h} h" if h else f"{d} d"


@dataclass(frozen=True, slots=True)
class Trend:
    text: str
    css: str  # is-worse, is-better, is-flat, is-none


def trend(current: float | None, previous: float | None, before: str) -> Trend:
    """Change against the previous period; for everything on this page, lower is better."""
    if current is None or previous is None:
        return Trend(f"nothing to compare with in {before}", "is-none")
    if previous == 0:
        if current == 0:
            return Trend(f"same as {before}", "is-flat")
        return Trend(f"\u25b2 from 0 in {before}", "is-worse")
    change = (current - previous) / previous * 100
    if abs(change) < 0.5:
        return Trend(f"same as {before}", "is-flat")
    arrow, css = ("\u25b2", "is-worse") if change > 0 else ("\u25bc", "is-better")
    return Trend(f"{arrow} {abs(change):.0f}% vs {before}", css)


@dataclass(frozen=True, slots=True)
class StatCard:
    key: str
    label: str
    value: str
    note: str
    trend: Trend | None = None
    hint: str = ""


def _ratio(events: int, alerts: int) -> str:
    if not alerts:
        return "—"
    return f"{events / alerts:.1f} : 1"


def stat_cards(data: DashboardData, period: Period) -> list[StatCard]:
    t, g, before = totals(data), data.groups, data.groups_before
    refused = f", {t.refused_requests:,} refused" if t.refused_requests else ""
    share = f"{g.after_hours / g.pages:.0%} of " if g.pages else ""
    return [
        StatCard("events", "Alert events received", f"{t.events:,}",
                 f"in {t.accepted_requests:,} requests{refused}"),
        StatCard("alerts", "New alerts", f"{t.new_alerts:,}", f"in {g.pages:,} alert groups"),
        StatCard("dedup", "Deduplication", _ratio(t.events, t.alerts_touched),
                 f"{t.events:,} events for {t.alerts_touched:,} distinct alerts"),
        StatCard("mtta", "Time to acknowledge (median)", format_duration(g.acknowledged.median),
                 f"p90 {format_duration(g.acknowledged.p90)} · {g.acknowledged.count:,} acknowledged",
                 trend(g.acknowledged.median, before.acknowledged.median, period.before)),
        StatCard("mttr", "Time to resolve (median)", format_duration(g.resolved.median),
                 f"p90 {format_duration(g.resolved.p90)} · {g.resolved.count:,} resolved",
                 trend(g.resolved.median, before.resolved.median, period.before)),
        StatCard("after-hours", "Pages outside working hours", f"{g.after_hours:,}",
                 f"{share}{g.pages:,} pages", trend(g.after_hours, before.after_hours, period.before),
                 hint="Working hours: 09:00\u201318:00 Mon\u2013Fri, UTC"),
    ]


# --- charts --------------------------------------------------------------------------------

SEVERITIES = (Severity.CRITICAL, Severity.ERROR, Severity.WARNING, Severity.INFO)


@dataclass(frozen=True, slots=True)
class Tick:
    tooltip: str
    label: str
    minor: bool


def ticks(frame: Frame) -> list[Tick]:
    """Tooltip and axis label per bucket: every 3 hours (6 on phones) or every day(s)."""
    out, n = [], len(frame.bucket_starts)
    for i, start in enumerate(frame.bucket_starts):
        at = dt.datetime.fromtimestamp(start, dt.UTC)
        if frame.period.bucket_seconds == HOUR:
            end = at + dt.timedelta(hours=1)
            tooltip = f"{at:%a %-d %b}, {at:%H:%M}\u2013{end:%H:%M} UTC"
            out.append(Tick(tooltip, f"{at:%H:%M}" if at.hour % 3 == 0 else "", at.hour % 6 != 0))
        elif n <= 7:
            out.append(Tick(f"{at:%a %-d %b}", f"{at:%a %-d}", False))
        else:
            back = n - 1 - i
            out.append(Tick(f"{at:%a %-d %b}", f"{at:%-d %b}" if back % 3 == 0 else "", back % 6 != 0))
    return out


def volume_chart(frame: Frame, cells: list[stats.AlertCell]) -> Markup:
    counts: dict[tuple[int, int], int] = {}
    for c in cells:
        counts[c.bucket, c.severity] = counts.get((c.bucket, c.severity), 0) + c.alerts
    bars = [charts.Bar(t.tooltip, tuple(charts.Segment(counts.get((i, int(s)), 0), f"bar-{s.label}", s.label)
                                        for s in SEVERITIES), t.label, t.minor)
            for i, t in enumerate(ticks(frame))]
    unit = "hour" if frame.period.bucket_seconds == HOUR else "day"
    legend = [charts.Series(f"bar-{s.label}", s.label.capitalize()) for s in SEVERITIES]
    return charts.bar_chart(bars, caption=f"New alerts per {unit}, by severity", legend=legend,
                            empty="No new alerts in this period")


def events_chart(frame: Frame, cells: list[stats.IngestCell]) -> Markup:
    counts: dict[int, int] = {}
    for c in cells:
        counts[c.bucket] = counts.get(c.bucket, 0) + c.events
    points = [charts.Point(t.tooltip, counts.get(i, 0), t.label, t.minor) for i, t in enumerate(ticks(frame))]
    unit = "hour" if frame.period.bucket_seconds == HOUR else "day"
    return charts.line_chart(points, caption=f"Alert events received per {unit}",
                             series=charts.Series("series-events", "events"),
                             empty="Nothing received in this period")


# --- the page -------------------------------------------------------------------------------

@get("/w/{slug:str}/dashboard", opt={"permission": Permission.READ, "scope": "workspace", "html": True},
     include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any], period: FromQuery[str] = DEFAULT_PERIOD
                    ) -> Response[Any]:
    ctx, ws = ctx_of(request), workspace_of(request).workspace
    chosen = parse_period(period[:10])
    frame = frame_for(chosen, ctx.now())
    data = await load(ctx.db, ws.id, frame)
    return render(request, "dashboard/dashboard.html", {
        "active_nav": "dashboard", "period": chosen, "periods": list(PERIODS.values()),
        "cards": stat_cards(data, chosen), "volume_chart": volume_chart(frame, data.alerts),
        "events_chart": events_chart(frame, data.ingest), "sources": noisy_sources(data),
        "noisy_alerts": [(a, Severity(a.severity).label) for a in data.noisy_alerts],
        "frame_start": frame.current.start,
    })


HANDLERS: list[ControllerRouterHandler] = [dashboard]
