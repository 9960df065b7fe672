"""One process: the web server (uvicorn), the Huey consumer (threads), the probe loop.

Start order: database (migrate) -> queue consumer -> probe loop -> HTTP. On SIGTERM or
SIGINT: stop accepting, drain in-flight requests (up to ``server.shutdown_timeout``), stop
the probe loop, let running tasks finish, close the database, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
import sys
from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal

import uvicorn
from litestar import Litestar

from signalcraft.app import create_app
from signalcraft.auth import service
from signalcraft.clock import Clock, system_clock
from signalcraft.config import Settings
from signalcraft.db import Database
from signalcraft.errors import SignalCraftError
from signalcraft.metrics import Metrics
from signalcraft.notify import http as outbound_http
from signalcraft.notify import tasks as notify_tasks
from signalcraft.paths import templates_dir
from signalcraft.queue import QueueConsumer, create_huey, instrument
from signalcraft.rollups import register as rollup_tasks
from signalcraft.routing import tasks as routing_tasks
from signalcraft.tasks import register
from signalcraft.uptime.loop import ProbeLoop
from signalcraft.web.context import AppContext
from signalcraft.web.ingest.protocol import ingest_protocol
from signalcraft.web.templating import Templates

log = logging.getLogger("signalcraft")


class StartupError(SignalCraftError):
    """The process cannot start (port in use, data directory unusable). One line to print."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """The runtime installs its own handlers (see Runtime.serve)."""
        yield


@dataclass
class Parts:
    ctx: AppContext
    app: Litestar
    consumer: QueueConsumer
    probes: ProbeLoop


def build(settings: Settings, *, clock: Clock = system_clock) -> Parts:
    """Wire everything without starting anything (tests use this too)."""
    from signalcraft import tasks_alerts
    from signalcraft.events import AlertBus
    from signalcraft.oncall import engine as escalation_engine
    from signalcraft.replay import tasks as replay_tasks

    try:
        settings.data.path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"{settings.data.path}: cannot create the data directory ({exc.strerror})"
        ) from None
    db = Database.from_settings(settings)
    metrics = Metrics()
    huey = create_huey(settings.data.queue_path)
    instrument(huey, metrics)
    ctx = AppContext(
        settings=settings,
        db=db,
        templates=Templates(templates_dir()),
        metrics=metrics,
        huey=huey,
        clock=clock,
    )
    ctx.extras["alert_bus"] = AlertBus()
    ctx.extras["tasks"] = (
        register(huey, ctx)
        | tasks_alerts.register(huey, ctx)
        | replay_tasks.register(huey, ctx)
        | routing_tasks.register(huey, ctx)
        | notify_tasks.register(huey, ctx)
        | escalation_engine.register(huey, ctx)
        | rollup_tasks(huey, ctx)
    )
    metrics.gauge_callback(
        "signalcraft_db_write_transactions",
        "Write transactions committed.",
        lambda: float(db.writer.stats.transactions),
    )
    metrics.gauge_callback(
        "signalcraft_db_writes",
        "Writes committed (grouped into transactions).",
        lambda: float(db.writer.stats.writes),
    )
    consumer = QueueConsumer(
        huey, workers=settings.queue.workers, shutdown_timeout=float(settings.server.shutdown_timeout)
    )
    probes = ProbeLoop(ctx)
    return Parts(ctx, create_app(ctx), consumer, probes)


def server_config(
    app: Litestar, settings: Settings, *, lifespan: Literal["on", "off"] = "on"
) -> uvicorn.Config:
    """uvicorn's settings for ``app`` (tests that already ran its lifespan pass ``"off"``)."""
    return uvicorn.Config(
        app,
        lifespan=lifespan,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.server.shutdown_timeout,
        server_header=False,
        proxy_headers=False,
        # httptools, answering the API v2 alert posts without the ASGI layers (ingest/protocol.py)
        http=ingest_protocol(app),
    )


async def _warm_up(server: uvicorn.Server) -> None:
    """Once serving, prepare what the first notification needs (the outbound HTTP client is
    imported on first use to keep start-up short), so the first page after a start does not
    wait for it; then freeze what start-up allocated."""
    while not server.started:
        await asyncio.sleep(0.1)
    await asyncio.to_thread(outbound_http.warm_up)
    freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Move what start-up allocated (modules, the app and its routes, compiled templates) out
    of the garbage collector's reach: it lives as long as the process, and each full
    collection would otherwise walk all of it, a pause of tens of milliseconds in whichever
    request triggers it (see docs/benchmarks.md). Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"cannot listen on {host}:{port}: the port is already in use "
                "(set [server] port or SIGNALCRAFT_SERVER_PORT)"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def announce_setup(parts: Parts) -> str | None:
    """When the instance has no user, print a one-time link that creates the first admin."""
    ctx = parts.ctx
    token = ctx.db.write(lambda c: service.issue_setup_link(c, ctx.now()))
    if token is None:
        return None
    url = f"{ctx.settings.server.public_url()}/setup/{token}"
    print(
        f"\n  First run: open {url}\n  to create the first administrator (the link works once).\n",
        file=sys.stderr,
        flush=True,
    )
    return url


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT; return the process exit code."""
    sock = bind_socket(settings.server.host, settings.server.port)
    parts = build(settings)
    ctx = parts.ctx
    ctx.db.open()
    announce_setup(parts)
    parts.consumer.start()
    router = routing_tasks.start_router(ctx)
    ctx.extras["consumer"] = parts.consumer  # /readyz asks it whether every worker still runs
    ctx.health.queue_consumer = True
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    probe_task = asyncio.create_task(parts.probes.run(stop), name="probe-loop")
    config = server_config(parts.app, settings)
    server = _Server(config)
    server_task = asyncio.create_task(server.serve(sockets=[sock]), name="http")
    warm_task = asyncio.create_task(_warm_up(server), name="warm-up")
    ctx.metrics.up.set(1)
    log.info(
        "SignalCraft listening on http://%s:%d (data in %s)",
        settings.server.host,
        settings.server.port,
        settings.data.path.resolve(),
    )
    if ready is not None:
        ready.set()
    stop_wait = asyncio.create_task(stop.wait())
    await asyncio.wait({server_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    log.info("shutting down: draining requests and tasks")
    ctx.health.draining = True
    server.should_exit = True
    stop.set()
    await server_task
    warm_task.cancel()
    await probe_task
    await asyncio.to_thread(router.stop)
    await asyncio.to_thread(parts.consumer.stop)
    await asyncio.to_thread(notify_tasks.shutdown, ctx)
    ctx.health.queue_consumer = False
    ctx.db.close()
    sock.close()
    log.info("stopped cleanly")
    return 0
