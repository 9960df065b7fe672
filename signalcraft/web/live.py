"""Live updates: Server-Sent Events at ``GET /w/{slug}/live``.

The guard checks the session and the membership when the stream opens; the stream checks
them again every ``recheck`` seconds and ends (after an ``event: closed``) when either is
gone, so a revoked session or a removed member stops hearing about the workspace.

Messages:

- ``event: groups`` with ``data: 12,15`` (the ids of alert groups that changed) or
  ``data: reload`` (too much happened: re-read everything). Pages re-fetch what they show
  (static/js/inbox.js), so a message carries no alert content.
- ``: ping`` comments every ``heartbeat`` seconds, so proxies keep the connection open and
  a dead client is noticed.
- ``event: closed`` before the stream ends for good (session or membership gone): the page
  stops reconnecting (``sse-close="closed"``).

On shutdown the runtime sets ``ctx.health.draining``; every stream notices within ``poll``
seconds and ends, so open browser tabs never hold SIGTERM for the whole shutdown timeout
(the browser reconnects to the next process by itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.types import ControllerRouterHandler

from signalcraft.auth import service
from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import accounts as q
from signalcraft.events import GroupsChanged, bus_of
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import AppContext, ctx_of


@dataclass(frozen=True, slots=True)
class LiveTiming:
    """Seconds. Tests install shorter ones as ``ctx.extras["live_timing"]``."""

    heartbeat: float = 15.0
    recheck: float = 30.0
    poll: float = 1.0  # how often a quiet stream looks at the draining flag
    coalesce: float = 0.25  # changes within this window go out as one message
    retry_ms: int = 3000  # the browser's reconnect delay after a dropped connection


def timing_of(ctx: AppContext) -> LiveTiming:
    found = ctx.extras.get("live_timing")
    return found if isinstance(found, LiveTiming) else LiveTiming()


def groups_message(change: GroupsChanged) -> ServerSentEventMessage:
    data = "reload" if change.reload else ",".join(str(i) for i in change.group_ids)
    return ServerSentEventMessage(event="groups", data=data)


async def still_allowed(ctx: AppContext, token: str, workspace_id: int) -> bool:
    """The session is live and its user still a member of the workspace."""
    current = await service.current_session(ctx.db, ctx.settings.auth, token, ctx.now())
    if current is None:
        return False
    user_id = current.user.id
    return await ctx.db.aread(lambda c: q.role_in(c, user_id, workspace_id)) is not None


async def _stream(ctx: AppContext, workspace_id: int, token: str) -> AsyncIterator[ServerSentEventMessage]:
    timing, bus = timing_of(ctx), bus_of(ctx.extras)
    loop = asyncio.get_running_loop()
    last_beat = last_check = loop.time()
    sub = bus.subscribe(workspace_id)  # here, not in the handler: the finally below always runs
    try:
        yield ServerSentEventMessage(comment="live", retry=timing.retry_ms, data=None)
        while not ctx.health.draining:
            change = await sub.next(timing.poll)
            if change is not None:
                await asyncio.sleep(timing.coalesce)
                yield groups_message(sub.drain(change))
            now = loop.time()
            if now - last_check >= timing.recheck:
                last_check = now
                if not await still_allowed(ctx, token, workspace_id):
                    yield ServerSentEventMessage(event="closed", data="signed out")
                    return
            if now - last_beat >= timing.heartbeat:
                last_beat = now
                yield ServerSentEventMessage(comment="ping", data=None)
    finally:
        bus.unsubscribe(sub)


@get(
    "/w/{slug:str}/live",
    opt={"permission": Permission.READ, "scope": "workspace", "html": True},
    include_in_schema=False,
)
async def live(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """The workspace's alert changes as they happen (see the module docstring)."""
    ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return ServerSentEvent(_stream(ctx, access.workspace.id, identity.session_token), headers=headers)


HANDLERS: list[ControllerRouterHandler] = [live]
