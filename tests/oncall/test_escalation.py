"""Escalation policies step by step, with time as a parameter, and the iCal feed."""

from __future__ import annotations

import pytest

from signalcraft.oncall.escalation import (
    Policy,
    PolicyError,
    Step,
    Target,
    check_policy,
    due_steps,
    fire,
    start,
)
from signalcraft.oncall.ical import calendar
from signalcraft.oncall.schedule import Shift

ALICE, PRIMARY, SLACK = Target("user", 1), Target("schedule", 7), Target("channel", 3)
POLICY = Policy(1, "default", (Step((PRIMARY,), 5), Step((ALICE, SLACK), 10)), repeat=1)


def test_steps_fire_in_order_and_the_policy_repeats_then_ends() -> None:
    state = start(1000.0)
    seen = []
    while state is not None:
        targets, state = fire(POLICY, state)
        seen.append((targets, state.next_at if state else None))
    assert seen == [
        ((PRIMARY,), 1300.0),
        ((ALICE, SLACK), 1900.0),
        ((PRIMARY,), 2200.0),
        ((ALICE, SLACK), None),
    ]


def test_only_due_steps_fire_and_a_restart_catches_up_in_order() -> None:
    fired, state = due_steps(POLICY, start(0.0), now=0.0)
    assert fired == [(PRIMARY,)] and state is not None and state.next_at == 300.0
    fired, state = due_steps(POLICY, state, now=299.0)
    assert fired == []
    # down for an hour: everything that came due fires once, in order
    fired, state = due_steps(POLICY, state, now=3600.0)
    assert fired == [(ALICE, SLACK), (PRIMARY,), (ALICE, SLACK)] and state is None


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (Policy(1, "", (Step((ALICE,), 1),)), "name"),
        (Policy(1, "p", ()), "steps"),
        (Policy(1, "p", (Step((), 1),)), "steps[0].targets"),
        (Policy(1, "p", (Step((ALICE,), -1),)), "steps[0].wait_minutes"),
        (Policy(1, "p", (Step((Target("pager", 1),), 1),)), "steps[0].targets[0].kind"),
        (Policy(1, "p", (Step((ALICE,), 1),), repeat=99), "repeat"),
    ],
)
def test_bad_policies_are_refused_at_save_time(policy: Policy, field: str) -> None:
    with pytest.raises(PolicyError) as info:
        check_policy(policy, {})
    assert info.value.field == field


def test_an_escalation_loop_is_refused() -> None:
    a = Policy(1, "team-a", (Step((Target("policy", 2),), 5),))
    b = Policy(2, "team-b", (Step((Target("policy", 1),), 5),))
    with pytest.raises(PolicyError, match="team-a -> team-b -> team-a"):
        check_policy(a, {2: b})
    check_policy(Policy(3, "ok", (Step((Target("policy", 2),), 5),)), {})  # unknown target: no loop


def test_ical_feed_has_one_event_per_shift_in_utc() -> None:
    text = calendar(
        "Primary; DB",
        [Shift(0, 3600, 1, "layer:1"), Shift(3600, 7200, 2, "override:3")],
        {1: "Ada", 2: "Bob"},
        uid_prefix="s1",
        now=0,
    )
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert text.count("BEGIN:VEVENT") == 2
    assert "DTSTART:19700101T000000Z" in text and "DTEND:19700101T020000Z" in text
    assert "SUMMARY:On call: Ada (Primary\\; DB)" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
