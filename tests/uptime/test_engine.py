"""The engine's housekeeping with time as a parameter (hourly rollups, retention, storage per
monitor), alerts on pause and delete, results of an edited monitor dropped, and the probe loop
itself starting, checking and stopping as runtime.serve runs it."""

from __future__ import annotations

import asyncio

from signalcraft.db.connection import rows, scalar
from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from signalcraft.uptime import samples, service
from signalcraft.uptime.engine import Engine
from signalcraft.uptime.model import CheckResult
from signalcraft.uptime.record import Outcome, record_results
from tests.helpers import FakeClock, Member
from tests.uptime.conftest import Target, create_monitor


def feed(
    parts: Parts, monitor_id: int, start: float, hours: int, every: float = 30.0, fail_each: int = 0
) -> None:
    version = parts.ctx.db.read(
        lambda c: scalar(c, "SELECT updated_at FROM monitors WHERE id = ?", (monitor_id,))
    )
    cfg = parts.ctx.settings.uptime

    def write(conn: object) -> None:
        for i in range(int(hours * 3600 / every)):
            at = start + i * every
            ok = not fail_each or i % fail_each
            record_results(
                conn,
                [Outcome(monitor_id, version, at, CheckResult(bool(ok), 50 + i % 10))],  # type: ignore[arg-type]
                cfg,
                at,
                3600.0,
            )

    parts.ctx.db.write(write)


def count(parts: Parts, table: str) -> int:
    return int(parts.ctx.db.read(lambda c: scalar(c, f"SELECT count(*) FROM {table}")))


def test_closed_hours_roll_up_and_old_results_are_pruned(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine
) -> None:
    monitor = create_monitor(parts, owner, clock, kind="tcp", settings={"host": "127.0.0.1", "port": 1})
    start = samples.hour_of(clock()) * 3600.0 + 3600
    feed(parts, monitor.id, start, hours=3, fail_each=10)
    assert count(parts, "monitor_samples") == 3
    assert asyncio.run(engine.roll_up(start + 3 * 3600 + 60)) == 2  # the third hour is still open (grace)
    assert asyncio.run(engine.roll_up(start + 3 * 3600 + 600)) == 1
    rollups = parts.ctx.db.read(
        lambda c: rows(c, "SELECT checks, failures, p50_ms, p95_ms FROM monitor_rollups")
    )
    assert rollups[0] == (120, 12, 55, 59)
    asyncio.run(engine.prune(start + 3 * 86400))  # raw samples live 2 days, rollups 90
    assert (count(parts, "monitor_samples"), count(parts, "monitor_rollups")) == (0, 3)
    asyncio.run(engine.prune(start + 91 * 86400))
    assert count(parts, "monitor_rollups") == 0


def test_one_day_of_30_second_checks_stays_within_the_storage_budget(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine
) -> None:
    monitor = create_monitor(parts, owner, clock, kind="tcp", settings={"host": "127.0.0.1", "port": 1})

    def stored(conn: object) -> int:
        return int(
            scalar(conn, "SELECT coalesce(sum(length(data)), 0) FROM monitor_samples")  # type: ignore[arg-type]
            + 40 * scalar(conn, "SELECT count(*) FROM monitor_rollups")
        )  # type: ignore[arg-type]

    start = samples.hour_of(clock()) * 3600.0 + 3600
    feed(parts, monitor.id, start, hours=24)
    asyncio.run(engine.roll_up(start + 25 * 3600))
    assert (
        parts.ctx.db.read(stored) <= 0.02 * 1e6 / 2
    )  # payload well under the budget, leaving room for pages


def test_pausing_or_deleting_a_down_monitor_resolves_its_alert(
    parts: Parts, owner: Member, clock: FakeClock
) -> None:
    window, ws = 3600.0, owner.workspace.id
    for action in ("pause", "delete"):
        monitor = create_monitor(
            parts,
            owner,
            clock,
            kind="tcp",
            name=action,
            failures_before_down=1,
            settings={"host": "127.0.0.1", "port": 1},
        )
        feed(parts, monitor.id, clock(), hours=0.01, fail_each=1)
        if action == "pause":
            parts.ctx.db.write(
                lambda c, m=monitor: service.set_paused(c, ws, m.id, True, audit.CLI, clock(), window)
            )
        else:
            parts.ctx.db.write(lambda c, m=monitor: service.delete(c, ws, m.id, audit.CLI, clock(), window))
        statuses = parts.ctx.db.read(
            lambda c, m=monitor: [
                r[0] for r in rows(c, "SELECT status FROM alerts WHERE fingerprint = ?", (f"monitor:{m.id}",))
            ]
        )
        assert statuses == ["resolved"], action


def test_a_result_for_an_edited_monitor_is_dropped(parts: Parts, owner: Member, clock: FakeClock) -> None:
    monitor = create_monitor(
        parts, owner, clock, kind="tcp", failures_before_down=1, settings={"host": "127.0.0.1", "port": 1}
    )
    clock.advance(1)
    parts.ctx.db.write(
        lambda c: service.update(
            c,
            owner.workspace.id,
            monitor.id,
            {"name": "renamed"},
            parts.ctx.settings.uptime,
            audit.CLI,
            clock(),
        )
    )
    stale = Outcome(monitor.id, monitor.updated_at, clock(), CheckResult(False, 5, "refused"))
    parts.ctx.db.write(lambda c: record_results(c, [stale], parts.ctx.settings.uptime, clock(), 3600.0))
    assert parts.ctx.db.read(lambda c: scalar(c, "SELECT status FROM monitors")) == "pending"


def test_the_probe_loop_checks_due_monitors_and_stops_cleanly(
    parts: Parts, owner: Member, clock: FakeClock, target: Target
) -> None:
    monitor = create_monitor(
        parts, owner, clock, kind="http", interval_seconds=60, settings={"url": target.url}
    )

    async def scenario() -> tuple[bool, str, bool]:
        stop = asyncio.Event()
        task = asyncio.create_task(parts.probes.run(stop))
        for _ in range(50):
            await asyncio.sleep(0.02)
            if parts.ctx.health.probe_loop:
                break
        running = parts.ctx.health.probe_loop
        clock.advance(61)  # time is a parameter: the monitor's first check is now due
        parts.probes.engine.poke()
        status = "pending"
        for _ in range(150):
            await asyncio.sleep(0.02)
            clock.advance(0.1)  # the clock the loop reads moves on, as a real one would
            status = await parts.ctx.db.aread(
                lambda c: scalar(c, "SELECT status FROM monitors WHERE id = ?", (monitor.id,))
            )
            if status == "up":
                break
        stop.set()
        await asyncio.wait_for(task, 10)
        return running, status, parts.ctx.health.probe_loop

    assert asyncio.run(scenario()) == (True, "up", False)
    assert target.behaviour.hits == 1
