"""Schedule math across weeks and DST changes, with time as a parameter."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from signalcraft.oncall.schedule import (
    Override,
    Restriction,
    Rotation,
    Schedule,
    ScheduleError,
    check_overrides,
    check_schedule,
    on_call_at,
    shifts,
)

BERLIN = ZoneInfo("Europe/Berlin")
ADA, BOB, CY = 1, 2, 3


def at(*args: int, tz: ZoneInfo = BERLIN) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()


def weekly(**kw: object) -> Rotation:
    base = {
        "id": 1,
        "participants": (ADA, BOB, CY),
        "start": at(2026, 3, 2, 9),
        "unit": "weeks",
        "count": 1,
        "timezone": "Europe/Berlin",
    }
    return Rotation(**{**base, **kw})  # type: ignore[arg-type]


def who(schedule: Schedule, *moment: int) -> int | None:
    return on_call_at(schedule, at(*moment))[0]


def test_weekly_rotation_hands_over_at_the_local_handoff_time() -> None:
    s = Schedule(1, "primary", "Europe/Berlin", (weekly(),))
    assert who(s, 2026, 3, 2, 8, 59) is None  # before the first shift
    assert who(s, 2026, 3, 2, 9, 0) == ADA
    assert who(s, 2026, 3, 9, 8, 59) == ADA
    assert who(s, 2026, 3, 9, 9, 0) == BOB
    assert who(s, 2026, 3, 16, 9, 0) == CY
    assert who(s, 2026, 3, 23, 9, 0) == ADA  # round robin


def test_handoff_stays_at_nine_across_the_spring_and_autumn_dst_changes() -> None:
    s = Schedule(1, "primary", "Europe/Berlin", (weekly(),))
    # 2026-03-29 clocks go forward in Berlin; the shift that contains it is 167 hours long
    assert who(s, 2026, 3, 30, 8, 59) == ADA and who(s, 2026, 3, 30, 9, 0) == BOB
    (shift,) = [x for x in shifts(s, at(2026, 3, 23, 9), at(2026, 3, 30, 9))]
    assert shift.end - shift.start == 167 * 3600
    # 2026-10-25 clocks go back: still 09:00 local
    assert who(s, 2026, 10, 26, 8, 59) != who(s, 2026, 10, 26, 9, 0)


def test_daily_rotation_every_two_days() -> None:
    s = Schedule(1, "d", "UTC", (Rotation(1, (ADA, BOB), at(2026, 1, 1, 0, tz=dt.UTC), "days", 2, "UTC"),))
    assert [on_call_at(s, at(2026, 1, d, 12, tz=dt.UTC))[0] for d in range(1, 7)] == [
        ADA,
        ADA,
        BOB,
        BOB,
        ADA,
        ADA,
    ]


def test_hour_rotation_counts_absolute_time_even_across_dst() -> None:
    r = Rotation(1, (ADA, BOB), at(2026, 3, 29, 0), "hours", 12, "Europe/Berlin")
    s = Schedule(1, "h", "Europe/Berlin", (r,))
    # 00:00 CET + 12 h = 13:00 CEST (the clock jumped at 02:00)
    assert who(s, 2026, 3, 29, 12, 59) == ADA and who(s, 2026, 3, 29, 13, 0) == BOB


def test_a_later_layer_wins_where_it_has_someone() -> None:
    weekend = Rotation(
        2,
        (CY,),
        at(2026, 3, 2, 0),
        "weeks",
        1,
        "Europe/Berlin",
        restriction=Restriction(frozenset({5, 6}), dt.time(0), dt.time(0)),
    )
    s = Schedule(1, "layers", "Europe/Berlin", (weekly(), weekend))
    assert who(s, 2026, 3, 6, 12) == ADA  # Friday: the weekly layer
    assert who(s, 2026, 3, 7, 12) == CY  # Saturday: the weekend layer
    assert who(s, 2026, 3, 9, 12) == BOB  # Monday: weekly again


def test_an_override_replaces_whoever_is_on_call_and_the_timeline_shows_it() -> None:
    swap = Override(9, at(2026, 3, 4, 18), at(2026, 3, 5, 9), CY)
    s = Schedule(1, "primary", "Europe/Berlin", (weekly(),), (swap,))
    assert who(s, 2026, 3, 4, 17, 59) == ADA and who(s, 2026, 3, 4, 18) == CY and who(s, 2026, 3, 5, 9) == ADA
    timeline = shifts(s, at(2026, 3, 2, 9), at(2026, 3, 9, 9))
    assert [(x.user_id, x.source) for x in timeline] == [
        (ADA, "layer:1"),
        (CY, "override:9"),
        (ADA, "layer:1"),
    ]
    assert timeline[0].start == at(2026, 3, 2, 9) and timeline[-1].end == at(2026, 3, 9, 9)


def test_a_schedule_with_no_participants_is_refused_at_save_time() -> None:
    with pytest.raises(ScheduleError) as info:
        check_schedule(Schedule(1, "x", "UTC", (weekly(participants=()),)))
    assert info.value.field == "layers[0].participants"


def test_overlapping_overrides_are_refused_at_save_time() -> None:
    with pytest.raises(ScheduleError, match="overlaps"):
        check_overrides([Override(1, 0, 100, ADA), Override(2, 50, 150, BOB)])
    check_overrides([Override(1, 0, 100, ADA), Override(2, 100, 150, BOB)])  # touching is fine


def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(ScheduleError) as info:
        check_schedule(Schedule(1, "x", "Atlantis/Capital", (weekly(),)))
    assert info.value.field == "timezone"
