"""When a heartbeat monitor is late: pure functions of its schedule, its last pings and ``now``.

A heartbeat expects a ping every ``period_seconds`` or at every fire time of a cron
expression (in a time zone). After a success at ``T`` the next run is due at
``T + period`` (or the first cron time after ``T``); it is late once ``grace_seconds``
have passed after that without a success. A run that said "start" must finish within the
grace time (or ``max_runtime_seconds`` when Sentry set one). A monitor that has never been
pinged is "pending" and never late: nothing has run yet to be missed (as Healthchecks does).
"""

from __future__ import annotations

from dataclasses import dataclass

from signalcraft.uptime.cron import Cron, parse_cron


@dataclass(frozen=True, slots=True)
class HeartbeatSchedule:
    period_seconds: int | None = None
    cron: str = ""
    timezone: str = "UTC"
    grace_seconds: int = 0
    max_runtime_seconds: int | None = None

    @property
    def parsed_cron(self) -> Cron | None:
        return parse_cron(self.cron, self.timezone) if self.cron else None

    def next_run_after(self, epoch: float) -> float:
        parsed = self.parsed_cron
        if parsed is not None:
            return parsed.next_after(epoch)
        assert self.period_seconds is not None
        return epoch + self.period_seconds

    def describe(self) -> str:
        if self.cron:
            return f"cron {self.cron} ({self.timezone})"
        assert self.period_seconds is not None
        return f"every {duration_text(self.period_seconds)}"


def late_after(
    schedule: HeartbeatSchedule, last_ping_at: float | None, started_at: float | None
) -> float | None:
    """The moment the monitor goes down without a ping, or None while it is pending."""
    deadlines: list[float] = []
    if last_ping_at is not None:
        deadlines.append(schedule.next_run_after(last_ping_at) + schedule.grace_seconds)
    if started_at is not None and (last_ping_at is None or started_at >= last_ping_at):
        deadlines.append(started_at + (schedule.max_runtime_seconds or schedule.grace_seconds))
    return min(deadlines) if deadlines else None


def next_expected(schedule: HeartbeatSchedule, last_ping_at: float | None) -> float | None:
    return None if last_ping_at is None else schedule.next_run_after(last_ping_at)


def duration_text(seconds: float) -> str:
    """``90`` -> ``1 min 30 s``; for schedules, run durations and intervals."""
    whole = round(seconds)
    units = (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1))
    for unit, size, smaller, small_size in units:
        if whole >= size:
            count, rest = divmod(whole, size)
            extra = rest // small_size
            return f"{count} {unit}" + (f" {extra} {smaller}" if extra else "")
    return f"{whole} s"
