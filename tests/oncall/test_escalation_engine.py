"""The escalation engine on a real database: steps fire when due (checked across more than a
week with a FakeClock, nothing sleeps), repeat, stop on acknowledge and resolve, resolve a
schedule to whoever is on call at that moment, follow each person's rules by urgency with
their delays, and continue on time after a restart. Delivery goes to a real loopback HTTP
receiver and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller

from signalcraft.alert_actions import Change, act
from signalcraft.auth.rbac import Role
from signalcraft.config import Settings
from signalcraft.db import Database
from signalcraft.db.connection import rows
from signalcraft.db.queries import alert_work as aw
from signalcraft.db.queries import audit
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import escalation as eq
from signalcraft.notify.base import split_secrets
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.http import NOTIFY_POLICY, OutboundHttp
from signalcraft.notify.registry import TRANSPORTS
from signalcraft.notify.tasks import build_notifier
from signalcraft.oncall import engine, store
from signalcraft.runtime import Parts, build
from signalcraft.web.api_escalation import save_policy
from tests.helpers import FakeClock, Member, free_port, member
from tests.notify.test_channels import Receiver, alert_group, create_channel, notifying, receiving

MINUTE, DAY = 60.0, 86400.0
SECRET = "a-long-shared-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    yield from notifying(parts)


@pytest.fixture
def ana(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "ana@example.com", Role.RESPONDER, "acme", clock())


@pytest.fixture
def ben(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "ben@example.com", Role.RESPONDER, "acme", clock())


def contact(notifier: Notifier, who: Member, name: str, url: str) -> int:
    """A personal webhook contact method of ``who``."""
    transport = TRANSPORTS["webhook"]
    public, secret = split_secrets(
        transport, notifier.run(transport.check_config({"url": url, "secret": SECRET}, notifier.deps))
    )
    now = notifier.clock()
    return notifier.db.write(
        lambda c: (
            cq.create(c, who.workspace.id, "webhook", name, public, secret, now, owner_user_id=who.user.id).id
        )
    )


def policy(
    db: Database, ws_id: int, now: float, steps: list[tuple[list[tuple[str, int]], int]], repeat: int = 0
) -> int:
    doc = {
        "name": f"policy {now}",
        "steps": [{"targets": [{"kind": k, "id": i} for k, i in t], "wait_minutes": w} for t, w in steps],
        "repeat": repeat,
    }
    return db.write(lambda c: save_policy(c, ws_id, None, doc, audit.SYSTEM, now).id)


def start(db: Database, ws_id: int, group_id: int, policy_id: int, now: float) -> engine.Woken:
    return db.write(lambda c: engine.start_escalations(c, ws_id, group_id, None, [policy_id], now))


def sweep(db: Database, now: float) -> engine.Woken:
    return db.write(lambda c: engine.sweep(c, now))


def sent_channels(db: Database, group_id: int) -> list[int]:
    """Channel ids of the group's escalation outbox rows, in order."""
    found = db.read(
        lambda c: rows(
            c,
            "SELECT channel_id FROM notifications WHERE group_id = ? AND event_kind = 'escalated'"
            " ORDER BY id",
            (group_id,),
        )
    )  # fmt: skip
    return [r[0] for r in found]


def run_of(db: Database, ws_id: int, group_id: int) -> eq.RunRow:
    (found,) = db.read(lambda c: eq.runs_of_group(c, ws_id, group_id))
    return found


def timeline(db: Database, group_id: int) -> list[tuple[str, dict[str, Any]]]:
    found = db.read(
        lambda c: rows(c, "SELECT kind, detail FROM alert_events WHERE group_id = ? ORDER BY id", (group_id,))
    )
    return [(r[0], orjson.loads(r[1])) for r in found]


