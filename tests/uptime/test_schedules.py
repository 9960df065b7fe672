"""Pure schedule math: cron parsing and next fire times (time zones, DST), heartbeat deadlines,
and how the scheduler spreads checks over their interval."""

from __future__ import annotations

import collections
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from signalcraft.uptime.cron import CronError, parse_cron
from signalcraft.uptime.model import Kind, TcpSettings
from signalcraft.uptime.schedule import HeartbeatSchedule, late_after
from signalcraft.uptime.scheduler import ProbeSpec, Scheduler


def at(text: str, zone: str = "UTC") -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def local(epoch: float, zone: str = "UTC") -> str:
    return dt.datetime.fromtimestamp(epoch, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("expr", "zone", "after", "expected"),
    [
        ("*/15 * * * *", "UTC", "2026-03-01T10:07", "2026-03-01 10:15"),
        ("0 3 * * *", "UTC", "2026-03-01T03:00", "2026-03-02 03:00"),
        ("@daily", "UTC", "2026-03-01T10:00", "2026-03-02 00:00"),
        ("30 9 * * mon-fri", "UTC", "2026-03-06T10:00", "2026-03-09 09:30"),  # Friday -> Monday
        ("0 0 29 2 *", "UTC", "2026-03-01T00:00", "2028-02-29 00:00"),  # leap day: years away, still fires
        ("0 12 1 * 0", "UTC", "2026-03-02T00:00", "2026-03-08 12:00"),  # day-of-month OR weekday (Sunday)
        ("5-50/15 8 * jan-mar *", "UTC", "2026-03-01T08:36", "2026-03-01 08:50"),
        ("0 9 * * *", "Europe/Paris", "2026-03-01T08:00", "2026-03-01 09:00"),
        # spring forward in Paris: 02:30 does not exist on 29 March 2026; it fires just after the jump
        ("30 2 * * *", "Europe/Paris", "2026-03-28T12:00", "2026-03-29 03:30"),
        # fall back: 02:30 happens twice on 25 October 2026; it fires once
        ("30 2 * * *", "Europe/Paris", "2026-10-25T00:00", "2026-10-25 02:30"),
    ],
)
def test_next_fire_time(expr: str, zone: str, after: str, expected: str) -> None:
    fired = parse_cron(expr, zone).next_after(at(after, zone))
    assert local(fired, zone) == expected


def test_a_repeated_hour_fires_only_once() -> None:
    cron = parse_cron("30 2 * * *", "Europe/Paris")
    first = cron.next_after(at("2026-10-25T00:00", "Europe/Paris"))
    assert local(cron.next_after(first), "Europe/Paris") == "2026-10-26 02:30"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("* * *", "expected 5 fields"),
        ("60 * * * *", "minute: '60' is outside 0-59"),
        ("* * * * 8", "day of week: '8' is outside 0-7"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("10-5 * * * *", "runs backwards"),
        ("* * * foo *", "month: 'foo' is not a number or a name"),
    ],
)
def test_bad_or_never_firing_expressions_are_refused(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expr)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(CronError, match="unknown time zone 'Mars/Olympus'"):
        parse_cron("0 3 * * *", "Mars/Olympus")


def test_a_period_heartbeat_is_late_after_period_plus_grace() -> None:
    schedule = HeartbeatSchedule(period_seconds=3600, grace_seconds=300)
    assert late_after(schedule, None, None) is None  # never pinged: pending, never late
    assert late_after(schedule, 1000.0, None) == 1000.0 + 3600 + 300


def test_a_cron_heartbeat_is_late_after_the_next_fire_time_plus_grace() -> None:
    schedule = HeartbeatSchedule(cron="0 3 * * *", timezone="Europe/Paris", grace_seconds=600)
    pinged = at("2026-06-01T03:02", "Europe/Paris")
    assert local(late_after(schedule, pinged, None) or 0, "Europe/Paris") == "2026-06-02 03:10"


def test_a_started_run_must_end_within_the_grace_time_or_max_runtime() -> None:
    assert late_after(HeartbeatSchedule(period_seconds=86400, grace_seconds=600), 0.0, 100.0) == 700.0
    sentry = HeartbeatSchedule(period_seconds=86400, grace_seconds=60, max_runtime_seconds=1800)
    assert late_after(sentry, 0.0, 100.0) == 1900.0


def spec(monitor_id: int, interval: float = 30.0) -> ProbeSpec:
    return ProbeSpec(monitor_id, 1, Kind.TCP, TcpSettings("127.0.0.1", 1), interval, 5.0, 0.0)


def test_a_thousand_monitors_are_spread_over_their_interval() -> None:
    scheduler = Scheduler()
    scheduler.sync([spec(i) for i in range(1, 1001)], {}, now=0.0)
    per_second = collections.Counter(int(due) for due in scheduler.due_at.values())
    assert len(per_second) == 30
    assert max(per_second.values()) <= 36  # 1000 / 30 = 33.3: no thundering herd


def test_checks_keep_their_rhythm_and_missed_runs_are_skipped_not_replayed() -> None:
    scheduler = Scheduler()
    scheduler.sync([spec(7, 60.0)], {7: 1000.0}, now=1010.0)
    assert scheduler.next_due() == 1060.0  # last check + interval
    assert [s.id for s, _ in scheduler.pop_due(1060.0)] == [7]
    assert scheduler.next_due() == 1120.0
    # the process was stopped for an hour: one check now-ish, not sixty
    due = scheduler.pop_due(4700.0)
    assert len(due) == 1
    following = scheduler.next_due()
    assert following is not None and 4700.0 < following <= 4760.0


def test_removed_and_changed_monitors_leave_the_schedule() -> None:
    scheduler = Scheduler()
    scheduler.sync([spec(1), spec(2)], {}, now=0.0)
    scheduler.sync([spec(2, 120.0)], {}, now=0.0)
    assert set(scheduler.due_at) == {2}
    assert [s.id for s, _ in scheduler.pop_due(1000.0)] == [2]
