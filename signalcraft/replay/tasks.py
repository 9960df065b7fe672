"""Periodic replay tasks, registered by the runtime next to the others:
``ctx.extras["tasks"] = ... | replay.tasks.register(huey, ctx)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from huey import crontab

from signalcraft.replay.service import finalize_inactive, prune_expired, store_of

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.context import AppContext


def register(huey: Huey, ctx: AppContext) -> dict[str, object]:
    """Returns the tasks by name; tests run them with ``.call_local()`` under a FakeClock."""

    @huey.periodic_task(crontab(minute="*"), name="replay_finalize")
    def replay_finalize() -> list[str]:
        """Compress every session quiet for [replay] inactivity_minutes into its replay file."""
        return finalize_inactive(ctx.db, store_of(ctx), ctx.settings.replay, ctx.now())

    @huey.periodic_task(crontab(minute="23"), name="replay_retention")
    def replay_retention() -> int:
        """Delete replays older than [replay] retention_days (rows, then files); recount quotas."""
        return prune_expired(ctx.db, store_of(ctx), ctx.settings.replay, ctx.now())

    return {"replay_finalize": replay_finalize, "replay_retention": replay_retention}
