"""The monitor state machine: pure, one function of (state, result, now, policy).

- ``pending`` -> ``up`` on the first success; ``pending``/``up`` -> ``down`` after
  ``failures_before_down`` failures in a row; ``down`` -> ``up`` after
  ``successes_before_up`` successes in a row. Heartbeat pings are explicit verdicts
  (``after_verdict``): one is enough.
- Each change is remembered for ``flap_window`` seconds. With ``flap_changes`` changes in the
  window the monitor is flapping and its alert is *folded*: it fires once and stays open
  across the ups and downs (no resolve/fire pair per change, so no page per change) until
  the monitor has been up and stable for the window, then it resolves.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Status(enum.StrEnum):
    PENDING = "pending"
    UP = "up"
    DOWN = "down"


class AlertAction(enum.Enum):
    FIRE = "fire"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Policy:
    failures_before_down: int = 3
    successes_before_up: int = 1
    flap_changes: int = 5
    flap_window: float = 3600.0


@dataclass(frozen=True, slots=True)
class MonitorState:
    status: Status = Status.PENDING
    fail_streak: int = 0
    ok_streak: int = 0
    alert_open: bool = False
    flapping: bool = False
    changes: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    state: MonitorState
    changed_to: Status | None = None
    alert: AlertAction | None = None


def after_result(state: MonitorState, ok: bool, now: float, policy: Policy) -> Step:
    """The state after one probe result."""
    fails = 0 if ok else state.fail_streak + 1
    oks = state.ok_streak + 1 if ok else 0
    target = state.status
    if ok and (
        state.status is Status.PENDING or (state.status is Status.DOWN and oks >= policy.successes_before_up)
    ):
        target = Status.UP
    elif not ok and state.status is not Status.DOWN and fails >= policy.failures_before_down:
        target = Status.DOWN
    return _settle(replace(state, fail_streak=fails, ok_streak=oks), target, now, policy)


def after_verdict(state: MonitorState, up: bool, now: float, policy: Policy) -> Step:
    """The state after an explicit verdict (a heartbeat ping, a missed deadline)."""
    return after_result(state, up, now, replace(policy, failures_before_down=1, successes_before_up=1))


def _settle(state: MonitorState, target: Status, now: float, policy: Policy) -> Step:
    changes = tuple(t for t in state.changes if t > now - policy.flap_window)
    changed = target is not state.status
    if changed:
        changes = (*changes, now)[-policy.flap_changes :]
    flapping = len(changes) >= policy.flap_changes
    state = replace(state, status=target, changes=changes, flapping=flapping)
    action: AlertAction | None = None
    if target is Status.DOWN and (changed or (flapping and not state.alert_open)):
        action = AlertAction.FIRE  # while folded and already open this refreshes the alert's text
    elif target is Status.UP and state.alert_open and not flapping:
        action = AlertAction.RESOLVE
    if action is AlertAction.FIRE:
        state = replace(state, alert_open=True)
    elif action is AlertAction.RESOLVE:
        state = replace(state, alert_open=False)
    return Step(state, target if changed else None, action)


def after_pause(state: MonitorState) -> Step:
    """Paused: forget the streaks and the flapping; resolve an open alert (nothing to watch)."""
    action = AlertAction.RESOLVE if state.alert_open else None
    return Step(MonitorState(), None, action)
