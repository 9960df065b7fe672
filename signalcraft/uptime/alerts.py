"""Monitor state changes become alerts through the same pipeline as every other source.

Each workspace gets one internal integration of type ``uptime`` (created on first need); a
monitor's alert has the dedup key ``monitor:<id>`` (its certificate warning
``monitor:<id>:certificate``), so routing, grouping, escalation and notifications treat it
like any other alert. Runs inside the single writer (``prepare`` + ``apply`` in one transaction
with the state change that caused it).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

import apsw

from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import uptime as uq
from signalcraft.events import bus_of
from signalcraft.ingest.model import AlertStatus, ParseResult, RawAlert, Severity
from signalcraft.pipeline.process import IngestOutcome, apply, prepare
from signalcraft.uptime.model import Kind
from signalcraft.uptime.net import expiry_text

INTEGRATION_NAME = "Uptime monitors"


def integration_for(conn: apsw.Connection, workspace_id: int, now: float) -> iq.Integration:
    found = uq.uptime_integration(conn, workspace_id)
    if found is not None:
        return found
    # The credential is never shown or used: monitors feed this integration from inside.
    return iq.create(conn, workspace_id, "uptime", INTEGRATION_NAME, secrets.token_hex(16), {}, now)


def _labels(monitor: uq.MonitorRow, **extra: str) -> dict[str, str]:
    return {"monitor": monitor.name, "type": monitor.kind, **extra}


def monitor_alert(monitor: uq.MonitorRow, firing: bool, flapping: bool, message: str) -> RawAlert:
    state = ("flapping" if flapping else "down") if firing else "up"
    title = f"{monitor.name} is {state}"
    return RawAlert(
        source="uptime",
        title=title,
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        severity=Severity.CRITICAL,
        description=message,
        labels=_labels(monitor),
        dedup_key=f"monitor:{monitor.id}",
        service=monitor.name,
        annotations={"kind": Kind(monitor.kind).label, **({"flapping": "true"} if flapping else {})},
    )


def certificate_alert(monitor: uq.MonitorRow, firing: bool, not_after: float | None) -> RawAlert:
    when = expiry_text(not_after) if not_after is not None else "unknown"
    return RawAlert(
        source="uptime",
        title=f"{monitor.name}: TLS certificate expires {when}",
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        severity=Severity.WARNING,
        description=f"The certificate is valid until {when}; renew it before then.",
        labels=_labels(monitor, check="certificate"),
        dedup_key=f"monitor:{monitor.id}:certificate",
        service=monitor.name,
    )


def emit(
    conn: apsw.Connection, by_workspace: Mapping[int, Sequence[RawAlert]], now: float, window_seconds: float
) -> dict[int, IngestOutcome]:
    """Feed each workspace's alerts through the pipeline; returns what the alert bus publishes."""
    outcomes: dict[int, IngestOutcome] = {}
    for workspace_id, alerts in by_workspace.items():
        if not alerts:
            continue
        integration = integration_for(conn, workspace_id, now)
        prepared = prepare(ParseResult(alerts=tuple(alerts)), integration)
        outcomes[workspace_id] = apply(
            conn,
            integration,
            prepared,
            (),
            None,
            request_id=secrets.token_hex(16),
            now=now,
            window_seconds=window_seconds,
            action="monitor",
        )
    return outcomes


def publish(extras: dict[str, object], outcomes: Mapping[int, IngestOutcome]) -> None:
    """Tell live views (the alert bus) which groups the emitted alerts changed."""
    bus = bus_of(extras)
    for workspace_id, outcome in outcomes.items():
        if outcome.event_ids:
            bus.publish(workspace_id, outcome)
