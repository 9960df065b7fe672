"""JSON API v1: uptime monitors (list, create, read, update, pause/resume, delete, run a check
now) and a heartbeat's recent pings, under ``/api/v1/workspaces/{slug}/monitors``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import uptime as uq
from signalcraft.errors import InvalidInput
from signalcraft.uptime import alerts, service, views
from signalcraft.uptime.engine import Engine, engine_of
from signalcraft.uptime.model import CheckResult
from signalcraft.uptime.secrets import masked
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import AppContext, ctx_of


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class MonitorIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(max_length=20)]
    name: Annotated[str, msgspec.Meta(max_length=200)]
    settings: dict[str, Any] = {}
    interval_seconds: int | None = None
    timeout_seconds: int | None = None
    failures_before_down: int | None = None
    successes_before_up: int | None = None


class MonitorPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    settings: dict[str, Any] | None = None
    interval_seconds: int | None = None
    timeout_seconds: int | None = None
    failures_before_down: int | None = None
    successes_before_up: int | None = None
    paused: bool | None = None


class MonitorOut(msgspec.Struct):
    id: int
    public_id: str
    kind: str
    name: str
    status: str
    paused: bool
    flapping: bool
    settings: dict[str, Any]
    interval_seconds: int
    timeout_seconds: int
    failures_before_down: int
    successes_before_up: int
    created_at: float
    updated_at: float
    status_since: float | None
    last_check_at: float | None
    last_latency_ms: int | None
    last_message: str
    next_check_at: float | None
    cert_expires_at: float | None
    last_ping_at: float | None
    last_duration: float | None
    uptime: dict[str, float | None]
    badge_url: str
    ping_url: str | None = None
    push_url: str | None = None


class EventOut(msgspec.Struct):
    at: float
    status: str
    message: str


class HourOut(msgspec.Struct):
    start: float
    checks: int
    failures: int
    p50_ms: int | None
    p95_ms: int | None


class MonitorDetailOut(msgspec.Struct):
    monitor: MonitorOut
    events: list[EventOut]
    latency: list[HourOut]


class CheckOut(msgspec.Struct):
    ok: bool
    latency_ms: int
    message: str
    cert_expires_at: float | None


class PingOut(msgspec.Struct):
    at: float
    kind: str
    exit_status: int | None
    duration: float | None
    source: str
    remote: str
    message: str
    body: str
    body_size: int


def monitor_out(ctx: AppContext, summary: views.MonitorSummary) -> MonitorOut:
    m, base = summary.monitor, ctx.settings.server.public_url()
    engine = engine_of(ctx.extras)
    ping = f"{base}/ping/{m.ping_key}" if m.ping_key else None
    return MonitorOut(
        m.id,
        m.public_id,
        m.kind,
        m.name,
        summary.shown_status,
        m.paused,
        m.flapping,
        masked(m.settings),
        m.interval_seconds,
        m.timeout_seconds,
        m.failures_before_down,
        m.successes_before_up,
        m.created_at,
        m.updated_at,
        m.status_since,
        m.last_check_at,
        m.last_latency_ms,
        m.last_message,
        engine.next_check(m) if engine else None,
        m.cert_expires_at,
        m.last_ping_at,
        m.last_duration,
        summary.uptime,
        f"{base}/badge/{m.public_id}.svg",
        ping,
        f"{base}/api/push/{m.ping_key}?status=up&msg=OK&ping=" if m.ping_key else None,
    )


def check_out(result: CheckResult) -> CheckOut:
    return CheckOut(result.ok, result.latency_ms, result.message, result.cert_expires_at)


def engine_for(ctx: AppContext) -> Engine:
    """The running engine, or a stand-in for processes without a probe loop (tests, CLI)."""
    found = engine_of(ctx.extras)
    return found if found is not None else Engine(ctx.db, ctx.settings, ctx.now, extras=ctx.extras)


def window(ctx: AppContext) -> float:
    return ctx.settings.ingest.group_window_minutes * 60.0


class MonitorApi(Controller):
    path = "/api/v1/workspaces/{slug:str}/monitors"
    tags = ["monitors"]

    async def _summary(self, ctx: AppContext, workspace_id: int, monitor_id: int) -> views.MonitorSummary:
        now = ctx.now()
        return await ctx.db.aread(
            lambda c: views.summaries(c, [service.get(c, workspace_id, monitor_id)], now)[0]
        )

    @get("/", opt=_ws(Permission.READ))
    async def list_monitors(self, request: Request[Any, Any, Any]) -> list[MonitorOut]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()
        found = await ctx.db.aread(lambda c: views.workspace_summaries(c, ws.id, now))
        return [monitor_out(ctx, s) for s in found]

    @post("/", opt=_ws(Permission.CONFIGURE))
    async def create_monitor(self, request: Request[Any, Any, Any], data: JSONBody[MonitorIn]) -> MonitorOut:
        """Create a monitor. Heartbeats get a ping URL (``ping_url``) and a push URL."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        fields = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        created = await ctx.db.awrite(
            lambda c: service.create(c, ws.id, fields, ctx.settings.uptime, actor, ctx.now())
        )
        engine_for(ctx).poke()
        return monitor_out(ctx, await self._summary(ctx, ws.id, created.id))

    @get("/{identifier:str}", opt=_ws(Permission.READ))
    async def get_monitor(
        self, request: Request[Any, Any, Any], identifier: FromPath[str]
    ) -> MonitorDetailOut:
        """The monitor, its last state changes and 48 hours of hourly latency."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        monitor_id, now = service.parse_id(identifier), ctx.now()
        found = await ctx.db.aread(lambda c: views.detail(c, service.get(c, ws.id, monitor_id), now))
        return MonitorDetailOut(
            monitor_out(ctx, found.summary),
            [EventOut(e.at, e.status, e.message) for e in found.events],
            [HourOut(p.start, p.checks, p.failures, p.p50_ms, p.p95_ms) for p in found.latency],
        )

    @patch("/{identifier:str}", opt=_ws(Permission.CONFIGURE))
    async def update_monitor(
        self, request: Request[Any, Any, Any], identifier: FromPath[str], data: JSONBody[MonitorPatch]
    ) -> MonitorOut:
        """Change settings (merged key by key), or pause/resume with ``{"paused": true|false}``."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        monitor_id = service.parse_id(identifier)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None and k != "paused"}

        def change(conn: Any) -> dict[int, Any]:
            if changes:
                service.update(conn, ws.id, monitor_id, changes, ctx.settings.uptime, actor, ctx.now())
            if data.paused is not None:
                return service.set_paused(conn, ws.id, monitor_id, data.paused, actor, ctx.now(), window(ctx))
            service.get(conn, ws.id, monitor_id)
            return {}

        alerts.publish(ctx.extras, await ctx.db.awrite(change))
        engine_for(ctx).poke()
        return monitor_out(ctx, await self._summary(ctx, ws.id, monitor_id))

    @delete("/{identifier:str}", opt=_ws(Permission.CONFIGURE), status_code=204)
    async def delete_monitor(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> None:
        """Delete the monitor and its history; its open alert resolves."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        monitor_id = service.parse_id(identifier)
        outcomes = await ctx.db.awrite(
            lambda c: service.delete(c, ws.id, monitor_id, actor, ctx.now(), window(ctx))
        )
        alerts.publish(ctx.extras, outcomes)
        engine_for(ctx).poke()

    @post("/{identifier:str}/run", opt=_ws(Permission.CONFIGURE), status_code=200)
    async def run_now(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> CheckOut:
        """Run the check now; the result is stored like a scheduled one."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        monitor_id = service.parse_id(identifier)
        monitor = await ctx.db.aread(lambda c: service.get(c, ws.id, monitor_id))
        if monitor.kind == "heartbeat":
            raise InvalidInput("a heartbeat is not checked: it waits for pings", field="monitor")
        if monitor.paused:
            raise InvalidInput("the monitor is paused: resume it first", field="monitor")
        return check_out(await engine_for(ctx).check_now(monitor))

    @get("/{identifier:str}/pings", opt=_ws(Permission.READ))
    async def list_pings(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> list[PingOut]:
        """A heartbeat's last pings with their (capped) bodies, newest first."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        monitor_id = service.parse_id(identifier)
        found = await ctx.db.aread(lambda c: uq.pings_of(c, service.get(c, ws.id, monitor_id).id, 1000))
        return [
            PingOut(
                p.at,
                p.kind,
                p.exit_status,
                p.duration,
                p.source,
                p.remote,
                p.message,
                (p.body or b"").decode("utf-8", "replace"),
                p.body_size,
            )
            for p in found
        ]


HANDLERS: list[ControllerRouterHandler] = [MonitorApi]
