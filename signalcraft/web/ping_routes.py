"""Public uptime routes: heartbeat pings, Uptime Kuma pushes, status pages, badges.

- ``/ping/{key}``, ``/ping/{key}/start|fail|log|<exit status 0-255>``: Healthchecks-style, any
  method, ``200 OK`` in plain text; the body (a job's output) is kept up to
  ``[uptime] log_body_max_bytes`` and the rest read and dropped, so a 100 MB body costs no memory.
  Errors in plain text too: 404 unknown key, 409 paused monitor, 400 unknown action; nothing
  is stored for them.
- ``/api/push/{key}?status=up|down&msg=...&ping=...``: Uptime Kuma push, answered as Kuma does
  (``{"ok": true}``, or ``{"ok": false, "msg": ...}`` with 404/400).
- ``/status/{workspace slug}``: the public status page, only when the workspace enabled it (404
  otherwise, the same answer as for a workspace that does not exist).
- ``/badge/{public id}.svg``: a monitor's status (``?style=uptime&period=30d`` for uptime).

The key in a ping URL is the credential (a random UUID), as with Healthchecks. Every route
here is limited per client address (``[limits] public_per_minute_per_ip``; pings and pushes
share one bucket, status pages and badges another): past it, 429 with Retry-After.
"""

from __future__ import annotations

from typing import Any

from litestar import HttpMethod, Request, Response, get, route
from litestar.params import FromPath

from signalcraft.db.queries import accounts as aq
from signalcraft.db.queries import uptime as uq
from signalcraft.errors import InvalidInput, NotFound, SignalCraftError
from signalcraft.uptime import alerts, stats, status_page, svg, views
from signalcraft.uptime.heartbeat import (
    PausedMonitor,
    Ping,
    PingKind,
    UnknownMonitor,
    parse_action,
    record_ping,
)
from signalcraft.web.access import client_ip
from signalcraft.web.context import AppContext, ctx_of
from signalcraft.web.ratelimit import take_public

PUBLIC: dict[str, Any] = {"public": True}
ANY_METHOD: list[HttpMethod] = [
    HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE
]
MAX_KEY = 64


async def _read_capped(request: Request[Any, Any, Any], keep: int) -> tuple[bytes, int]:
    """The first ``keep`` bytes of the body and its full size; the rest is read and dropped."""
    kept, size = bytearray(), 0
    async for chunk in request.stream():
        size += len(chunk)
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
    return bytes(kept), size


async def _monitor(ctx: AppContext, key: str) -> uq.MonitorRow:
    found = None
    if 0 < len(key) <= MAX_KEY:
        found = await ctx.db.aread(lambda c: uq.monitor_by(c, "ping_key", key))
    if found is None or found.kind != "heartbeat":
        raise UnknownMonitor
    if found.paused:
        raise PausedMonitor
    return found


async def _record(ctx: AppContext, key: str, ping: Ping) -> None:
    now, window = ctx.now(), ctx.settings.ingest.group_window_minutes * 60.0
    outcomes = await ctx.db.awrite(lambda c: record_ping(c, key, ping, ctx.settings.uptime, now, window))
    alerts.publish(ctx.extras, outcomes)