def test_steps_fire_when_due_and_the_policy_repeats_across_eight_days(
    parts: Parts, notifier: Notifier, clock: FakeClock, ana: Member
) -> None:
    db, ws = parts.ctx.db, ana.workspace.id
    group = alert_group(db, "acme", clock())
    phone = contact(notifier, ana, "Phone", "http://127.0.0.2:9/phone")
    ops = create_channel(notifier, "acme", "webhook", {"url": "http://127.0.0.2:9/ops", "secret": SECRET})
    pid = policy(db, ws, clock(), [([("user", ana.user.id)], 1440), ([("channel", ops)], 1440)], repeat=3)
    start(db, ws, group, pid, clock())
    assert sent_channels(db, group) == [phone]
    expected = [phone]
    for day in range(1, 10):
        clock.advance(DAY - MINUTE)
        sweep(db, clock())
        assert sent_channels(db, group) == expected, f"nothing is due a minute before day {day}"
        clock.advance(MINUTE)
        sweep(db, clock())
        if day < 8:
            expected.append(ops if day % 2 else phone)
        assert sent_channels(db, group) == expected, f"day {day}"
    run = run_of(db, ws, group)
    assert (run.status, run.steps_fired, run.next_at) == ("finished", 8, None)
    steps = [(d["step"], d["round"]) for kind, d in timeline(db, group) if kind == "escalated"]
    assert steps == [(1, 1), (2, 1), (1, 2), (2, 2), (1, 3), (2, 3), (1, 4), (2, 4)]


def test_acknowledging_stops_the_escalation_and_cancels_a_delayed_notice(
    parts: Parts, notifier: Notifier, clock: FakeClock, ana: Member, owner: Member
) -> None:
    db, ws = parts.ctx.db, ana.workspace.id
    group = alert_group(db, "acme", clock(), severity=4)
    phone = contact(notifier, ana, "Phone", "http://127.0.0.2:9/phone")
    mail = contact(notifier, ana, "Mail", "http://127.0.0.2:9/mail")
    db.write(lambda c: eq.replace_rules(c, ws, ana.user.id, [("high", phone, 0), ("high", mail, 5)], clock()))
    ops = create_channel(notifier, "acme", "webhook", {"url": "http://127.0.0.2:9/ops", "secret": SECRET})
    pid = policy(db, ws, clock(), [([("user", ana.user.id)], 10), ([("channel", ops)], 0)])
    start(db, ws, group, pid, clock())
    clock.advance(2 * MINUTE)
    actor = audit.Actor(owner.user.email, owner.user.id)
    db.write(lambda c: act(c, ws, group, Change("acknowledge"), actor, clock()))
    run = run_of(db, ws, group)
    assert (run.status, run.stop_reason, run.next_at) == ("stopped", "acknowledged", None)
    clock.advance(DAY)
    sweep(db, clock())
    assert sent_channels(db, group) == [phone], "neither the delayed mail nor step 2 went out"
    stopped = [d for kind, d in timeline(db, group) if kind == "escalation_stopped"]
    assert stopped[0]["reason"] == "acknowledged" and stopped[0]["cancelled"] == 1


def test_resolving_stops_it_and_a_resolution_the_engine_was_not_told_of_is_seen_at_fire_time(
    parts: Parts, notifier: Notifier, clock: FakeClock, ana: Member, owner: Member
) -> None:
    db, ws = parts.ctx.db, ana.workspace.id
    ops = create_channel(notifier, "acme", "webhook", {"url": "http://127.0.0.2:9/ops", "secret": SECRET})
    pid = policy(db, ws, clock(), [([("channel", ops)], 5)], repeat=5)
    told, untold = (
        alert_group(db, "acme", clock(), title="told"),
        alert_group(db, "acme", clock(), title="untold"),
    )
    start(db, ws, told, pid, clock())
    start(db, ws, untold, pid, clock())
    actor = audit.Actor(owner.user.email, owner.user.id)
    db.write(lambda c: act(c, ws, told, Change("resolve"), actor, clock()))
    db.write(lambda c: aw.set_resolved(c, untold, "someone", clock()))  # behind the engine's back
    assert run_of(db, ws, untold).status == "running"
    clock.advance(5 * MINUTE)
    sweep(db, clock())
    assert [run_of(db, ws, g).stop_reason for g in (told, untold)] == ["resolved", "resolved"]
    assert sent_channels(db, told) == [ops] and sent_channels(db, untold) == [ops]


