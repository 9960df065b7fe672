"""Monitors as users change them: create, update, pause, resume, delete. Each runs inside the
writer, validates first (InvalidInput naming the field), and leaves an audit entry."""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import apsw

from signalcraft.config import UptimeConfig
from signalcraft.db.queries import audit
from signalcraft.db.queries import uptime as uq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.pipeline.process import IngestOutcome
from signalcraft.uptime import alerts, validate
from signalcraft.uptime.model import Kind
from signalcraft.uptime.record import Pending, apply_step, state_of
from signalcraft.uptime.secrets import kept, masked
from signalcraft.uptime.state import after_pause

_FIELDS = ("name", "interval_seconds", "timeout_seconds", "failures_before_down", "successes_before_up")


def get(conn: apsw.Connection, workspace_id: int, monitor_id: int) -> uq.MonitorRow:
    found = uq.get_monitor(conn, workspace_id, monitor_id)
    if found is None:
        raise NotFound("no such monitor", field="monitor")
    return found


def parse_id(text: str) -> int:
    """A monitor id from a URL path; anything else is simply not found."""
    if not text.isdigit() or len(text) > 18:
        raise NotFound("no such monitor", field="monitor")
    return int(text)


def create(
    conn: apsw.Connection,
    workspace_id: int,
    data: Mapping[str, Any],
    cfg: UptimeConfig,
    actor: audit.Actor,
    now: float,
    *,
    slug: str | None = None,
) -> uq.MonitorRow:
    draft = validate.monitor(data, cfg)
    draft = dataclasses.replace(draft, settings=kept(draft.settings, {}))
    ping_key = str(uuid.uuid4()) if draft.kind == Kind.HEARTBEAT else None
    monitor_id = uq.insert_monitor(conn, workspace_id, draft, secrets.token_urlsafe(12), ping_key, slug, now)
    audit.record(
        conn,
        actor,
        "monitor.create",
        now,
        workspace_id=workspace_id,
        target=str(monitor_id),
        detail={"after": {"kind": draft.kind, "name": draft.name, "settings": masked(draft.settings)}},
    )
    return get(conn, workspace_id, monitor_id)


def merged(current: uq.MonitorRow, changes: Mapping[str, Any]) -> dict[str, Any]:
    """An update's fields over the stored ones (``settings`` merged key by key; stored secrets
    appear masked, see :func:`signalcraft.uptime.secrets.kept`)."""
    data: dict[str, Any] = {"kind": current.kind, **{f: getattr(current, f) for f in _FIELDS}}
    data["settings"] = masked(current.settings)
    for key, value in changes.items():
        if key == "kind" and value not in (None, current.kind):
            raise InvalidInput("the kind of a monitor cannot change; create a new one", field="kind")
        if key == "settings":
            if not isinstance(value, Mapping):
                raise InvalidInput("must be an object", field="settings")
            data["settings"].update(value)
        elif key in _FIELDS and value is not None:
            data[key] = value
    if current.kind == Kind.HEARTBEAT and isinstance(changes.get("settings"), Mapping):
        # a schedule is a period OR a cron expression: setting one drops the other
        if changes["settings"].get("cron"):
            data["settings"].pop("period_seconds", None)
        elif changes["settings"].get("period_seconds"):
            data["settings"].pop("cron", None)
    return data


def update(
    conn: apsw.Connection,
    workspace_id: int,
    monitor_id: int,
    changes: Mapping[str, Any],
    cfg: UptimeConfig,
    actor: audit.Actor,
    now: float,
) -> uq.MonitorRow:
    before = get(conn, workspace_id, monitor_id)
    draft = validate.monitor(merged(before, changes), cfg)
    draft = dataclasses.replace(draft, settings=kept(draft.settings, before.settings))
    uq.update_monitor(conn, monitor_id, draft, now)
    audit.record(
        conn,
        actor,
        "monitor.update",
        now,
        workspace_id=workspace_id,
        target=str(monitor_id),
        detail={
            "before": {"name": before.name, "settings": masked(before.settings)},
            "after": {"name": draft.name, "settings": masked(draft.settings)},
        },
    )
    return get(conn, workspace_id, monitor_id)


def set_paused(
    conn: apsw.Connection,
    workspace_id: int,
    monitor_id: int,
    paused: bool,
    actor: audit.Actor,
    now: float,
    window_seconds: float,
) -> dict[int, IngestOutcome]:
    """Pause (an open alert resolves: nothing is watched) or resume (pending until checked)."""
    monitor = get(conn, workspace_id, monitor_id)
    if monitor.paused == paused:
        return {}
    pending = Pending()
    step = after_pause(state_of(monitor))
    apply_step(conn, monitor, step, "paused" if paused else "resumed", now, pending)
    if monitor.cert_alert_open:
        pending.add(workspace_id, alerts.certificate_alert(monitor, False, monitor.cert_expires_at))
        uq.save_check(
            conn,
            monitor.id,
            monitor.last_check_at or now,
            monitor.last_latency_ms or 0,
            monitor.last_message,
            None,
            False,
        )
    uq.save_state(conn, monitor.id, uq.StateUpdate("pending", now, 0, 0, False, False, ()))
    uq.add_event(conn, monitor.id, now, "paused" if paused else "pending", "paused" if paused else "resumed")
    uq.set_paused(conn, monitor_id, paused, now)
    audit.record(
        conn,
        actor,
        "monitor.pause" if paused else "monitor.resume",
        now,
        workspace_id=workspace_id,
        target=str(monitor_id),
    )
    return alerts.emit(conn, pending.alerts, now, window_seconds)


def delete(
    conn: apsw.Connection,
    workspace_id: int,
    monitor_id: int,
    actor: audit.Actor,
    now: float,
    window_seconds: float,
) -> dict[int, IngestOutcome]:
    """Delete with its history; an open alert resolves first (no orphan alert firing forever)."""
    monitor = get(conn, workspace_id, monitor_id)
    pending = Pending()
    if monitor.alert_open:
        pending.add(workspace_id, alerts.monitor_alert(monitor, False, False, "monitor deleted"))
    if monitor.cert_alert_open:
        pending.add(workspace_id, alerts.certificate_alert(monitor, False, monitor.cert_expires_at))
    outcomes = alerts.emit(conn, pending.alerts, now, window_seconds)
    uq.delete_monitor(conn, monitor_id)
    audit.record(
        conn,
        actor,
        "monitor.delete",
        now,
        workspace_id=workspace_id,
        target=str(monitor_id),
        detail={"before": {"kind": monitor.kind, "name": monitor.name}},
    )
    return outcomes
