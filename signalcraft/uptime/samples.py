"""Raw check results packed three bytes each, and the hourly rollups computed from them.

Storage is the budget that matters (0.02 MB per monitor per day at most): a 30-second
monitor makes 2,880 results a day, so a result is 3 bytes appended to one row per monitor
and hour instead of a row of its own (about 30 bytes with SQLite's overhead):

- byte 0: when in the hour, in units of ``SLOT_SECONDS`` (0..255; 14.1 s resolution);
- bytes 1-2 (big-endian): bit 15 set for a failure, bits 0-14 the latency in milliseconds,
  capped at 32,767 (a failure's latency is how long the check took to fail).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

HOUR = 3600
SLOT_SECONDS = HOUR / 256
MAX_LATENCY_MS = 0x7FFF
_FAILED = 0x8000


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    ok: bool
    latency_ms: int


@dataclass(frozen=True, slots=True)
class Rollup:
    hour: int
    checks: int
    failures: int
    p50_ms: int | None
    p95_ms: int | None

    @property
    def start(self) -> float:
        return float(self.hour * HOUR)


def hour_of(epoch: float) -> int:
    return int(epoch // HOUR)


def pack(at: float, ok: bool, latency_ms: int) -> bytes:
    slot = min(255, int((at % HOUR) / SLOT_SECONDS))
    value = min(max(latency_ms, 0), MAX_LATENCY_MS) | (0 if ok else _FAILED)
    return bytes((slot, value >> 8, value & 0xFF))


def unpack(hour: int, data: bytes) -> Iterator[Sample]:
    base = hour * HOUR
    for i in range(0, len(data) - len(data) % 3, 3):
        value = (data[i + 1] << 8) | data[i + 2]
        yield Sample(base + data[i] * SLOT_SECONDS, not value & _FAILED, value & MAX_LATENCY_MS)


def percentile(sorted_values: Sequence[int], fraction: float) -> int | None:
    """Nearest-rank percentile of an ascending sequence; None when it is empty."""
    if not sorted_values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(sorted_values) // 1000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def rollup(hour: int, data: bytes) -> Rollup:
    """Checks, failures and the latency p50/p95 of the successful checks of one hour."""
    samples = list(unpack(hour, data))
    latencies = sorted(s.latency_ms for s in samples if s.ok)
    failures = sum(1 for s in samples if not s.ok)
    return Rollup(hour, len(samples), failures, percentile(latencies, 0.5), percentile(latencies, 0.95))
