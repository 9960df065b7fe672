"""How committed alert events reach routing.

:func:`announce` is what ingest (and the expiry task) call after their commit. In a serving
process it hands the ids to the :class:`~signalcraft.routing.router.Router` thread, which
routes them in batches and sweeps for anything missed. Without a router (a process that
does not serve, some tests) it queues the Huey task ``route_ingest(workspace_id, event_ids)``,
which runs :func:`signalcraft.routing.apply.route_events` in one write transaction. Either
way delivery is woken only after the commit.

Silences need no expiry task: each is bounded by its start and end, checked against ``now``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signalcraft.oncall import engine
from signalcraft.routing.apply import Routed, route_events
from signalcraft.routing.router import Router

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.context import AppContext


def announce(ctx: AppContext, workspace_id: int, event_ids: list[int]) -> None:
    """Route these committed events soon; never blocks on I/O when a router runs."""
    if not event_ids:
        return
    router = ctx.extras.get("router")
    if isinstance(router, Router) and router.alive:
        router.submit(workspace_id, event_ids)
        return
    route = ctx.extras.get("tasks", {}).get("route_ingest")
    if route is not None:
        route(workspace_id, event_ids)


def start_router(ctx: AppContext) -> Router:
    """Start the process's router (``ctx.extras["router"]``); its first pass is a sweep."""
    router = Router(ctx, lambda routed: after_commit(ctx, routed))
    ctx.extras["router"] = router
    router.start()
    return router


def route_now(ctx: AppContext, workspace_id: int, event_ids: list[int]) -> list[Routed]:
    """Route, commit, then wake delivery (never before the commit: a worker must find the rows)."""
    now = ctx.now()
    routed = ctx.db.write(lambda c: route_events(c, workspace_id, list(event_ids), now))
    after_commit(ctx, routed)
    return routed


def after_commit(ctx: AppContext, routed: list[Routed]) -> None:
    """Wake delivery for the outbox rows written, and the escalation engine if runs started."""
    notification_ids = [n for r in routed for n in r.notification_ids]
    if notification_ids:
        _wake_delivery(ctx, notification_ids)
    if any(r.escalating for r in routed):
        engine.schedule_next_wake(ctx)


def _wake_delivery(ctx: AppContext, notification_ids: list[int]) -> None:
    try:
        from signalcraft.notify.tasks import dispatch
    except ImportError:  # no notifier in this build: the outbox rows wait for one
        return
    dispatch(ctx, notification_ids)


def register(huey: Huey, ctx: AppContext) -> dict[str, object]:
    """Register the routing task; returns it by name (tests call it with ``call_local()``)."""

    @huey.task(name="route_ingest")
    def route_ingest(workspace_id: int, event_ids: list[int]) -> list[Routed]:
        return route_now(ctx, workspace_id, event_ids)

    return {"route_ingest": route_ingest}
