"""Delivery that loses nothing: the outbox row exists before anything is sent, a worker killed
mid-send is recovered when its lease expires (the receiver sees the same idempotency key at
most twice), Retry-After is honoured, 5xx backs off exponentially, a permanent failure (404
from Slack or Discord, 401 from a webhook) stops retrying, marks the channel broken and raises
an alert in the workspace, and every attempt is logged. Time is a FakeClock; nothing sleeps
for a schedule."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import notifications as nq
from signalcraft.notify import outbox
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.message import message_for
from signalcraft.notify.tasks import register
from signalcraft.queue import create_huey
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, workspace
from tests.notify.test_channels import (
    Receiver,
    Reply,
    alert_group,
    create_channel,
    enqueue,
    notifying,
    receiving,
)

SECRET = "a-long-shared-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    yield from notifying(parts)


@pytest.fixture
def setup(parts: Parts, notifier: Notifier, receiver: Receiver, clock: FakeClock) -> dict[str, int]:
    """A group and a webhook channel pointed at the receiver."""
    group_id = alert_group(parts.ctx.db, "acme", clock())
    channel_id = create_channel(
        notifier, "acme", "webhook", {"url": f"{receiver.url}/hook", "secret": SECRET}
    )
    return {"group": group_id, "channel": channel_id}


def row(notifier: Notifier, notification_id: int) -> nq.NotificationRow:
    found = notifier.db.read(lambda c: nq.get(c, notification_id))
    assert found is not None
    return found


def attempt_log(notifier: Notifier, notification_id: int) -> list[tuple[str, int | None]]:
    return [
        (a.outcome, a.status_code) for a in notifier.db.read(lambda c: nq.attempts_of(c, [notification_id]))
    ]


def test_the_outbox_row_is_written_before_anything_is_sent(
    notifier: Notifier, receiver: Receiver, setup: dict[str, int], clock: FakeClock
) -> None:
    nid = enqueue(notifier.db, setup["channel"], setup["group"], "triggered", clock())
    pending = row(notifier, nid)
    assert (pending.status, pending.attempts, pending.next_attempt_at) == ("pending", 0, clock())
    assert pending.idempotency_key.startswith("ntf_") and receiver.requests == []

    assert notifier.run(notifier.deliver(nid)) == "delivered"
    [request] = receiver.wait_for(1)
    assert request.headers["idempotency-key"] == pending.idempotency_key
    done = row(notifier, nid)
    assert (done.status, done.attempts, done.delivered_at, done.lease_owner) == (
        "delivered",
        1,
        clock(),
        None,
    )
    assert attempt_log(notifier, nid) == [("delivered", 200)]
    assert notifier.run(notifier.deliver(nid)) == "not_claimed"  # a duplicate task does nothing


def test_enqueueing_the_same_event_twice_keeps_one_row(
    parts: Parts, notifier: Notifier, setup: dict[str, int], clock: FakeClock
) -> None:
    ws = workspace(parts.ctx.db, "acme", clock())

    def twice(conn: Any) -> list[int]:
        event_id = aq.add_event(conn, ws.id, setup["group"], None, "created", clock())
        return [
            outbox.enqueue(
                conn,
                workspace_id=ws.id,
                channel_id=setup["channel"],
                group_id=setup["group"],
                event_kind="triggered",
                now=clock(),
                event_id=event_id,
            )
            for _ in range(2)
        ]

    first, second = parts.ctx.db.write(twice)
    assert first == second


def test_a_worker_killed_mid_send_is_recovered_when_its_lease_expires(
    notifier: Notifier, receiver: Receiver, setup: dict[str, int], clock: FakeClock
) -> None:
    nid = enqueue(notifier.db, setup["channel"], setup["group"], "triggered", clock())
    # The first worker claims the row and sends; then it is killed before recording anything.
    claimed = notifier.db.write(lambda c: outbox.claim(c, nid, "worker-killed", clock(), 60.0))
    assert claimed is not None and claimed.status == "sending"
    channel = notifier.db.read(lambda c: cq.by_id(c, setup["channel"]))
    sent = notifier.db.read(lambda c: message_for(c, claimed, notifier.public_url))
    assert channel is not None and notifier.run(notifier.attempt(channel, sent)).ok
    receiver.wait_for(1)

    assert notifier.run(notifier.deliver(nid)) == "not_claimed"  # leased: nobody else may send it
    assert notifier.sweep(clock() + 59) == []  # not yet expired
    clock.advance(61)
    assert notifier.sweep(clock()) == [nid]  # recovered and handed to a worker
    first, second = receiver.wait_for(2)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == claimed.idempotency_key
    notifier.run(wait_until_settled(notifier, nid))
    assert row(notifier, nid).status == "delivered"
    assert attempt_log(notifier, nid) == [("lease_expired", None), ("delivered", 200)]
    assert len(receiver.requests) == 2  # at most twice


def test_a_worker_that_finishes_after_losing_its_lease_changes_nothing(
    notifier: Notifier, setup: dict[str, int], clock: FakeClock
) -> None:
    nid = enqueue(notifier.db, setup["channel"], setup["group"], "triggered", clock())
    slow = notifier.db.write(lambda c: outbox.claim(c, nid, "slow", clock(), 60.0))
    assert slow is not None
    clock.advance(61)
    notifier.db.write(lambda c: outbox.recover_expired_leases(c, clock()))
    assert notifier.db.write(lambda c: outbox.claim(c, nid, "fresh", clock(), 60.0)) is not None
    assert notifier.db.write(lambda c: outbox.mark_delivered(c, nid, "slow", clock())) is False
    assert row(notifier, nid).lease_owner == "fresh"


def test_429_with_retry_after_schedules_the_retry_no_earlier_than_asked(
    notifier: Notifier, receiver: Receiver, setup: dict[str, int], clock: FakeClock
) -> None:
    receiver.reply("/hook", Reply(429, b"slow down", {"Retry-After": "600"}))
    nid = enqueue(notifier.db, setup["channel"], setup["group"], "triggered", clock())
    assert notifier.run(notifier.deliver(nid)) == "retry"
    waiting = row(notifier, nid)
    assert waiting.status == "pending" and waiting.next_attempt_at >= clock() + 600
    assert waiting.last_error == "HTTP 429: slow down"
    clock.advance(599)
    assert notifier.run(notifier.deliver(nid)) == "not_claimed"
    clock.advance(waiting.next_attempt_at - clock())
    assert notifier.run(notifier.deliver(nid)) == "delivered"
    assert attempt_log(notifier, nid) == [("retry", 429), ("delivered", 200)]


def test_5xx_is_retried_with_growing_delays_and_every_attempt_is_logged(
    notifier: Notifier, receiver: Receiver, setup: dict[str, int], clock: FakeClock
) -> None:
    receiver.reply("/hook", *[Reply(503, b"maintenance")] * 3)
    nid = enqueue(notifier.db, setup["channel"], setup["group"], "triggered", clock())
    delays = []
    for _ in range(3):
        assert notifier.run(notifier.deliver(nid)) == "retry"
        delays.append(row(notifier, nid).next_attempt_at - clock())
        clock.advance(delays[-1])
    assert notifier.run(notifier.deliver(nid)) == "delivered"
    assert delays[0] < delays[1] < delays[2]
    assert 12 <= delays[0] <= 18 and 48 <= delays[2] <= 72  # 15 s doubling, +-20 % jitter
    assert attempt_log(notifier, nid) == [("retry", 503)] * 3 + [("delivered", 200)]
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1


@pytest.mark.parametrize("attempts", range(1, 13))
def test_backoff_doubles_from_15_seconds_with_jitter_and_is_capped_at_an_hour(attempts: int) -> None:
    rng = random.Random(attempts)
    base = min(3600.0, 15.0 * 2 ** (attempts - 1))
    delay = outbox.backoff_delay(attempts, rng=rng)
    assert min(base * 0.8, 3600.0) <= delay <= min(base * 1.2, 3600.0)
    assert outbox.backoff_delay(attempts, retry_after=7200.0, rng=rng) == 7200.0
    assert outbox.backoff_delay(attempts, retry_after=10 * 86400.0, rng=rng) == 86400.0


@pytest.mark.parametrize(
    ("kind", "config", "path", "reply"),
    [
        ("slack", {"webhook_url": "{url}/services/T/B/x"}, "/services/T/B/x", Reply(404, b"no_team")),
        (
            "discord",
            {"webhook_url": "{url}/api/webhooks/1/x"},
            "/api/webhooks/1/x",
            Reply(404, b'{"message": "Unknown Webhook", "code": 10015}'),
        ),
        ("webhook", {"url": "{url}/in", "secret": SECRET}, "/in", Reply(401, b"bad signature")),
    ],
)
def test_a_permanent_failure_stops_retrying_marks_the_channel_broken_and_raises_an_alert(
    parts: Parts,
    notifier: Notifier,
    receiver: Receiver,
    clock: FakeClock,
    kind: str,
    config: dict[str, str],
    path: str,
    reply: Reply,
) -> None:
    db = parts.ctx.db
    group_id = alert_group(db, "acme", clock())
    channel_id = create_channel(
        notifier, "acme", kind, {k: v.format(url=receiver.url) for k, v in config.items()}
    )
    receiver.reply(path, reply)
    nid = enqueue(db, channel_id, group_id, "triggered", clock())

    assert notifier.run(notifier.deliver(nid)) == "failed"
    failed = row(notifier, nid)
    assert failed.status == "failed" and f"HTTP {reply.status}" in (failed.last_error or "")
    assert attempt_log(notifier, nid) == [("failed", reply.status)]
    channel = db.read(lambda c: cq.by_id(c, channel_id))
    assert channel is not None and channel.broken_at == clock() and channel.broken_group_id is not None
    alert = db.read(lambda c: aq.get_group(c, channel.workspace_id, channel.broken_group_id))
    assert alert is not None and alert.status == "triggered" and alert.source == "signalcraft"
    assert alert.title == f"Notification channel “ops” ({kind}) is broken"
    [created] = db.read(lambda c: aq.events_of_group(c, alert.id))
    assert created.kind == "created" and f"HTTP {reply.status}" in created.detail["reason"]

    # Nothing more is sent to a broken channel; the next notification says why.
    later = enqueue(db, channel_id, group_id, "resolved", clock())
    assert notifier.run(notifier.deliver(later)) == "skipped"
    assert len(receiver.requests) == 1
    assert attempt_log(notifier, later)[0][0] == "skipped"


def test_a_channel_that_keeps_failing_is_given_up_on_and_marked_broken(
    notifier: Notifier, receiver: Receiver, setup: dict[str, int], clock: FakeClock
) -> None:
    receiver.reply("/hook", *[Reply(500)] * outbox.MAX_ATTEMPTS)
    nid = enqueue(notifier.db, setup["channel"], setup["group"], "triggered", clock())
    verdicts = []
    for _ in range(outbox.MAX_ATTEMPTS):
        verdicts.append(notifier.run(notifier.deliver(nid)))
        clock.advance(outbox.BACKOFF_CAP * 1.5)
    assert verdicts == ["retry"] * (outbox.MAX_ATTEMPTS - 1) + ["failed"]
    assert (row(notifier, nid).last_error or "").startswith(f"gave up after {outbox.MAX_ATTEMPTS} attempts")
    assert notifier.db.read(lambda c: cq.by_id(c, setup["channel"])).broken_at is not None


def test_the_huey_task_carries_only_the_id(
    parts: Parts,
    notifier: Notifier,
    receiver: Receiver,
    setup: dict[str, int],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tasks = register(create_huey(tmp_path / "queue.db", immediate=True), parts.ctx)
    nid = enqueue(notifier.db, setup["channel"], setup["group"], "triggered", clock())
    tasks["deliver_notification"](nid)
    receiver.wait_for(1)
    notifier.run(wait_until_settled(notifier, nid))
    assert row(notifier, nid).status == "delivered"


async def wait_until_settled(notifier: Notifier, notification_id: int, timeout: float = 10.0) -> None:
    """Wait (on the notify loop) until no send of ``notification_id`` is in flight."""
    for _ in range(int(timeout / 0.01)):
        if notification_id not in notifier._in_flight:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("still in flight")
