"""The escalation engine: runs policies against alert groups, durably.

A run is a row (``escalation_runs``) holding the policy's position and ``next_at``, the time its
next step is due; nothing lives only in memory, so a restart continues on time. Routing starts
runs for the policies of a decision in its own transaction and fires the first step at once.
Later steps are fired by :func:`sweep`, called by a Huey task scheduled for ``next_at`` and by
a once-a-minute periodic task (the safety net after a crash). Each step is claimed by
compare-and-set on (step, round, next_at), so two sweeps never fire it twice.

A fired step resolves its targets at that moment: a schedule to whoever is on call, a person
to their notification rules for the alert's urgency, a channel to itself. What must be sent
becomes a notice (``escalation_notices``), due now or after the rule's delay; a due notice is
written to the notification outbox unless the group was acknowledged or resolved meanwhile.
Acknowledging or resolving a group stops its runs (:func:`stop_for_group`); every fire also
checks the group first. A snoozed group's steps wait until it wakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apsw
from huey import crontab

from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import escalation as eq
from signalcraft.errors import NotFound
from signalcraft.ingest.model import Severity
from signalcraft.notify import outbox
from signalcraft.oncall import escalation as esc
from signalcraft.oncall import store

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.context import AppContext

HIGH_URGENCY = frozenset({Severity.ERROR, Severity.CRITICAL})
STOPPING = frozenset({"acknowledged", "resolved"})
DEFAULT_EMAIL_NAME = "Email"


@dataclass
class Woken:
    """What a transaction of the engine did, for the caller to act on after the commit."""

    notification_ids: list[int] = field(default_factory=list)
    groups: dict[int, set[int]] = field(default_factory=dict)  # workspace id -> group ids

    def touched(self, workspace_id: int, group_id: int) -> None:
        self.groups.setdefault(workspace_id, set()).add(group_id)


def urgency_of(severity: int) -> str:
    """Error and critical alerts are high urgency; info and warning are normal."""
    return "high" if severity in HIGH_URGENCY else "normal"


def policy_model(row: eq.PolicyRow) -> esc.Policy:
    """A stored (already validated) policy document as the pure model."""
    steps = tuple(
        esc.Step(tuple(esc.Target(t["kind"], int(t["id"])) for t in s["targets"]), int(s["wait_minutes"]))
        for s in row.doc.get("steps", [])
    )
    return esc.Policy(row.id, row.name, steps, int(row.doc.get("repeat", 0)))


# --- starting and stopping -----------------------------------------------------------------


def start_escalations(
    conn: apsw.Connection,
    workspace_id: int,
    group_id: int,
    event_id: int | None,
    policy_ids: list[int],
    now: float,
) -> Woken:
    """Start a run per policy (one already escalating this group is left alone) and fire
    each first step now, in the caller's transaction."""
    woken = Woken()
    for policy_id in dict.fromkeys(policy_ids):
        row = eq.policy(conn, workspace_id, policy_id)
        if row is None:  # deleted since the routing rule was saved
            aq.add_event(
                conn, workspace_id, group_id, None, "escalation_skipped", now, "escalation",
                {"policy_id": policy_id, "reason": "the policy no longer exists"},
            )  # fmt: skip
            continue
        run_id = eq.insert_run(conn, workspace_id, group_id, row.id, row.name, event_id, now)
        if run_id is not None:
            advance(conn, run_id, now, woken)
    return woken


def stop_for_group(conn: apsw.Connection, workspace_id: int, group_id: int, reason: str, now: float) -> int:
    """Stop every running escalation of the group (acknowledged, resolved); returns how many."""
    stopped = 0
    for run_id in eq.live_run_ids(conn, group_id=group_id):
        found = eq.run(conn, run_id)
        if found is not None and found.workspace_id == workspace_id:
            stopped += _stop(conn, found, reason, now)
    return stopped


def stop_for_policy(conn: apsw.Connection, workspace_id: int, policy_id: int, reason: str, now: float) -> int:
    stopped = 0
    for run_id in eq.live_run_ids(conn, policy_id=policy_id):
        found = eq.run(conn, run_id)
        if found is not None and found.workspace_id == workspace_id:
            stopped += _stop(conn, found, reason, now)
    return stopped


def _stop(conn: apsw.Connection, current: eq.RunRow, reason: str, now: float) -> int:
    if not eq.stop_run(conn, current.id, reason, now):
        return 0
    cancelled = eq.cancel_notices_of_run(conn, current.id)
    detail = {"run_id": current.id, "policy": current.policy_name, "reason": reason, "cancelled": cancelled}
    aq.add_event(
        conn, current.workspace_id, current.group_id, None, "escalation_stopped", now, "escalation", detail
    )
    return 1


# --- firing --------------------------------------------------------------------------------


