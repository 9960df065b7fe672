"""Huey tasks for notifications, and how the rest of the process reaches the notifier.

- ``deliver_notification(id)``: hand one outbox row to the notifier (it returns at once).
  Scheduled with a delay for each retry.
- ``notify_sweep``: every 30 s (a per-minute periodic task that also schedules itself 30 s
  later), recover expired leases and start every due row: the safety net for a task lost
  with a crash, a retry whose scheduled task vanished, or work left by a previous process.

Routing calls :func:`signalcraft.notify.outbox.enqueue` in its write transaction and, after
the commit, :func:`dispatch` with the ids (in-process: no queue hop for the first attempt).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from huey import crontab

from signalcraft.events import bus_of
from signalcraft.notify.base import NotifyDeps
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.http import OutboundHttp, notify_policy
from signalcraft.notify.message import MessageRenderer
from signalcraft.paths import templates_dir

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.context import AppContext

SWEEP_SECONDS = 30


def build_notifier(
    ctx: AppContext, *, http: OutboundHttp | None = None, smtp_tls_context: ssl.SSLContext | None = None
) -> Notifier:
    """A notifier for this process. Its client's policy (``[notify] allowed_networks`` on top of
    public-only) also decides, through ``notifier.deps``, which URLs a channel may be saved with;
    tests may pass their own ``http``."""
    deps = NotifyDeps(
        http=http or OutboundHttp(policy=notify_policy(ctx.settings.notify)),
        renderer=MessageRenderer(templates_dir()),
        clock=ctx.clock,
        smtp_tls_context=smtp_tls_context,
    )
    notifier = Notifier(ctx.db, deps, ctx.settings.server.public_url())
    notifier.groups_changed = lambda workspace_id, group_ids: bus_of(ctx.extras).publish(
        workspace_id, group_ids
    )
    notifier.reschedule = lambda notification_id, delay: _wake_later(ctx, notification_id, delay)
    return notifier


def notifier_of(ctx: AppContext) -> Notifier:
    """The process's notifier (``ctx.extras["notifier"]``), made on first use."""
    found: Notifier | None = ctx.extras.get("notifier")  # a test may install a stand-in with submit()
    if found is None:
        found = ctx.extras["notifier"] = build_notifier(ctx)
    return found


def _wake_later(ctx: AppContext, notification_id: int, delay: float) -> None:
    task: Any = ctx.extras.get("tasks", {}).get("deliver_notification")
    if task is not None:  # else the sweeper finds it when due
        task.schedule(args=(notification_id,), delay=max(0.0, delay))


def dispatch(ctx: AppContext, notification_ids: Iterable[int]) -> None:
    """Start delivering ``notification_ids``, after the transaction that wrote them has committed.

    In-process: the ids go straight to the notifier's loop, not through the Huey queue, whose
    few workers also route every ingest request (at 100 alerts/s a queue hop per notification
    doubled the work and built a backlog of seconds). Nothing is lost if this process dies
    now: the rows are committed and the sweeper starts them.
    """
    notifier = notifier_of(ctx)
    for notification_id in notification_ids:
        notifier.submit(notification_id)


def register(huey: Huey, ctx: AppContext) -> dict[str, object]:
    """Register the tasks; returns them by name. Tasks look the notifier up when they run,
    so a test may install its own (``ctx.extras["notifier"]``)."""

    @huey.task(name="deliver_notification")
    def deliver_notification(notification_id: int) -> None:
        notifier_of(ctx).submit(notification_id)

    @huey.task(name="notify_sweep")
    def notify_sweep() -> None:
        notifier_of(ctx).sweep(ctx.now())

    @huey.periodic_task(crontab(minute="*"), name="notify_sweep_periodic")
    def notify_sweep_periodic() -> None:
        notifier_of(ctx).sweep(ctx.now())
        notify_sweep.schedule(delay=SWEEP_SECONDS)

    return {
        "deliver_notification": deliver_notification,
        "notify_sweep": notify_sweep,
        "notify_sweep_periodic": notify_sweep_periodic,
    }


def shutdown(ctx: AppContext, timeout: float = 10.0) -> None:
    """At process exit, after the Huey consumer stopped: let sends in flight finish."""
    found = ctx.extras.get("notifier")
    if isinstance(found, Notifier):
        found.close(timeout)
