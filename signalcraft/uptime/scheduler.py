"""When each probe runs: pure timing, ``now`` always a parameter.

Checks are spread over their interval instead of all starting together (no thundering herd
after a restart or when many monitors share an interval): a monitor's checks fall on a fixed
phase of its interval, ``frac(id * golden ratio) * interval``, which scatters consecutive ids
evenly. A monitor checked recently keeps its rhythm (next = last + interval). Missed runs
(the process was down, or a check outlived its interval) are skipped, never replayed in a burst.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from signalcraft.uptime.model import Kind, ProbeSettings

GOLDEN = 0.6180339887498949


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    id: int
    workspace_id: int
    kind: Kind
    settings: ProbeSettings
    interval: float
    timeout: float
    version: float  # the monitor's updated_at: a result of an older version is dropped


def phase(monitor_id: int, interval: float) -> float:
    return ((monitor_id * GOLDEN) % 1.0) * interval


def next_slot(monitor_id: int, interval: float, after: float) -> float:
    """The first moment at or after ``after`` on the monitor's phase."""
    return after + (phase(monitor_id, interval) - after) % interval


class Scheduler:
    def __init__(self) -> None:
        self.specs: dict[int, ProbeSpec] = {}
        self.due_at: dict[int, float] = {}
        self._heap: list[tuple[float, int, int]] = []  # (due, monitor id, token)
        self._token: dict[int, int] = {}

    def _push(self, monitor_id: int, due: float) -> None:
        token = self._token.get(monitor_id, 0) + 1
        self._token[monitor_id] = token
        self.due_at[monitor_id] = due
        heapq.heappush(self._heap, (due, monitor_id, token))

    def sync(self, specs: list[ProbeSpec], last_checks: dict[int, float | None], now: float) -> None:
        """Make the schedule match the monitors (added, changed, removed)."""
        fresh = {s.id: s for s in specs}
        for monitor_id in set(self.specs) - set(fresh):
            del self.specs[monitor_id]
            self.due_at.pop(monitor_id, None)
            self._token.pop(monitor_id, None)
        for spec in specs:
            old = self.specs.get(spec.id)
            self.specs[spec.id] = spec
            if old is not None and old.interval == spec.interval and spec.id in self.due_at:
                continue
            last = last_checks.get(spec.id)
            if last is not None and now < last + spec.interval < now + spec.interval:
                self._push(spec.id, last + spec.interval)
            else:
                self._push(spec.id, next_slot(spec.id, spec.interval, now))
        if len(self._heap) > 4 * len(self.specs) + 64:
            self._heap = [(d, i, t) for d, i, t in self._heap if self._token.get(i) == t]
            heapq.heapify(self._heap)

    def _valid(self, entry: tuple[float, int, int]) -> bool:
        return self._token.get(entry[1]) == entry[2]

    def pop_due(self, now: float) -> list[tuple[ProbeSpec, float]]:
        """The checks due at ``now`` (with when each was due); each is rescheduled."""
        found = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if not self._valid(entry):
                continue
            due, monitor_id, _ = entry
            spec = self.specs[monitor_id]
            found.append((spec, due))
            following = due + spec.interval
            if following <= now:
                following = next_slot(monitor_id, spec.interval, now + 1e-6)
            self._push(monitor_id, following)
        return found

    def next_due(self) -> float | None:
        while self._heap and not self._valid(self._heap[0]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def force(self, monitor_id: int, now: float) -> None:
        if monitor_id in self.specs:
            self._push(monitor_id, now)