def sweep(conn: apsw.Connection, now: float) -> Woken:
    """Fire every due step and send every due notice (idempotent: safe to run any time)."""
    woken = Woken()
    for run_id in eq.due_run_ids(conn, now):
        advance(conn, run_id, now, woken)
    for notice in eq.due_notices(conn, now):
        _deliver_notice(conn, notice, now, woken)
    return woken


def advance(conn: apsw.Connection, run_id: int, now: float, woken: Woken | None = None) -> Woken:
    """Fire the run's due steps (several after downtime), claimed by compare-and-set."""
    woken = woken if woken is not None else Woken()
    current = eq.run(conn, run_id)
    if current is None or current.status != "running" or current.next_at is None or current.next_at > now:
        return woken
    group = aq.get_group(conn, current.workspace_id, current.group_id)
    if group is None or group.status in STOPPING:
        _stop(conn, current, group.status if group else "the alert group is gone", now)
        return woken
    if group.status == "snoozed":  # stays due: the sweep after the group wakes fires it
        return woken
    policies = {p.id: policy_model(p) for p in eq.policies_of(conn, current.workspace_id)}
    policy = policies.get(current.policy_id or 0)
    if policy is None or not policy.steps:
        _stop(conn, current, "the policy was deleted", now)
        return woken
    state: esc.EscalationState | None = esc.EscalationState(
        min(current.step, len(policy.steps) - 1), current.round, current.next_at
    )
    fired: list[tuple[int, int, tuple[esc.Target, ...]]] = []
    while state is not None and state.next_at <= now and len(fired) < esc.MAX_STEPS * (esc.MAX_REPEAT + 1):
        position = (state.step, state.round)
        targets, state = esc.fire(policy, state)
        fired.append((*position, targets))
    if state is None:
        claimed = eq.claim_step(conn, current, current.step, current.round, None, len(fired), now)
    else:
        claimed = eq.claim_step(conn, current, state.step, state.round, state.next_at, len(fired), now)
    if not claimed:  # another sweep fired it
        return woken
    for step, round_, targets in fired:
        _fire_step(conn, current, group, policies, step, round_, targets, now, woken)
    if state is None:
        aq.add_event(
            conn, current.workspace_id, current.group_id, None, "escalation_finished", now, "escalation",
            {"run_id": current.id, "policy": current.policy_name},
        )  # fmt: skip
    woken.touched(current.workspace_id, current.group_id)
    return woken


@dataclass
class _Plan:
    targets: list[str] = field(default_factory=list)
    sends: dict[tuple[int, int], int | None] = field(default_factory=dict)  # (channel, delay) -> user
    problems: list[str] = field(default_factory=list)


def _fire_step(
    conn: apsw.Connection,
    current: eq.RunRow,
    group: aq.GroupRow,
    policies: dict[int, esc.Policy],
    step: int,
    round_: int,
    targets: tuple[esc.Target, ...],
    now: float,
    woken: Woken,
) -> None:
    ws = current.workspace_id
    plan = _Plan()
    for target in esc.flatten(targets, policies):
        _plan_target(conn, ws, target, urgency_of(group.severity), now, plan)
    detail: dict[str, Any] = {
        "run_id": current.id,
        "policy": current.policy_name,
        "step": step + 1,
        "round": round_ + 1,
        "targets": plan.targets,
        "urgency": urgency_of(group.severity),
        "problems": plan.problems,
    }
    event_id = aq.add_event(conn, ws, group.id, None, "escalated", now, "escalation", detail)
    for (channel_id, delay), user_id in plan.sends.items():
        notice_id = eq.insert_notice(
            conn, ws, current.id, group.id, event_id, user_id, channel_id, now + delay * 60.0, now
        )
        if delay == 0:
            found = eq.notice(conn, notice_id)
            assert found is not None
            _deliver_notice(conn, found, now, woken, immediate=True)


def _plan_target(
    conn: apsw.Connection, ws: int, target: esc.Target, urgency: str, now: float, plan: _Plan
) -> None:
    if target.kind == "channel":
        try:
            channel = cq.get(conn, ws, target.id)
        except NotFound:
            plan.problems.append(f"channel {target.id} no longer exists")
            return
        plan.targets.append(f"channel {channel.name}")
        plan.sends.setdefault((channel.id, 0), None)
        return
    if target.kind in ("schedule", "schedule_next"):
        find = store.on_call_user_ids if target.kind == "schedule" else store.next_on_call_user_ids
        users = find(conn, ws, target.id, now)
        label = "on call" if target.kind == "schedule" else "next on call"
        if not users:
            plan.problems.append(f"nobody is {label} in schedule {target.id}")
        for user_id in users:
            _plan_user(conn, ws, user_id, urgency, now, plan, f" ({label}, schedule {target.id})")
        return
    if target.kind == "user":
        _plan_user(conn, ws, target.id, urgency, now, plan, "")
        return
    plan.problems.append(f"{target.kind} {target.id} cannot be notified")


