"""Uptime percentages from state changes: pure functions of the changes and a time window.

Uptime is the share of *known* time the monitor was up: time spent down counts against it,
time pending (not checked yet, or resumed and not yet checked) or paused counts for neither.
So a monitor created yesterday has a 90-day uptime made of one day, and a pause for a
planned migration does not spoil the month. A monitor is only down once the state machine
says so (after ``failures_before_down`` failures), which is what was alerted on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

DAY = 86400.0
WINDOWS = (("24h", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY), ("90d", 90 * DAY))

Change = tuple[float, str]  # (at, status)


@dataclass(frozen=True, slots=True)
class Span:
    start: float
    end: float
    status: str


@dataclass(frozen=True, slots=True)
class Tally:
    up: float = 0.0
    down: float = 0.0

    @property
    def percent(self) -> float | None:
        known = self.up + self.down
        return None if known <= 0 else 100.0 * self.up / known


@dataclass(frozen=True, slots=True)
class DayBar:
    day: dt.date
    tally: Tally

    @property
    def percent(self) -> float | None:
        return self.tally.percent


def spans(before: str | None, changes: Sequence[Change], start: float, end: float) -> list[Span]:
    """The states between ``start`` and ``end``; ``before`` is the state at ``start`` (the last
    change earlier than it, None when the monitor did not exist yet)."""
    out: list[Span] = []
    status, since = before or "pending", start
    for at, new in changes:
        if at >= end:
            break
        if at > since:
            out.append(Span(since, at, status))
            since = at
        status = new
    if end > since:
        out.append(Span(since, end, status))
    return out


def tally(parts: Sequence[Span], start: float, end: float) -> Tally:
    up = down = 0.0
    for span in parts:
        length = min(span.end, end) - max(span.start, start)
        if length <= 0:
            continue
        if span.status == "up":
            up += length
        elif span.status == "down":
            down += length
    return Tally(up, down)


def uptime_windows(
    before: str | None, changes: Sequence[Change], now: float, windows: Sequence[tuple[str, float]] = WINDOWS
) -> dict[str, float | None]:
    """Uptime % for each window ending now; ``before``/``changes`` must cover the longest."""
    longest = max(w for _, w in windows)
    parts = spans(before, changes, now - longest, now)
    return {name: tally(parts, now - size, now).percent for name, size in windows}


def day_bars(before: str | None, changes: Sequence[Change], now: float, days: int = 90) -> list[DayBar]:
    """One bar per UTC day, the oldest first, today (so far) last."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC).timestamp()
    parts = spans(before, changes, start, now)
    bars = []
    for i in range(days):
        lo = start + i * DAY
        bars.append(DayBar(first + dt.timedelta(days=i), tally(parts, lo, min(lo + DAY, now))))
    return bars


def bar_start(now: float, days: int = 90) -> float:
    """Where :func:`day_bars` starts: the changes must be loaded from here."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date() - dt.timedelta(days=days - 1)
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC).timestamp()


def format_percent(value: float | None) -> str:
    """Two decimals, never rounded up to 100 % while there was downtime."""
    if value is None:
        return "—"
    if value >= 100.0:
        return "100%"
    return f"{min(value, 99.99):.2f}%"
