"""Huey tasks for alert work: the once-a-minute wake-up of snoozed alert groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from huey import crontab

from signalcraft.alert_actions import wake_snoozed
from signalcraft.events import bus_of

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.context import AppContext


def register(huey: Huey, ctx: AppContext) -> dict[str, object]:
    """Register the tasks; returns them by name (tests call them with ``call_local()``)."""

    @huey.periodic_task(crontab(minute="*"), name="wake_snoozed")
    def wake_snoozed_groups() -> None:
        """Snoozed groups whose time has passed go back to triggered; live inboxes hear of it."""
        now = ctx.now()
        woken = ctx.db.write(lambda c: wake_snoozed(c, now))
        for workspace_id, group_ids in woken.items():
            bus_of(ctx.extras).publish(workspace_id, group_ids)

    return {"wake_snoozed": wake_snoozed_groups}
