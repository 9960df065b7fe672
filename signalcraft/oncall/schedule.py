"""On-call schedule math (pure): rotations, layers, overrides; who is on call at T.

- A **rotation** (layer) hands over every N hours, days or weeks. Day and week rotations
  hand over at a wall-clock time in the rotation's timezone, so a 09:00 handoff stays at
  09:00 across DST changes (that shift is 23 or 25 hours long). Hour rotations count
  absolute time.
- **Layers**: a later layer wins where it has someone on call (PagerDuty's model), e.g. a
  weekend layer over a weekly layer. A layer may be limited to some weekdays/hours.
- **Overrides** replace whoever is on call for a time range (a shift swap is an override for
  the swapped shift). Overrides of one schedule may not overlap.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UNITS = ("hours", "days", "weeks")
MAX_SHIFTS = 5000  # a timeline or feed never expands more than this


class ScheduleError(ValueError):
    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


@dataclass(frozen=True)
class Restriction:
    """Only on these weekdays (0 = Monday), between start and end local time (end may be past midnight)."""

    weekdays: frozenset[int]
    start: dt.time
    end: dt.time

    def allows(self, local: dt.datetime) -> bool:
        t, day = local.time(), local.weekday()
        if self.start < self.end:
            return day in self.weekdays and self.start <= t < self.end
        if t >= self.start:
            return day in self.weekdays
        return t < self.end and (day - 1) % 7 in self.weekdays


@dataclass(frozen=True)
class Rotation:
    id: int
    participants: tuple[int, ...]
    start: float  # the first handoff (epoch seconds)
    unit: str  # hours | days | weeks
    count: int
    timezone: str = "UTC"
    end: float | None = None
    restriction: Restriction | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def shift_index(self, at: float) -> int | None:
        """Which shift (0, 1, ...) covers ``at``; None before the start or after the end."""
        if at < self.start or (self.end is not None and at >= self.end) or not self.participants:
            return None
        if self.unit == "hours":
            return int((at - self.start) // (self.count * 3600))
        zone = self.zone
        first = dt.datetime.fromtimestamp(self.start, zone)
        local = dt.datetime.fromtimestamp(at, zone)
        days = (local.date() - first.date()).days
        if local.time() < first.time():
            days -= 1
        period = self.count * (7 if self.unit == "weeks" else 1)
        return days // period

    def shift_bounds(self, index: int) -> tuple[float, float]:
        if self.unit == "hours":
            length = self.count * 3600
            return self.start + index * length, self.start + (index + 1) * length
        zone = self.zone
        first = dt.datetime.fromtimestamp(self.start, zone)
        period = self.count * (7 if self.unit == "weeks" else 1)

        def handoff(n: int) -> float:
            day = first.date() + dt.timedelta(days=n * period)
            return dt.datetime.combine(day, first.time(), zone).timestamp()

        return handoff(index), handoff(index + 1)

    def on_call(self, at: float) -> int | None:
        index = self.shift_index(at)
        if index is None:
            return None
        if self.restriction is not None and not self.restriction.allows(
            dt.datetime.fromtimestamp(at, self.zone)
        ):
            return None
        return self.participants[index % len(self.participants)]


@dataclass(frozen=True)
class Override:
    id: int
    start: float
    end: float
    user_id: int


@dataclass(frozen=True)
class Schedule:
    id: int
    name: str
    timezone: str
    layers: tuple[Rotation, ...]
    overrides: tuple[Override, ...] = ()
    # People who can no longer be on call (removed from the workspace, disabled): an override
    # or layer naming one of them puts nobody there, so the layer below (if any) shows through.
    inactive: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Shift:
    start: float
    end: float
    user_id: int
    source: str  # "layer:<id>" or "override:<id>"


def on_call_at(schedule: Schedule, at: float) -> tuple[int | None, str]:
    """(user id or None, what put them there)."""
    for override in schedule.overrides:
        if override.start <= at < override.end and override.user_id not in schedule.inactive:
            return override.user_id, f"override:{override.id}"
    for layer in reversed(schedule.layers):
        user = layer.on_call(at)
        if user is not None and user not in schedule.inactive:
            return user, f"layer:{layer.id}"
    return None, ""


def _boundaries(schedule: Schedule, start: float, end: float) -> list[float]:
    """Every moment in [start, end) where who is on call may change."""
    points = {start}
    for o in schedule.overrides:
        points.update(p for p in (o.start, o.end) if start < p < end)
    for layer in schedule.layers:
        first = layer.shift_index(max(start, layer.start))
        if first is None:
            continue
        index = first
        while len(points) < MAX_SHIFTS:
            s, e = layer.shift_bounds(index)
            if s >= end:
                break
            points.update(p for p in (s, e) if start < p < end)
            index += 1
        if layer.restriction is not None:
            points.update(_restriction_edges(layer, start, end))
        if layer.end is not None and start < layer.end < end:
            points.add(layer.end)
    return sorted(points)


def _restriction_edges(layer: Rotation, start: float, end: float) -> list[float]:
    assert layer.restriction is not None
    zone, edges = layer.zone, list[float]()
    day = dt.datetime.fromtimestamp(start, zone).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(end, zone).date()
    while day <= last and len(edges) < MAX_SHIFTS:
        for t in (layer.restriction.start, layer.restriction.end):
            moment = dt.datetime.combine(day, t, zone).timestamp()
            if start < moment < end:
                edges.append(moment)
        day += dt.timedelta(days=1)
    return edges


def shifts(schedule: Schedule, start: float, end: float) -> list[Shift]:
    """The final timeline between start and end: consecutive spans with the same person merged."""
    result: list[Shift] = []
    points = [*_boundaries(schedule, start, end), end]
    for a, b in itertools.pairwise(points):
        user, source = on_call_at(schedule, a)
        if user is None:
            continue
        if result and result[-1].user_id == user and result[-1].end == a and result[-1].source == source:
            result[-1] = Shift(result[-1].start, b, user, source)
        else:
            result.append(Shift(a, b, user, source))
    return result


# --- checks at save time ----------------------------------------------------------------


def check_timezone(name: str, field_path: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(field_path, f"unknown timezone {name!r}") from None
    return name


def check_rotation(rotation: Rotation, field_path: str) -> None:
    if not rotation.participants:
        raise ScheduleError(f"{field_path}.participants", "a rotation needs at least one participant")
    if rotation.unit not in UNITS:
        raise ScheduleError(f"{field_path}.unit", f"must be one of {', '.join(UNITS)}")
    if not 1 <= rotation.count <= 1000:
        raise ScheduleError(f"{field_path}.count", "must be between 1 and 1000")
    if rotation.end is not None and rotation.end <= rotation.start:
        raise ScheduleError(f"{field_path}.end", "must be after the start")
    check_timezone(rotation.timezone, f"{field_path}.timezone")


def check_overrides(overrides: Sequence[Override], field_path: str = "overrides") -> None:
    ordered = sorted(overrides, key=lambda o: o.start)
    for i, o in enumerate(ordered):
        if o.end <= o.start:
            raise ScheduleError(f"{field_path}[{i}].end", "must be after the start")
        if i and o.start < ordered[i - 1].end:
            raise ScheduleError(
                f"{field_path}[{i}]", "overlaps another override; shorten or remove one of them"
            )


def check_schedule(schedule: Schedule) -> None:
    check_timezone(schedule.timezone, "timezone")
    if not schedule.layers:
        raise ScheduleError("layers", "a schedule needs at least one rotation")
    for i, layer in enumerate(schedule.layers):
        check_rotation(layer, f"layers[{i}]")
    check_overrides(schedule.overrides)
