"""The in-process probe loop: an asyncio task beside the web server.

It wakes every ``TICK_SECONDS``, runs the jobs that are due (each ``ProbeJob`` says when
it is next due), and records a heartbeat that /readyz reads. Monitor types plug in as
jobs; the loop itself owns only timing, concurrency and liveness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from signalcraft.web.context import AppContext

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5


@dataclass
class ProbeJob:
    name: str
    next_due: float
    run: Callable[[float], Awaitable[float]]  # runs the check, returns when it is next due


@dataclass
class ProbeLoop:
    ctx: AppContext
    max_concurrency: int = 64
    jobs: dict[str, ProbeJob] = field(default_factory=dict)
    last_tick: float = 0.0

    def add(self, job: ProbeJob) -> None:
        self.jobs[job.name] = job

    def due(self, now: float) -> list[ProbeJob]:
        return [job for job in self.jobs.values() if job.next_due <= now]

    async def _run_one(self, job: ProbeJob, now: float, limit: asyncio.Semaphore) -> None:
        async with limit:
            try:
                job.next_due = await job.run(now)
            except Exception:  # one broken probe must not stop the others
                log.exception("probe %s failed", job.name)
                job.next_due = now + 60.0

    async def run(self, stop: asyncio.Event) -> None:
        limit = asyncio.Semaphore(self.max_concurrency)
        running: set[asyncio.Task[None]] = set()
        self.ctx.health.probe_loop = True
        try:
            while not stop.is_set():
                now = self.ctx.now()
                self.last_tick = now
                for job in self.due(now):
                    job.next_due = float("inf")  # claimed until its run sets the real next time
                    task = asyncio.create_task(self._run_one(job, now, limit))
                    running.add(task)
                    task.add_done_callback(running.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), TICK_SECONDS)
            if running:
                await asyncio.wait(running, timeout=self.ctx.settings.server.shutdown_timeout)
        finally:
            self.ctx.health.probe_loop = False
