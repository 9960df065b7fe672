"""Keeping the dashboard's hourly rollups up to date (tables in migration 0014).

A periodic task adds every alert and ingest request that arrived since its last run, a
bounded batch per write transaction so a backfill of millions of rows never holds the
single writer for long. Ingest writes nothing here: the dashboard counts the rows past the
rollups' progress from the base tables (:mod:`signalcraft.db.queries.stats`), so its figures
are exact whether the task ran a second ago or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from huey import crontab

from signalcraft.db.queries import rollups as rq

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.db import Database
    from signalcraft.web.context import AppContext

BATCH = 20_000  # ids per write transaction: tens of milliseconds of the writer's time


@dataclass(frozen=True, slots=True)
class CaughtUp:
    alerts: int
    requests: int


def catch_up(db: Database, batch: int = BATCH) -> CaughtUp:
    """Roll up everything not rolled up yet; returns how many alerts and ingest requests."""
    alerts = requests = 0
    while added := db.write(lambda c: rq.roll_up_alerts(c, batch)):
        alerts += added
    while added := db.write(lambda c: rq.roll_up_ingest(c, batch)):
        requests += added
    return CaughtUp(alerts, requests)


def register(huey: Huey, ctx: AppContext) -> dict[str, object]:
    @huey.periodic_task(crontab(minute="*"), name="dashboard_rollups")
    def dashboard_rollups() -> CaughtUp:
        """Every minute: roll up the alerts and ingest requests received since the last run
        (all of them at the first run after an upgrade with data added since)."""
        return catch_up(ctx.db)

    return {"dashboard_rollups": dashboard_rollups}
