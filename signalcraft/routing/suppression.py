"""Silences, inhibition and maintenance windows: why an alert is kept but pages nobody.

- A **silence** mutes alerts whose labels match all its matchers, between its start and end.
- An **inhibition rule** mutes target alerts while a firing source alert exists whose labels
  in ``equal`` are the same (Alertmanager's ``inhibit_rules``); an alert never inhibits itself.
- A **maintenance window** covers alerts of some integrations (or all) matching its matchers,
  once (start/end) or weekly (weekdays + start time + duration, in a timezone, DST-correct).
Pure: the caller passes ``now`` and the candidate objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from signalcraft.routing.matchers import Matcher, all_match


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.active(now) and bool(self.matchers) and all_match(self.matchers, labels)


@dataclass(frozen=True)
class InhibitRule:
    id: int
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def inhibits(self, target_labels: Mapping[str, str], firing: Sequence[Mapping[str, str]]) -> bool:
        if not all_match(self.target, target_labels):
            return False
        for source_labels in firing:
            if source_labels is target_labels or dict(source_labels) == dict(target_labels):
                continue
            if all_match(self.source, source_labels) and all(
                source_labels.get(name, "") == target_labels.get(name, "") for name in self.equal
            ):
                return True
        return False


@dataclass(frozen=True)
class Weekly:
    weekdays: frozenset[int]  # 0 = Monday
    start: dt.time
    duration: dt.timedelta
    timezone: str = "UTC"


@dataclass(frozen=True)
class MaintenanceWindow:
    id: int
    integrations: tuple[int, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    starts_at: float | None = None  # one-off window
    ends_at: float | None = None
    weekly: Weekly | None = None

    def in_effect(self, now: float) -> bool:
        if self.weekly is None:
            return (
                self.starts_at is not None
                and self.ends_at is not None
                and self.starts_at <= now < self.ends_at
            )
        zone = ZoneInfo(self.weekly.timezone)
        local_now = dt.datetime.fromtimestamp(now, zone)
        # A window that started on one of the last few days may still be running.
        longest = max(1, self.weekly.duration.days + 1)
        for back in range(longest + 1):
            day = (local_now - dt.timedelta(days=back)).date()
            if day.weekday() not in self.weekly.weekdays:
                continue
            start = dt.datetime.combine(day, self.weekly.start, zone)  # wall-clock start, DST-aware
            if start.timestamp() <= now < start.timestamp() + self.weekly.duration.total_seconds():
                return True
        return False

    def covers(self, integration_id: int, labels: Mapping[str, str], now: float) -> bool:
        return (
            (not self.integrations or integration_id in self.integrations)
            and all_match(self.matchers, labels)
            and self.in_effect(now)
        )


@dataclass(frozen=True)
class Suppressed:
    reason: str  # silence | inhibited | maintenance
    by_id: int


def suppression_for(
    integration_id: int,
    labels: Mapping[str, str],
    now: float,
    *,
    silences: Sequence[Silence] = (),
    inhibit_rules: Sequence[InhibitRule] = (),
    firing: Sequence[Mapping[str, str]] = (),
    windows: Sequence[MaintenanceWindow] = (),
) -> Suppressed | None:
    """The first reason this alert pages nobody, or None."""
    for window in windows:
        if window.covers(integration_id, labels, now):
            return Suppressed("maintenance", window.id)
    for silence in silences:
        if silence.mutes(labels, now):
            return Suppressed("silence", silence.id)
    for rule in inhibit_rules:
        if rule.inhibits(labels, firing):
            return Suppressed("inhibited", rule.id)
    return None
