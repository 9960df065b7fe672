"""The probe engine: runs due checks under a global concurrency limit and per-check timeouts,
stores their results in batches, finds late heartbeats, closes hourly rollups and prunes.

Every step takes ``now``; :meth:`Engine.tick` does whatever is due and says how long to sleep,
so the loop (:mod:`signalcraft.uptime.loop`) owns only waiting, and tests drive the engine
with a hand-moved clock (:meth:`Engine.run_due`) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from signalcraft.config import Settings
from signalcraft.db import Database
from signalcraft.db.queries import uptime as uq
from signalcraft.notify.http import Resolver, system_resolver
from signalcraft.uptime import alerts, heartbeat, samples
from signalcraft.uptime.checks import ProbeDeps, run_check
from signalcraft.uptime.model import CheckResult, Kind, ProbeSettings, settings_from_json
from signalcraft.uptime.record import Outcome, record_results
from signalcraft.uptime.scheduler import ProbeSpec, Scheduler
from signalcraft.uptime.validate import probe_policy

log = logging.getLogger(__name__)

RELOAD_SECONDS = 2.0  # how soon an edit made elsewhere (CLI, another process) is picked up
FLUSH_SECONDS = 0.5
SWEEP_SECONDS = 5.0
ROLLUP_SECONDS = 300.0
PRUNE_SECONDS = 3600.0
ROLLUP_GRACE = 120.0  # a check that started in the last seconds of an hour may end in the next
ROLLUP_KEEP_DAYS = 90
EVENT_KEEP_DAYS = 400
MAX_SLEEP = 1.0


def spec_of(row: uq.MonitorRow) -> ProbeSpec:
    """What the probe runs; ``row`` with its secrets opened (:func:`uq.opened`)."""
    kind = Kind(row.kind)
    settings = settings_from_json(kind, row.settings)
    assert not isinstance(settings, heartbeat.HeartbeatSchedule)
    return ProbeSpec(
        row.id,
        row.workspace_id,
        kind,
        settings,
        float(row.interval_seconds),
        float(row.timeout_seconds),
        row.updated_at,
    )


@dataclass
class EngineStats:
    started: int = 0
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))


class Engine:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Callable[[], float],
        *,
        extras: dict[str, Any] | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.db = db
        self.settings = settings
        self.cfg = settings.uptime
        self.clock = clock
        self.extras = extras if extras is not None else {}
        self.resolver = resolver
        self.scheduler = Scheduler()
        self.stats = EngineStats()
        self.deps: ProbeDeps | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self._limit: asyncio.Semaphore | None = None
        self._results: list[Outcome] = []
        self._running: set[asyncio.Task[None]] = set()
        self._version: tuple[int, float] | None = None
        self._reload_wanted = True
        self._next: dict[str, float] = {}
        self._deadlines: dict[int, tuple[tuple[Any, ...], float | None]] = {}

    @property
    def window_seconds(self) -> float:
        return self.settings.ingest.group_window_minutes * 60.0

    def new_deps(self) -> ProbeDeps:
        return ProbeDeps.create(probe_policy(self.cfg), self.resolver, self.cfg.max_concurrency)

    def attach(self) -> None:
        """Bind to the running event loop (the loop calls this once before ticking)."""
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self._limit = asyncio.Semaphore(self.cfg.max_concurrency)
        self.deps = self.new_deps()

    async def aclose(self) -> None:
        if self._running:
            await asyncio.wait(self._running, timeout=float(self.settings.server.shutdown_timeout))
        await self.flush(self.clock())
        if self.deps is not None:
            await self.deps.aclose()
        self.loop = self.deps = self.wake = None

    def poke(self) -> None:
        """Something changed (a monitor saved): reload soon. Safe from any thread."""
        self._reload_wanted = True
        loop, wake = self.loop, self.wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    # --- one pass ---------------------------------------------------------------------------

    def _due(self, name: str, now: float, every: float) -> bool:
        if now >= self._next.get(name, 0.0):
            self._next[name] = now + every
            return True
        return False

    async def tick(self, now: float) -> float:
        """Do what is due at ``now``; return the seconds until something else is."""
        if self._reload_wanted or self._due("reload", now, RELOAD_SECONDS):
            await self.reload(now)
        self.launch_due(now)
        if self._due("flush", now, FLUSH_SECONDS):
            await self.flush(now)
        if self._due("sweep", now, SWEEP_SECONDS):
            await self.sweep_heartbeats(now)
        if self._due("rollup", now, ROLLUP_SECONDS):
            await self.roll_up(now)
        if self._due("prune", now, PRUNE_SECONDS):
            await self.prune(now)
        upcoming = [*self._next.values()]
        following = self.scheduler.next_due()
        if following is not None:
            upcoming.append(following)
        return max(0.0, min(MAX_SLEEP, min(upcoming) - now))

    async def reload(self, now: float) -> None:
        version = await self.db.aread(uq.monitors_version)
        if version == self._version and not self._reload_wanted:
            return
        self._reload_wanted = False
        found = await self.db.aread(lambda c: [uq.opened(c, r) for r in uq.monitors_of_kind(c, True)])
        self.scheduler.sync([spec_of(r) for r in found], {r.id: r.last_check_at for r in found}, now)
        self._version = version

    def launch_due(self, now: float) -> int:
        due = self.scheduler.pop_due(now)
        for spec, due_at in due:
            task = asyncio.create_task(self._run(spec, due_at))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(due)

    async def _run(self, spec: ProbeSpec, due_at: float) -> None:
        assert self._limit is not None and self.deps is not None
        async with self._limit:
            started = self.clock()
            self.stats.started += 1
            self.stats.lateness.append(started - due_at)
            result = await run_check(spec.settings, self.deps, spec.timeout, started)
        self._results.append(Outcome(spec.id, spec.version, started, result))

    async def flush(self, now: float) -> None:
        if not self._results:
            return
        batch, self._results = self._results, []
        outcomes = await self.db.awrite(
            lambda c: record_results(c, batch, self.cfg, now, self.window_seconds)
        )
        alerts.publish(self.extras, outcomes)

    async def run_due(self, now: float) -> int:
        """Run every check due at ``now`` to completion and store the results (for tests)."""
        if self.loop is None:
            self.attach()
        await self.reload(now)
        launched = self.launch_due(now)
        if self._running:
            await asyncio.wait(self._running)
        await self.flush(now)
        return launched

    # --- heartbeats, rollups, retention ---------------------------------------------------------

    def _deadline(self, row: uq.MonitorRow) -> float | None:
        key = (row.updated_at, row.status, row.paused, row.last_ping_at, row.started_at)
        cached = self._deadlines.get(row.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        found = heartbeat.deadline_of(row)
        self._deadlines[row.id] = (key, found)
        return found

    async def sweep_heartbeats(self, now: float) -> int:
        """Heartbeats past their deadline go down (computed here, confirmed in the writer)."""
        rows = await self.db.aread(lambda c: uq.monitors_of_kind(c, False))
        if len(self._deadlines) > 2 * len(rows) + 100:
            self._deadlines.clear()
        late = [r.id for r in rows if (d := self._deadline(r)) is not None and d < now]
        if late:
            outcomes = await self.db.awrite(
                lambda c: heartbeat.mark_late(c, late, self.cfg, now, self.window_seconds)
            )
            alerts.publish(self.extras, outcomes)
        return len(late)

    async def roll_up(self, now: float) -> int:
        before = samples.hour_of(now - ROLLUP_GRACE)
        since = before - 24 * self.cfg.raw_retention_days
        found = await self.db.aread(lambda c: uq.hours_to_roll_up(c, since, before))
        if not found:
            return 0
        rolled = await asyncio.to_thread(
            lambda: [(m, *_rollup_row(samples.rollup(h, d))) for m, h, d in found]
        )
        await self.db.awrite(lambda c: uq.save_rollups(c, rolled))
        return len(rolled)

    async def prune(self, now: float) -> None:
        ids = await self.db.aread(uq.all_monitor_ids)
        raw_before = samples.hour_of(now) - 24 * self.cfg.raw_retention_days
        rollup_before = samples.hour_of(now) - 24 * ROLLUP_KEEP_DAYS
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]

            def cut(conn: Any, chunk: list[int] = chunk) -> None:
                for monitor_id in chunk:
                    uq.prune(conn, monitor_id, raw_before, rollup_before, now - EVENT_KEEP_DAYS * 86400.0)

            await self.db.awrite(cut)

    # --- checks people ask for -------------------------------------------------------------------

    async def _on_own_loop(self, settings: ProbeSettings, timeout: float, now: float) -> CheckResult:
        own = self.deps is None or self.loop is not asyncio.get_running_loop()
        deps = self.new_deps() if own else self.deps
        assert deps is not None
        try:
            return await run_check(settings, deps, timeout, now)
        finally:
            if own:
                await deps.aclose()

    async def try_settings(self, settings: ProbeSettings, timeout: float) -> CheckResult:
        """Run a check of unsaved settings (the form's "test"); stores nothing."""
        return await self._on_own_loop(settings, timeout, self.clock())

    async def check_now(self, monitor: uq.MonitorRow) -> CheckResult:
        """Run a saved probe monitor's check at once and store it like any other ("run now")."""
        spec = spec_of(await self.db.aread(lambda c: uq.opened(c, monitor)))
        started = self.clock()
        result = await self._on_own_loop(spec.settings, spec.timeout, started)
        outcome = Outcome(spec.id, spec.version, started, result)
        outcomes = await self.db.awrite(
            lambda c: record_results(c, [outcome], self.cfg, self.clock(), self.window_seconds)
        )
        alerts.publish(self.extras, outcomes)
        return result

    def next_check(self, monitor: uq.MonitorRow) -> float | None:
        """When the monitor is next checked, as far as this process knows."""
        if monitor.paused or monitor.kind == Kind.HEARTBEAT:
            return None
        found = self.scheduler.due_at.get(monitor.id)
        if found is not None:
            return found
        if monitor.last_check_at is not None:
            return monitor.last_check_at + monitor.interval_seconds
        return None


def _rollup_row(r: samples.Rollup) -> tuple[int, int, int, int | None, int | None]:
    return r.hour, r.checks, r.failures, r.p50_ms, r.p95_ms


def engine_of(extras: dict[str, Any]) -> Engine | None:
    found = extras.get("uptime_engine")
    return found if isinstance(found, Engine) else None