def rotation(parts: Parts, ws_id: int, people: list[int], now: float) -> int:
    """A daily rotation between ``people``, handing over at 09:00 UTC."""
    layer = {"name": "Daily", "unit": "days", "count": 1, "start": "2027-01-01T09:00", "participants": people}
    return parts.ctx.db.write(
        lambda c: store.save_schedule(c, ws_id, None, "Primary", "UTC", [layer], audit.SYSTEM, now).id
    )


def test_a_schedule_target_pages_whoever_is_on_call_when_the_step_fires_and_next_pages_the_next(
    parts: Parts, notifier: Notifier, clock: FakeClock, ana: Member, ben: Member
) -> None:
    db, ws = parts.ctx.db, ana.workspace.id
    phones = {ana.user.id: contact(notifier, ana, "Phone", "http://127.0.0.2:9/a"),
              ben.user.id: contact(notifier, ben, "Phone", "http://127.0.0.2:9/b")}  # fmt: skip
    schedule = rotation(parts, ws, [ana.user.id, ben.user.id], clock())
    on_call = db.read(lambda c: store.on_call_user_ids(c, ws, schedule, clock()))
    assert len(on_call) == 1
    first, other = on_call[0], ({ana.user.id, ben.user.id} - set(on_call)).pop()
    group = alert_group(db, "acme", clock())
    pid = policy(db, ws, clock(), [([("schedule", schedule)], 1440)], repeat=1)
    start(db, ws, group, pid, clock())
    clock.advance(DAY)  # the rotation has handed over by the time step 1 repeats
    sweep(db, clock())
    assert sent_channels(db, group) == [phones[first], phones[other]]
    nxt = alert_group(db, "acme", clock(), title="next")
    start(db, ws, nxt, policy(db, ws, clock(), [([("schedule_next", schedule)], 0)]), clock())
    assert sent_channels(db, nxt) == [phones[first]], "the person after today's on-call"


def test_high_and_normal_urgency_follow_each_persons_rules_and_delays(
    parts: Parts, notifier: Notifier, clock: FakeClock, ana: Member
) -> None:
    db, ws = parts.ctx.db, ana.workspace.id
    phone = contact(notifier, ana, "Phone", "http://127.0.0.2:9/phone")
    mail = contact(notifier, ana, "Mail", "http://127.0.0.2:9/mail")
    rules = [("high", phone, 0), ("high", mail, 5), ("normal", mail, 30)]
    db.write(lambda c: eq.replace_rules(c, ws, ana.user.id, rules, clock()))
    critical = alert_group(db, "acme", clock(), title="critical", severity=4)
    warning = alert_group(db, "acme", clock(), title="warning", severity=2)
    pid = policy(db, ws, clock(), [([("user", ana.user.id)], 60)])
    start(db, ws, critical, pid, clock())
    start(db, ws, warning, pid, clock())
    assert (sent_channels(db, critical), sent_channels(db, warning)) == ([phone], [])
    clock.advance(5 * MINUTE - 1)
    sweep(db, clock())
    assert sent_channels(db, critical) == [phone]
    clock.advance(1)
    sweep(db, clock())
    assert sent_channels(db, critical) == [phone, mail]
    clock.advance(25 * MINUTE)
    sweep(db, clock())
    assert sent_channels(db, warning) == [mail]


