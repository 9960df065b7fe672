"""Operating endpoints: liveness, readiness, Prometheus metrics. Public by design (no data)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get

from signalcraft.auth.secrets import same
from signalcraft.db.connection import scalar
from signalcraft.errors import NotAuthenticated
from signalcraft.web.context import ctx_of

PUBLIC = {"public": True}


@get("/healthz", opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC, include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Ready to take alerts: the database takes a write lock, the queue consumer and the
    probe loop are running. 503 with the failing checks otherwise."""
    ctx = ctx_of(request)
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(ctx.db.awrite(lambda c: scalar(c, "SELECT 1")), timeout=5)
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure rather than raising it
        checks["database"] = f"failing: {exc}"
    consumer = ctx.extras.get("consumer")
    alive = ctx.health.queue_consumer and (consumer is None or consumer.alive)
    checks["queue_consumer"] = "ok" if alive else "failing: not running"
    checks["probe_loop"] = "ok" if ctx.health.probe_loop else "failing: not running"
    if ctx.health.draining:
        checks["draining"] = "shutting down"
    ready = all(v == "ok" for v in checks.values())
    return Response({"status": "ready" if ready else "not ready", "checks": checks},
                    status_code=200 if ready else 503)


@get("/metrics", opt=PUBLIC, include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format. With ``server.metrics_token`` set, scrapers must send it as a
    bearer token (Prometheus: ``authorization: {credentials: ...}``)."""
    ctx = ctx_of(request)
    token = ctx.settings.server.metrics_token
    if token and not same(request.headers.get("authorization", ""), f"Bearer {token}"):
        raise NotAuthenticated("send the metrics token as 'Authorization: Bearer <token>'")
    return Response(ctx.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


HANDLERS = [healthz, readyz, metrics]
