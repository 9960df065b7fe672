"""Storing what checks and pings found, inside the single writer: the sample, the state
machine's step, the state-change event and the alerts, in one transaction.

The state is re-read from the row here (not kept in the engine), so pings, probe results,
pauses and edits that race each other are serialized by the writer and never lost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import apsw

from signalcraft.config import UptimeConfig
from signalcraft.db.queries import uptime as uq
from signalcraft.ingest.model import RawAlert
from signalcraft.pipeline.process import IngestOutcome
from signalcraft.uptime import alerts, samples
from signalcraft.uptime.model import CheckResult
from signalcraft.uptime.state import AlertAction, MonitorState, Policy, Status, Step, after_result

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished check of the monitor as it was at ``version`` (its ``updated_at``)."""

    monitor_id: int
    version: float
    started_at: float
    result: CheckResult


@dataclass
class Pending:
    """Alerts to emit at the end of a write, by workspace."""

    alerts: dict[int, list[RawAlert]] = field(default_factory=lambda: defaultdict(list))

    def add(self, workspace_id: int, alert: RawAlert) -> None:
        self.alerts[workspace_id].append(alert)


def policy_for(monitor: uq.MonitorRow, cfg: UptimeConfig) -> Policy:
    return Policy(
        monitor.failures_before_down,
        monitor.successes_before_up,
        cfg.flap_changes,
        cfg.flap_window_minutes * 60.0,
    )


def state_of(monitor: uq.MonitorRow) -> MonitorState:
    return MonitorState(
        Status(monitor.status),
        monitor.fail_streak,
        monitor.ok_streak,
        monitor.alert_open,
        monitor.flapping,
        monitor.recent_changes,
    )


def apply_step(
    conn: apsw.Connection, monitor: uq.MonitorRow, step: Step, message: str, now: float, pending: Pending
) -> None:
    """Save the new state; record a change; queue the alert the step asks for."""
    s = step.state
    since = now if step.changed_to is not None else monitor.status_since
    uq.save_state(
        conn,
        monitor.id,
        uq.StateUpdate(
            s.status.value, since, s.fail_streak, s.ok_streak, s.alert_open, s.flapping, s.changes
        ),
    )
    if step.changed_to is not None:
        uq.add_event(conn, monitor.id, now, step.changed_to.value, message)
    if step.alert is not None:
        firing = step.alert is AlertAction.FIRE
        pending.add(monitor.workspace_id, alerts.monitor_alert(monitor, firing, s.flapping, message))


def _certificate(monitor: uq.MonitorRow, result: CheckResult, now: float, pending: Pending) -> bool:
    """Warn ``cert_expiry_days`` ahead (a separate warning alert); returns whether one is open."""
    days = int(monitor.settings.get("cert_expiry_days", 0) or 0)
    expires = result.cert_expires_at
    if expires is None and days:
        return monitor.cert_alert_open  # nothing learned this time (the check failed before TLS)
    soon = bool(days) and expires is not None and expires - now < days * DAY
    if soon != monitor.cert_alert_open:
        pending.add(
            monitor.workspace_id, alerts.certificate_alert(monitor, soon, expires or monitor.cert_expires_at)
        )
    return soon


def record_results(
    conn: apsw.Connection, outcomes: list[Outcome], cfg: UptimeConfig, now: float, window_seconds: float
) -> dict[int, IngestOutcome]:
    """Store a batch of probe results (the engine flushes every half second)."""
    pending = Pending()
    for outcome in outcomes:
        monitor = uq.monitor_by_id(conn, outcome.monitor_id)
        if monitor is None or monitor.paused or monitor.updated_at != outcome.version:
            continue  # deleted, paused or edited while the check ran: its result no longer applies
        result = outcome.result
        uq.append_sample(
            conn,
            monitor.id,
            samples.hour_of(outcome.started_at),
            samples.pack(outcome.started_at, result.ok, result.latency_ms),
        )
        cert_open = _certificate(monitor, result, now, pending)
        uq.save_check(
            conn,
            monitor.id,
            outcome.started_at,
            result.latency_ms,
            result.message,
            result.cert_expires_at,
            cert_open,
        )
        step = after_result(state_of(monitor), result.ok, now, policy_for(monitor, cfg))
        apply_step(conn, monitor, step, result.message, now, pending)
    return alerts.emit(conn, pending.alerts, now, window_seconds)
