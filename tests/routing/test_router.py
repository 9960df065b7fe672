"""The router thread: what ingest commits is routed in batches after the commit, and its
sweep routes whatever the in-memory hand-off lost (a crash between commit and hand-off, a
failed batch), once, without routing anything twice."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from signalcraft.db.connection import rows, scalar
from signalcraft.db.queries import routing as rq
from signalcraft.routing import apply
from signalcraft.routing import router as router_module
from signalcraft.routing import tasks as routing_tasks
from signalcraft.routing.router import Router
from tests.ingest_http.conftest import api, make_integration  # noqa: F401
from tests.routing.test_routing_apply import World, world  # noqa: F401, RUF100


@pytest.fixture
def router(world: World) -> Iterator[Router]:  # noqa: F811
    started = routing_tasks.start_router(world.parts.ctx)
    yield started
    started.stop()


def decided_groups(w: World) -> set[int]:
    return set(
        w.parts.ctx.db.read(
            lambda c: [
                r[0]
                for r in rows(
                    c, "SELECT group_id FROM routing_decisions WHERE workspace_id = ?", (w.ws_id,)
                )
            ]
        )
    )


def cursor(w: World) -> int:
    return w.parts.ctx.db.read(rq.routing_cursor)


def newest_event(w: World) -> int:
    return int(w.parts.ctx.db.read(lambda c: scalar(c, "SELECT max(id) FROM alert_events")))


def test_alerts_ingested_while_the_router_runs_are_routed_and_delivery_is_woken(
    world: World,  # noqa: F811
    router: Router,
) -> None:
    channel = world.channel("ops")
    world.put("routing/default", {"actions": {"notify": [channel]}})
    for name in ("DiskFull", "CpuHigh", "MemoryLow"):
        world.fire(alertname=name)
    assert router.wait_idle()
    groups = {world.group_of(n)["id"] for n in ("DiskFull", "CpuHigh", "MemoryLow")}
    assert decided_groups(world) == groups
    assert sorted(g for _, g, _ in world.outbox()) == sorted(groups)
    assert len(world.woken) == 3  # the notifier was handed each outbox row after the commit

    world.fire("resolved", alertname="DiskFull")  # a follow-up goes the same way
    assert router.wait_idle()
    assert (channel, world.group_of("DiskFull")["id"], "resolved") in world.outbox()


def test_events_committed_but_never_handed_over_are_routed_by_the_sweep_once(world: World) -> None:  # noqa: F811
    channel = world.channel("ops")
    world.put("routing/default", {"actions": {"notify": [channel]}})
    # No router runs: these commits reach no router (as if the process died right after them).
    world.fire(alertname="DiskFull")
    world.fire(alertname="CpuHigh")
    assert decided_groups(world) == set()

    started = routing_tasks.start_router(world.parts.ctx)  # a new process: its first pass sweeps
    try:
        assert started.wait_idle()
        disk, cpu = world.group_of("DiskFull")["id"], world.group_of("CpuHigh")["id"]
        assert decided_groups(world) == {disk, cpu}
        outbox = world.outbox()
        assert sorted(outbox) == sorted([(channel, disk, "triggered"), (channel, cpu, "triggered")])
        # Routing itself wrote timeline events ("routed"); the next sweep passes them by.
        assert started.sweep() == 0
        assert cursor(world) == newest_event(world)
        # Sweeping the same events again (cursor moved back) decides nothing twice.
        world.parts.ctx.db.write(lambda c: c.execute("UPDATE routing_cursor SET event_id = 0"))
        assert started.sweep() > 0
        assert world.outbox() == outbox
    finally:
        started.stop()


def test_an_event_that_cannot_be_routed_does_not_hold_up_the_others(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = world.channel("ops")
    world.put("routing/default", {"actions": {"notify": [channel]}})
    world.fire(alertname="Poison")
    world.fire(alertname="Healthy")
    poison_events = set(
        world.parts.ctx.db.read(
            lambda c: [
                r[0]
                for r in rows(
                    c,
                    "SELECT id FROM alert_events WHERE kind = 'created'"
                    " AND group_id = (SELECT min(id) FROM alert_groups"
                    " WHERE title = 'Poison')",
                )
            ]
        )
    )
    assert poison_events

    def route_events(conn: Any, workspace_id: int, event_ids: list[int], now: float) -> list[Any]:
        if poison_events & set(event_ids):
            raise RuntimeError("a bug in a rule")
        return apply.route_events(conn, workspace_id, event_ids, now)

    monkeypatch.setattr(router_module, "route_events", route_events)
    started = routing_tasks.start_router(world.parts.ctx)
    try:
        with caplog.at_level(logging.ERROR, logger="signalcraft.routing.router"):
            assert started.wait_idle()
        assert decided_groups(world) == {world.group_of("Healthy")["id"]}
        assert any("cannot be routed" in r.getMessage() for r in caplog.records)
        assert started.sweep() == 0  # logged and passed, not retried forever
        assert cursor(world) == newest_event(world)
    finally:
        started.stop()


def test_stopping_routes_what_was_already_handed_over(world: World) -> None:  # noqa: F811
    channel = world.channel("ops")
    world.put("routing/default", {"actions": {"notify": [channel]}})
    world.fire(alertname="DiskFull")
    ids = world.parts.ctx.db.read(lambda c: [r[0] for r in rows(c, "SELECT id FROM alert_events")])
    # A router whose thread has not started: the submission waits in memory until stop drains it.
    pending = Router(
        world.parts.ctx,
        lambda routed: routing_tasks.after_commit(world.parts.ctx, routed),
        sweep_seconds=3600,
    )
    pending.submit(world.ws_id, ids)
    pending.start()
    pending.stop()
    assert decided_groups(world) == {world.group_of("DiskFull")["id"]}