def test_a_restart_mid_escalation_continues_on_time(settings: Settings, clock: FakeClock) -> None:
    first = build(settings, clock=clock)
    db = first.ctx.db
    db.open()
    try:
        ws = member(db, "ana@example.com", Role.RESPONDER, "acme", clock()).workspace.id
        hook = {"url": "https://hooks.example.com/x"}
        ops = db.write(lambda c: cq.create(c, ws, "webhook", "ops", hook, {}, clock()).id)
        group = alert_group(db, "acme", clock())
        pid = policy(db, ws, clock(), [([("channel", ops)], 30), ([("channel", ops)], 0)])
        first.ctx.extras["notifier"] = Collecting()
        engine.after_commit(first.ctx, start(db, ws, group, pid, clock()))
        assert [t.name for t in first.ctx.huey.pending()] == ["escalation_wake"]
    finally:
        db.close()  # the process stops 29 minutes before step 2 is due

    clock.advance(29 * MINUTE)
    again = build(settings, clock=clock)  # a new process on the same data directory
    again.ctx.db.open()
    try:
        assert [t.name for t in again.ctx.huey.pending()] == ["escalation_wake"], "the wake-up survived"
        again.ctx.extras["notifier"] = woken = Collecting()
        sweep_task: Any = again.ctx.extras["tasks"]["escalation_sweep"]
        sweep_task.call_local()
        assert len(sent_channels(again.ctx.db, group)) == 1
        clock.advance(MINUTE)
        sweep_task.call_local()
        assert len(sent_channels(again.ctx.db, group)) == 2
        assert run_of(again.ctx.db, ws, group).status == "finished"
        assert len(woken.submitted) == 1, "delivery was woken for step 2 after the commit"
    finally:
        again.ctx.db.close()


class Collecting:
    """Stands in for the delivery worker: records which outbox rows it was woken for."""

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, notification_id: int) -> None:
        self.submitted.append(notification_id)


def test_the_escalation_webhook_reaches_a_real_receiver_through_the_periodic_task(
    parts: Parts, notifier: Notifier, receiver: Receiver, clock: FakeClock, ana: Member
) -> None:
    db, ws = parts.ctx.db, ana.workspace.id
    phone = contact(notifier, ana, "Phone", f"{receiver.url}/phone")
    group = alert_group(db, "acme", clock(), title="Disk full on db-1")
    ops = create_channel(notifier, "acme", "webhook", {"url": f"{receiver.url}/ops", "secret": SECRET})
    pid = policy(
        db,
        ws,
        clock(),
        [
            ([("channel", ops)], 10),
            ([("user", ana.user.id)], 0),
        ],
    )
    engine.after_commit(parts.ctx, start(db, ws, group, pid, clock()))
    clock.advance(10 * MINUTE)
    parts.ctx.extras["tasks"]["escalation_sweep"].call_local()
    got = {r.path: r.json for r in receiver.wait_for(2)}
    assert set(got) == {"/ops", "/phone"}
    assert got["/phone"]["event"] == "escalated"
    assert got["/phone"]["group"]["title"] == "Disk full on db-1"
    assert sent_channels(db, group)[-1] == phone


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[EmailMessage, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((parsed, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def test_a_person_without_contact_methods_gets_an_email_at_their_account_address(
    parts: Parts, clock: FakeClock, ana: Member
) -> None:
    inbox, port = Inbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    found = parts.ctx.extras["notifier"] = build_notifier(
        parts.ctx, http=OutboundHttp(policy=NOTIFY_POLICY.with_allowed(["127.0.0.1/32"]))
    )
    try:
        db, ws = parts.ctx.db, ana.workspace.id
        config = {"host": "127.0.0.1", "port": port, "security": "none", "from_address": "pager@example.com",
                  "to": ["team@example.com"]}  # fmt: skip
        create_channel(found, "acme", "email", config, name="team mail")
        group = alert_group(db, "acme", clock(), title="Disk full on db-1")
        pid = policy(db, ws, clock(), [([("user", ana.user.id)], 0)])
        engine.after_commit(parts.ctx, start(db, ws, group, pid, clock()))
        for _ in range(500):  # real SMTP delivery on the notifier's thread
            if inbox.messages:
                break
            time.sleep(0.01)
        (mail, recipients), *_ = inbox.messages
        assert recipients == ["ana@example.com"]
        assert mail["Subject"].startswith("[Escalated]") and "Disk full on db-1" in mail["Subject"]
        methods = db.read(lambda c: cq.list_for(c, ws, ana.user.id))
        assert [(m.kind, m.name, m.config["to"]) for m in methods] == [
            ("email", "Email", ["ana@example.com"])
        ]
        assert "team mail" in [c.name for c in db.read(lambda c: cq.list_for(c, ws))]
        assert "Email" not in [c.name for c in db.read(lambda c: cq.list_for(c, ws))]
    finally:
        found.close()
        smtp.stop()
