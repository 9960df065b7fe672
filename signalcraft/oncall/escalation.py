"""Escalation policies (pure): ordered steps, each notifying targets and then waiting N minutes
before the next; the whole policy may repeat. The caller stops an escalation as soon as the
alert group is acknowledged or resolved, and stores the state so a restart continues on time.

Targets: a user, a schedule's current on-call (``schedule``), the person after them in the
rotation (``schedule_next``), a channel, or another policy (handing over; loops are refused
at save time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TARGET_KINDS = ("user", "schedule", "schedule_next", "channel", "policy")
MAX_STEPS = 20
MAX_REPEAT = 10
MAX_WAIT_MINUTES = 24 * 60


class PolicyError(ValueError):
    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


@dataclass(frozen=True)
class Target:
    kind: str
    id: int


@dataclass(frozen=True)
class Step:
    targets: tuple[Target, ...]
    wait_minutes: int  # after notifying, before the next step


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0  # extra rounds after the first


@dataclass(frozen=True)
class EscalationState:
    step: int
    round: int
    next_at: float


def start(now: float) -> EscalationState:
    return EscalationState(step=0, round=0, next_at=now)


def fire(policy: Policy, state: EscalationState) -> tuple[tuple[Target, ...], EscalationState | None]:
    """The targets of the due step, and the state after it (None: the policy is exhausted)."""
    step = policy.steps[state.step]
    next_at = state.next_at + step.wait_minutes * 60.0
    if state.step + 1 < len(policy.steps):
        return step.targets, EscalationState(state.step + 1, state.round, next_at)
    if state.round < policy.repeat:
        return step.targets, EscalationState(0, state.round + 1, next_at)
    return step.targets, None


def due_steps(
    policy: Policy, state: EscalationState, now: float
) -> tuple[list[tuple[Target, ...]], EscalationState | None]:
    """Every step due by ``now`` (after downtime several may be), in order."""
    fired: list[tuple[Target, ...]] = []
    current: EscalationState | None = state
    while current is not None and current.next_at <= now and len(fired) < MAX_STEPS * (MAX_REPEAT + 1):
        targets, current = fire(policy, current)
        fired.append(targets)
    return fired, current


def check_policy(policy: Policy, others: Mapping[int, Policy]) -> None:
    """Refuse at save time what would misbehave at 3 a.m.: no steps, silly waits, loops."""
    if not policy.name.strip():
        raise PolicyError("name", "give the policy a name")
    if not policy.steps:
        raise PolicyError("steps", "a policy needs at least one step")
    if len(policy.steps) > MAX_STEPS:
        raise PolicyError("steps", f"at most {MAX_STEPS} steps")
    if not 0 <= policy.repeat <= MAX_REPEAT:
        raise PolicyError("repeat", f"between 0 and {MAX_REPEAT}")
    for i, step in enumerate(policy.steps):
        if not step.targets:
            raise PolicyError(f"steps[{i}].targets", "a step needs at least one target")
        if not 0 <= step.wait_minutes <= MAX_WAIT_MINUTES:
            raise PolicyError(f"steps[{i}].wait_minutes", f"between 0 and {MAX_WAIT_MINUTES}")
        for j, target in enumerate(step.targets):
            if target.kind not in TARGET_KINDS:
                raise PolicyError(f"steps[{i}].targets[{j}].kind", f"one of {', '.join(TARGET_KINDS)}")
    if loop := _loop_from(policy, {**others, policy.id: policy}):
        raise PolicyError("steps", "escalation loop: " + " -> ".join(loop))


def _loop_from(policy: Policy, policies: Mapping[int, Policy]) -> list[str]:
    path: list[int] = []

    def visit(current: Policy) -> list[str]:
        if current.id in path:
            cycle = [*path[path.index(current.id) :], current.id]
            return [policies[p].name if p in policies else str(p) for p in cycle]
        path.append(current.id)
        for step in current.steps:
            for target in step.targets:
                if target.kind == "policy" and target.id in policies:
                    found = visit(policies[target.id])
                    if found:
                        return found
        path.pop()
        return []

    return visit(policy)


def flatten(targets: Sequence[Target], policies: Mapping[int, Policy]) -> list[Target]:
    """A step's targets with hand-overs to other policies replaced by their first step's targets."""
    result: list[Target] = []
    for target in targets:
        if target.kind == "policy" and target.id in policies and policies[target.id].steps:
            result.extend(t for t in policies[target.id].steps[0].targets if t.kind != "policy")
        else:
            result.append(target)
    return result
