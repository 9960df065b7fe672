"""Sentry cron check-ins feed heartbeat monitors, like pings do.

``sentry_sdk.crons`` (``@monitor(monitor_slug=..., monitor_config=...)``) sends ``check_in``
envelope items: ``in_progress`` when the job starts, then ``ok`` or ``error`` with its
duration. As Sentry does, a check-in carrying ``monitor_config`` creates the monitor (named by
its slug, in the integration's workspace) or updates its schedule; one without a config for
an unknown slug is ignored. Schedules: ``{"type": "crontab", "value": "0 * * * *"}`` or
``{"type": "interval", "value": 2, "unit": "hour"}``; ``checkin_margin`` and ``max_runtime``
are in minutes (https://develop.sentry.dev/sdk/check-ins/).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import apsw

from signalcraft.config import Settings
from signalcraft.db.queries import audit
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import uptime as uq
from signalcraft.errors import InvalidInput
from signalcraft.ingest.model import CheckIn
from signalcraft.pipeline.process import IngestOutcome
from signalcraft.uptime import alerts, service, validate
from signalcraft.uptime.heartbeat import Ping, PingKind, apply_ping
from signalcraft.uptime.record import Pending
from signalcraft.web.context import AppContext

log = logging.getLogger(__name__)

UNITS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
KINDS = {"in_progress": PingKind.START, "ok": PingKind.SUCCESS, "error": PingKind.FAIL}
DEFAULT_MARGIN_MINUTES = 1  # Sentry's defaults
DEFAULT_MAX_RUNTIME_MINUTES = 30


@dataclass
class CheckInSummary:
    recorded: int = 0
    created: int = 0
    ignored: int = 0
    outcomes: dict[int, IngestOutcome] = field(default_factory=dict)


def _minutes(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key)
    return int(value * 60) if isinstance(value, int | float) and not isinstance(value, bool) else default * 60


def schedule_from(config: Mapping[str, Any]) -> dict[str, Any]:
    """Heartbeat settings from a ``monitor_config``; InvalidInput when it cannot be used."""
    schedule = config.get("schedule")
    if not isinstance(schedule, Mapping):
        raise InvalidInput("monitor_config.schedule is missing", field="monitor_config.schedule")
    raw: dict[str, Any] = {
        "grace_seconds": _minutes(config, "checkin_margin", DEFAULT_MARGIN_MINUTES),
        "max_runtime_seconds": _minutes(config, "max_runtime", DEFAULT_MAX_RUNTIME_MINUTES),
        "timezone": config.get("timezone") or "UTC",
    }
    if schedule.get("type") == "crontab":
        raw["cron"] = schedule.get("value")
    elif schedule.get("type") == "interval" and schedule.get("unit") in UNITS:
        value = schedule.get("value")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput("must be a positive whole number", field="monitor_config.schedule.value")
        raw["period_seconds"] = value * UNITS[str(schedule["unit"])]
    else:
        raise InvalidInput("type crontab, or interval with a unit", field="monitor_config.schedule")
    return validate.heartbeat(raw)


def _monitor_for(
    conn: apsw.Connection,
    integration: iq.Integration,
    check_in: CheckIn,
    settings: Settings,
    now: float,
    summary: CheckInSummary,
) -> uq.MonitorRow | None:
    slug = check_in.monitor_slug
    found = uq.monitor_by_slug(conn, integration.workspace_id, slug)
    if not check_in.monitor_config:
        return found
    try:
        schedule = schedule_from(check_in.monitor_config)
    except InvalidInput as exc:
        log.info("check-in for %r: monitor_config ignored (%s: %s)", slug, exc.field, exc.message)
        return found
    if found is None:
        actor = audit.Actor(f"source:sentry:{integration.id}")
        data = {"kind": "heartbeat", "name": slug[:100], "settings": schedule}
        summary.created += 1
        return service.create(conn, integration.workspace_id, data, settings.uptime, actor, now, slug=slug)
    if found.kind == "heartbeat" and schedule != found.settings:
        uq.set_slug_settings(conn, found.id, schedule, now)
        found = uq.monitor_by_id(conn, found.id)
    return found


def record_check_ins(
    conn: apsw.Connection,
    integration: iq.Integration,
    check_ins: Sequence[CheckIn],
    now: float,
    *,
    settings: Settings,
) -> CheckInSummary:
    """Apply check-ins (inside the writer). Never raises for the sender's mistakes: a check-in
    that cannot be used is counted as ignored, so the envelope's other items still count."""
    summary, pending = CheckInSummary(), Pending()
    for check_in in check_ins:
        monitor = _monitor_for(conn, integration, check_in, settings, now, summary)
        if monitor is None or monitor.kind != "heartbeat" or monitor.paused:
            summary.ignored += 1
            continue
        ping = Ping(
            KINDS[check_in.status],
            "sentry",
            message=f"Sentry check-in {check_in.check_in_id}".strip(),
            duration=check_in.duration,
        )
        apply_ping(conn, monitor, ping, settings.uptime, now, pending)
        summary.recorded += 1
    summary.outcomes = alerts.emit(conn, pending.alerts, now, settings.ingest.group_window_minutes * 60.0)
    return summary


async def store_check_ins(
    ctx: AppContext, integration: iq.Integration, check_ins: Sequence[CheckIn]
) -> CheckInSummary:
    """For the Sentry envelope route: record, then tell live views about alert changes."""
    now = ctx.now()
    summary = await ctx.db.awrite(
        lambda c: record_check_ins(c, integration, check_ins, now, settings=ctx.settings)
    )
    alerts.publish(ctx.extras, summary.outcomes)
    return summary
