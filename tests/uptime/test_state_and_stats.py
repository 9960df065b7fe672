"""Pure state machine (down after N failures, up after M successes, flapping folded into one
alert), packed samples and rollups, and uptime % from state changes."""

from __future__ import annotations

import datetime as dt

import pytest

from signalcraft.uptime import samples, stats
from signalcraft.uptime.state import AlertAction, MonitorState, Policy, Status, after_result, after_verdict

POLICY = Policy(failures_before_down=3, successes_before_up=2, flap_changes=4, flap_window=3600.0)


def run(results: str, policy: Policy = POLICY, every: float = 60.0) -> list[tuple[str, str]]:
    """Feed 'o'k / 'x' failures; return (status, alert action) after each."""
    state, out = MonitorState(), []
    for i, mark in enumerate(results):
        step = after_result(state, mark == "o", i * every, policy)
        state = step.state
        out.append((state.status.value, step.alert.value if step.alert else ""))
    return out


@pytest.mark.parametrize(
    ("results", "statuses", "alerts"),
    [
        ("o", "up", ""),
        ("xx", "pending pending", " "),
        ("oxxx", "up up up down", "   fire"),
        ("oxxxo", "up up up down down", "   fire "),
        ("oxxxoo", "up up up down down up", "   fire  resolve"),
        ("oxxoxx", "up up up up up up", "     "),  # a success resets the failure streak
    ],
)
def test_down_after_n_failures_up_after_m_successes(results: str, statuses: str, alerts: str) -> None:
    found = run(results)
    assert [s for s, _ in found] == statuses.split(" ")
    assert [a for _, a in found] == alerts.split(" ")


def test_flapping_is_folded_into_one_alert_until_stable() -> None:
    quick = Policy(1, 1, flap_changes=4, flap_window=600.0)
    state = MonitorState()
    actions = []
    for i, ok in enumerate([True, False, True, False, True, False, True]):
        step = after_result(state, ok, i * 60.0, quick)
        state = step.state
        actions.append(step.alert.value if step.alert else "")
    # down, up, down: then the fourth change makes it flapping: the alert stays open across changes
    assert actions == ["", "fire", "resolve", "fire", "", "fire", ""]
    assert state.flapping and state.alert_open and state.status is Status.UP
    quiet = after_result(state, True, 6 * 60.0 + 601.0, quick)  # stable for the window: resolve
    assert quiet.alert is AlertAction.RESOLVE and not quiet.state.flapping


def test_a_heartbeat_verdict_needs_no_streak() -> None:
    step = after_verdict(MonitorState(Status.UP), False, 0.0, POLICY)
    assert step.state.status is Status.DOWN and step.alert is AlertAction.FIRE


def test_samples_pack_into_three_bytes_and_roll_up() -> None:
    hour = 500_000
    data = b"".join(samples.pack(hour * 3600 + i * 30, i % 10 != 0, 100 + i) for i in range(120))
    assert len(data) == 360
    unpacked = list(samples.unpack(hour, data))
    assert unpacked[1].ok and unpacked[1].latency_ms == 101 and abs(unpacked[1].at - (hour * 3600 + 30)) < 15
    assert not unpacked[0].ok
    rollup = samples.rollup(hour, data)
    assert (rollup.checks, rollup.failures) == (120, 12)
    assert rollup.p50_ms == 159 and rollup.p95_ms == 214  # nearest rank over the 108 successes
    assert samples.pack(0.0, True, 10**9)[1:] == b"\x7f\xff"  # capped, never wraps into the failure bit


def test_uptime_counts_down_time_against_up_time_and_ignores_pending_and_paused() -> None:
    now = 10 * 86400.0
    changes = [(now - 86400, "up"), (now - 3600, "down"), (now - 1800, "up"), (now - 600, "paused")]
    found = stats.uptime_windows("pending", changes, now)
    assert found["24h"] == pytest.approx(100 * (86400 - 600 - 1800) / (86400 - 600))
    assert found["90d"] == found["24h"]  # before its first change the monitor counts for nothing
    assert stats.uptime_windows(None, [], now)["7d"] is None
    assert stats.format_percent(99.999) == "99.99%" and stats.format_percent(100.0) == "100%"


def test_ninety_day_bars_one_per_utc_day() -> None:
    now = dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC).timestamp()
    outage = dt.datetime(2026, 5, 30, 10, tzinfo=dt.UTC).timestamp()
    bars = stats.day_bars("up", [(outage, "down"), (outage + 864, "up")], now)
    assert len(bars) == 90 and bars[-1].day == dt.date(2026, 5, 31)
    assert bars[-2].percent == pytest.approx(99.0)
    assert bars[-1].percent == 100.0