def _text(message: str, status: int) -> Response[str]:
    return Response(
        f"{message}\n" if status != 200 else message,
        status_code=status,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


async def _ping(request: Request[Any, Any, Any], key: str, action: str) -> Response[str]:
    ctx = ctx_of(request)
    take_public(request, "ping")
    try:
        kind, exit_status = parse_action(action)
        await _monitor(ctx, key)  # before reading the body: an unknown key costs nothing
        keep = ctx.settings.uptime.log_body_max_bytes
        body, size = await _read_capped(request, keep)
        ping = Ping(kind, "ping", exit_status, body=body or None, body_size=size, remote=client_ip(request))
        await _record(ctx, key, ping)
    except SignalCraftError as exc:
        return _text(exc.message, exc.status)
    return _text("OK", 200)


@route(
    "/ping/{key:str}", http_method=ANY_METHOD, opt=PUBLIC, request_max_body_size=None, include_in_schema=False
)
async def ping(request: Request[Any, Any, Any], key: FromPath[str]) -> Response[str]:
    """A job finished well (Healthchecks style)."""
    return await _ping(request, key, "")


@route(
    "/ping/{key:str}/{action:str}",
    http_method=ANY_METHOD,
    opt=PUBLIC,
    request_max_body_size=None,
    include_in_schema=False,
)
async def ping_action(
    request: Request[Any, Any, Any], key: FromPath[str], action: FromPath[str]
) -> Response[str]:
    """``start``, ``fail``, ``log`` or an exit status (0 is success)."""
    return await _ping(request, key, action)


def _push_ping(query: dict[str, str], remote: str) -> Ping:
    status = query.get("status", "up") or "up"
    if status not in ("up", "down"):
        raise InvalidInput("status must be up or down", field="status")
    latency = None
    if query.get("ping"):
        try:
            latency = max(0, min(int(float(query["ping"])), 32_767))
        except ValueError:
            raise InvalidInput("ping must be a number of milliseconds", field="ping") from None
    kind = PingKind.SUCCESS if status == "up" else PingKind.FAIL
    return Ping(kind, "push", message=query.get("msg", "")[:500], latency_ms=latency, remote=remote)


@route("/api/push/{key:str}", http_method=["GET", "POST"], opt=PUBLIC, include_in_schema=False)
async def kuma_push(request: Request[Any, Any, Any], key: FromPath[str]) -> Response[dict[str, Any]]:
    """Uptime Kuma's push monitor URL."""
    ctx = ctx_of(request)
    take_public(request, "ping")
    try:
        ping = _push_ping(dict(request.query_params), client_ip(request))
        await _monitor(ctx, key)
        await _record(ctx, key, ping)
    except SignalCraftError as exc:
        return Response({"ok": False, "msg": exc.message}, status_code=exc.status)
    return Response({"ok": True})


@get("/status/{slug:str}", opt={**PUBLIC, "html": True}, include_in_schema=False)
async def public_status(request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[str]:
    """The workspace's public status page (opt-in)."""
    ctx = ctx_of(request)
    take_public(request, "status")
    now = ctx.now()

    def load(conn: Any) -> status_page.StatusPageView | None:
        workspace = aq.workspace_by_slug(conn, slug)
        return None if workspace is None else status_page.build(conn, workspace.id, now)

    page = await ctx.db.aread(load)
    if page is None:
        raise NotFound("no status page here")
    html = ctx.templates.render("status/page.html", {"page": page})
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "public, max-age=30", "Referrer-Policy": "no-referrer"},
    )


def _badge_text(query: dict[str, str], summary: views.MonitorSummary) -> tuple[str, str, str]:
    label = query.get("label", "")[:40]
    if query.get("style") == "uptime":
        period = query.get("period", "30d")
        if period not in summary.uptime:
            raise InvalidInput("period is one of 24h, 7d, 30d, 90d", field="period")
        value = summary.uptime[period]
        colour = (
            svg.BADGE_COLOURS["pending"]
            if value is None
            else svg.BADGE_COLOURS["up" if value >= 99.0 else "down"]
        )
        return label or f"uptime {period}", stats.format_percent(value), colour
    status = summary.shown_status
    return label or "status", status, svg.BADGE_COLOURS[status]


@get("/badge/{name:str}", opt=PUBLIC, include_in_schema=False)
async def badge(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[str]:
    """``/badge/<public id>.svg``: an SVG badge with the monitor's status or uptime."""
    ctx = ctx_of(request)
    take_public(request, "status")
    now = ctx.now()
    public_id = name.removesuffix(".svg")

    def load(conn: Any) -> views.MonitorSummary | None:
        monitor = uq.monitor_by(conn, "public_id", public_id) if name.endswith(".svg") else None
        return None if monitor is None else views.summaries(conn, [monitor], now)[0]

    summary = await ctx.db.aread(load) if 0 < len(public_id) <= MAX_KEY else None
    headers = {"Cache-Control": "public, max-age=60"}
    if summary is None:
        return Response(
            svg.badge("monitor", "not found", svg.BADGE_COLOURS["pending"]),
            status_code=404,
            media_type="image/svg+xml",
            headers=headers,
        )
    try:
        label, value, colour = _badge_text(dict(request.query_params), summary)
    except InvalidInput as exc:
        return Response(
            svg.badge("badge", exc.message, svg.BADGE_COLOURS["pending"]),
            status_code=400,
            media_type="image/svg+xml",
            headers=headers,
        )
    return Response(svg.badge(label, value, colour), media_type="image/svg+xml", headers=headers)


HANDLERS = [ping, ping_action, kuma_push, public_status, badge]
