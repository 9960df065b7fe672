"""The in-process probe loop: an asyncio task beside the web server (see runtime.serve).

It owns only waiting: each pass asks the :class:`~signalcraft.uptime.engine.Engine` to do
what is due and sleeps until the next thing is (at most a second), or until woken (a
monitor was saved, or the process is stopping). ``ctx.health.probe_loop`` is true while it
runs; /readyz reports it. The engine is reachable by handlers as ``ctx.extras["uptime_engine"]``
(run now, the next check time, reload after an edit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from signalcraft.uptime.engine import Engine
from signalcraft.web.context import AppContext

log = logging.getLogger(__name__)

ERROR_PAUSE = 5.0  # after a failed pass (database unavailable...), before the next


@dataclass
class ProbeLoop:
    ctx: AppContext
    engine: Engine = field(init=False)
    last_tick: float = 0.0

    def __post_init__(self) -> None:
        self.engine = Engine(self.ctx.db, self.ctx.settings, self.ctx.now, extras=self.ctx.extras)
        self.ctx.extras["uptime_engine"] = self.engine

    async def run(self, stop: asyncio.Event) -> None:
        engine = self.engine
        engine.attach()
        assert engine.wake is not None
        wake = engine.wake

        async def on_stop() -> None:
            await stop.wait()
            wake.set()

        stopper = asyncio.create_task(on_stop())
        self.ctx.health.probe_loop = True
        try:
            while not stop.is_set():
                now = self.ctx.now()
                self.last_tick = now
                wake.clear()
                try:
                    sleep = await engine.tick(now)
                except Exception:  # one bad pass (e.g. the disk is full) must not end all probing
                    log.exception("probe loop pass failed; retrying in %.0f s", ERROR_PAUSE)
                    sleep = ERROR_PAUSE
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), sleep)
        finally:
            self.ctx.health.probe_loop = False
            stopper.cancel()
            await engine.aclose()
