"""Huey tasks. Thin: they take ids, re-read state, and call named functions that do the work.

Tasks are registered on the process's Huey instance by :func:`register`, closing over the
AppContext (no module-level state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from huey import crontab

from signalcraft.db.queries import accounts as q
from signalcraft.pipeline.expire import expire_due
from signalcraft.retention import RetentionResult, run_nightly
from signalcraft.routing import tasks as routing

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.context import AppContext


def register(huey: Huey, ctx: AppContext) -> dict[str, object]:
    """Register every task and periodic task; returns them by name (tests call them)."""

    @huey.periodic_task(crontab(minute="*/15"), name="housekeeping")
    def housekeeping() -> None:
        """Drop expired sessions and old login-failure records."""
        now = ctx.now()
        auth = ctx.settings.auth

        def prune(conn: object) -> None:
            q.delete_expired_sessions(conn, now, auth.session_idle_minutes * 60.0)  # type: ignore[arg-type]
            q.prune_login_failures(conn, now - auth.login_window_minutes * 60.0)  # type: ignore[arg-type]

        ctx.db.write(prune)

    @huey.periodic_task(crontab(hour="3", minute="17"), name="retention")
    def retention() -> RetentionResult:
        """Nightly (03:17 UTC): delete what is past [ingest] raw_retention_days and the [retention]
        settings, batch by batch (see signalcraft/retention.py)."""
        return run_nightly(ctx.db, ctx.settings.ingest, ctx.settings.retention, ctx.now())

    @huey.periodic_task(crontab(minute="*"), name="expire_alerts")
    def expire_alerts() -> int:
        """Every minute: resolve API v2 alerts whose endsAt passed without a re-send, then route."""
        window = ctx.settings.ingest.group_window_minutes * 60.0
        done = ctx.db.write(lambda c: expire_due(c, ctx.now(), window))
        for workspace_id, outcome in done:
            routing.announce(ctx, workspace_id, outcome.event_ids)
        return sum(o.resolved for _, o in done)

    return {"housekeeping": housekeeping, "retention": retention, "expire_alerts": expire_alerts}