def _plan_user(
    conn: apsw.Connection, ws: int, user_id: int, urgency: str, now: float, plan: _Plan, why: str
) -> None:
    user = q.user_by_id(conn, user_id)
    if user is None or q.role_in(conn, user_id, ws) is None:
        plan.problems.append(f"user {user_id} is not a member of this workspace")
        return
    plan.targets.append(f"{user.email}{why}")
    methods = methods_for(conn, ws, user_id, urgency, now)
    if not methods:
        plan.problems.append(f"{user.email} has no contact method and the workspace has no email channel")
    for channel_id, delay in methods:
        plan.sends.setdefault((channel_id, delay), user_id)


def methods_for(
    conn: apsw.Connection, ws: int, user_id: int, urgency: str, now: float
) -> list[tuple[int, int]]:
    """(contact method, delay in minutes) for a person at this urgency: their rules; without
    rules for it, each of their contact methods at once; without any, an email to their
    account address (created on first use through the workspace's email channel)."""
    rules = eq.rules_of(conn, ws, user_id, urgency)
    if rules:
        return [(r.channel_id, r.delay_minutes) for r in rules]
    methods = cq.list_for(conn, ws, owner_user_id=user_id)
    if methods:
        return [(m.id, 0) for m in methods]
    user = q.user_by_id(conn, user_id)
    relay = relay_email_config(conn, ws, user.email) if user else None
    if relay is None:
        return []
    channel = cq.create(conn, ws, "email", DEFAULT_EMAIL_NAME, relay[0], relay[1], now, owner_user_id=user_id)
    return [(channel.id, 0)]


def relay_email_config(
    conn: apsw.Connection, ws: int, address: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A personal email contact method's (public, secret) configuration: the workspace's first
    working email channel's SMTP server, sending to ``address``; None without such a channel."""
    for channel in cq.list_for(conn, ws):
        if channel.kind == "email" and channel.broken_at is None:
            public = {k: v for k, v in channel.config.items() if k != "template"}
            return {**public, "to": [address]}, dict(channel.secret_config)
    return None


def _deliver_notice(
    conn: apsw.Connection, notice: eq.NoticeRow, now: float, woken: Woken, *, immediate: bool = False
) -> None:
    group = aq.get_group(conn, notice.workspace_id, notice.group_id)
    if group is None or group.status in STOPPING:
        eq.cancel_notice(conn, notice.id)
        return
    if group.status == "snoozed":
        return
    notification_id = outbox.enqueue(
        conn,
        workspace_id=notice.workspace_id,
        channel_id=notice.channel_id,
        group_id=notice.group_id,
        event_kind="escalated",
        now=now,
        # At the step: the step's event makes the key (one per channel, as the plan dedups);
        # a delayed rule's message to the same contact method is a new one with its own key.
        event_id=notice.event_id if immediate else None,
    )
    if eq.mark_notice_sent(conn, notice.id, notification_id):
        woken.notification_ids.append(notification_id)
        woken.touched(notice.workspace_id, notice.group_id)


# --- the Huey edge -------------------------------------------------------------------------


def after_commit(ctx: AppContext, woken: Woken) -> None:
    """Wake delivery for the outbox rows, tell live inboxes, and schedule the next wake-up."""
    if woken.notification_ids:
        from signalcraft.notify.tasks import dispatch

        dispatch(ctx, woken.notification_ids)
    bus = ctx.extras.get("alert_bus")
    if bus is not None:
        for workspace_id, group_ids in woken.groups.items():
            bus.publish(workspace_id, sorted(group_ids))
    schedule_next_wake(ctx)


def schedule_next_wake(ctx: AppContext) -> float | None:
    """Schedule the wake-up task for the earliest due step or notice (once per time)."""
    due = ctx.db.read(eq.next_wake)
    task: Any = ctx.extras.get("tasks", {}).get("escalation_wake")
    scheduled: set[float] = ctx.extras.setdefault("escalation_wakes", set())
    if due is None or task is None or due in scheduled:
        return due
    now = ctx.now()
    scheduled.difference_update({t for t in scheduled if t < now})
    scheduled.add(due)
    task.schedule(delay=max(0.0, due - now))
    return due


def run_sweep(ctx: AppContext) -> Woken:
    now = ctx.now()
    woken = ctx.db.write(lambda c: sweep(c, now))
    after_commit(ctx, woken)
    return woken


def register(huey: Huey, ctx: AppContext) -> dict[str, object]:
    """``escalation_wake`` runs at a step's ``next_at`` (scheduled with a delay, kept in the
    queue's database across restarts); ``escalation_sweep`` runs every minute as the safety net."""

    @huey.task(name="escalation_wake")
    def escalation_wake() -> int:
        return len(run_sweep(ctx).notification_ids)

    @huey.periodic_task(crontab(minute="*"), name="escalation_sweep")
    def escalation_sweep() -> int:
        return len(run_sweep(ctx).notification_ids)

    return {"escalation_wake": escalation_wake, "escalation_sweep": escalation_sweep}
