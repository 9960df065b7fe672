"""Huey task for routing: ``route_ingest(workspace_id, event_ids)``, queued by the ingest edge
after its commit. It runs :func:`signalcraft.routing.apply.route_events` in one write
transaction, then wakes the notification workers for the outbox rows it wrote.

Silences need no expiry task: each is bounded by its start and end, checked against ``now``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signalcraft.oncall import engine
from signalcraft.routing.apply import Routed, route_events

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.context import AppContext


def route_now(ctx: AppContext, workspace_id: int, event_ids: list[int]) -> list[Routed]:
    """Route, commit, then wake delivery (never before the commit: a worker must find the rows)."""
    now = ctx.now()
    routed = ctx.db.write(lambda c: route_events(c, workspace_id, list(event_ids), now))
    notification_ids = [n for r in routed for n in r.notification_ids]
    if notification_ids:
        _wake_delivery(ctx, notification_ids)
    if any(r.escalating for r in routed):
        engine.schedule_next_wake(ctx)
    return routed


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
