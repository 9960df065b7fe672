"""Apply a parse result to the database: dedup, group, state, timeline. One transaction.

:func:`prepare` does the CPU work (fingerprints, JSON encoding) on the caller's side;
:func:`apply` runs inside the single writer and touches only indexed rows, so a batch of
requests costs one commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apsw

from signalcraft.db.queries import alerts as q
from signalcraft.db.queries import integrations as iq
from signalcraft.ingest.model import AlertStatus, DeployEvent, ParseResult, RawAlert
from signalcraft.ingest.normalize import links_to_list, stacktrace_to_dict
from signalcraft.pipeline.keys import fingerprint_for, group_key_for
from signalcraft.pipeline.state import (
    Action,
    GroupChoice,
    action_for,
    choose_group,
    group_status_after_alert_change,
)


@dataclass(frozen=True, slots=True)
class PreparedAlert:
    alert: RawAlert
    fingerprint: str
    group_key: str
    labels: str
    annotations: str
    links: str
    stacktrace: str | None
    occurred_at: float | None


@dataclass(frozen=True, slots=True)
class RawBody:
    content_type: str
    size: int
    compressed: bytes


@dataclass
class IngestOutcome:
    created: int = 0
    deduplicated: int = 0
    acknowledged: int = 0
    resolved: int = 0
    ignored: int = 0
    deploys: int = 0
    alert_ids: list[int] = field(default_factory=list)
    group_ids: set[int] = field(default_factory=set)
    event_ids: list[int] = field(default_factory=list)
    raw_id: int | None = None

    @property
    def accepted_alerts(self) -> int:
        return self.created + self.deduplicated + self.acknowledged + self.resolved


def prepare(result: ParseResult, integration: iq.Integration) -> list[PreparedAlert]:
    fields = integration.settings.get("fingerprint_fields") or None
    group_by = integration.settings.get("group_by") or None
    prepared = []
    for alert in result.alerts:
        fingerprint = fingerprint_for(alert, fields)
        trace = stacktrace_to_dict(alert.stacktrace)
        prepared.append(
            PreparedAlert(
                alert=alert,
                fingerprint=fingerprint,
                group_key=group_key_for(alert, fingerprint, group_by),
                labels=q.dumps(alert.labels),
                annotations=q.dumps(alert.annotations),
                links=q.dumps(links_to_list(alert.links)),
                stacktrace=q.dumps(trace) if trace else None,
                occurred_at=alert.occurred_at.timestamp() if alert.occurred_at else None,
            )
        )
    return prepared


def apply(
    conn: apsw.Connection,
    integration: iq.Integration,
    prepared: list[PreparedAlert],
    deploys: tuple[DeployEvent, ...],
    raw: RawBody | None,
    *,
    request_id: str,
    now: float,
    window_seconds: float,
    action: str = "",
) -> IngestOutcome:
    """Store one request's alerts. Runs in the writer; everything or nothing is committed."""
    outcome = IngestOutcome()
    ws = integration.workspace_id
    if raw is not None:
        outcome.raw_id = q.insert_raw(
            conn, ws, integration.id, now, raw.content_type, raw.size, raw.compressed
        )
    actor = f"source:{integration.type}"
    refreshed = _refresh_resent(conn, integration.id, prepared, now, outcome.raw_id)
    for item in prepared:
        current = refreshed.get(item.fingerprint) if refreshed is not None else None
        if current is not None:
            _count_duplicate(current, outcome)
        else:
            _apply_one(
                conn, integration, item, outcome, now, window_seconds, actor, refresh=refreshed is None
            )
    for deploy in deploys:
        q.insert_deploy(
            conn,
            ws,
            integration.id,
            deploy.summary,
            deploy.source,
            deploy.component,
            deploy.occurred_at.timestamp() if deploy.occurred_at else None,
            now,
            q.dumps(deploy.custom_details),
            q.dumps(links_to_list(deploy.links)),
            outcome.raw_id,
        )
        outcome.deploys += 1
    iq.touch_received(conn, integration.id, now)
    q.log_ingest(
        conn,
        request_id,
        ws,
        integration.id,
        now,
        True,
        _summary(outcome),
        outcome.accepted_alerts,
        action,
        outcome.alert_ids[0] if outcome.alert_ids else None,
        outcome.raw_id,
    )
    return outcome


def _summary(outcome: IngestOutcome) -> str:
    parts = [
        f"{n} {name}"
        for name, n in (
            ("created", outcome.created),
            ("deduplicated", outcome.deduplicated),
            ("acknowledged", outcome.acknowledged),
            ("resolved", outcome.resolved),
            ("ignored", outcome.ignored),
            ("deploys", outcome.deploys),
        )
        if n
    ]
    return ", ".join(parts) or "nothing to do"


def _refresh_resent(
    conn: apsw.Connection, integration_id: int, prepared: list[PreparedAlert], now: float, raw_id: int | None
) -> dict[str, q.OpenAlert] | None:
    """Count every firing alert of the request that is already open, all at once (see
    :func:`q.refresh_open_alerts`); the open alerts found, by fingerprint.

    Only when no fingerprint comes twice in the request: otherwise None, and each alert
    goes through :func:`_apply_one` in order (the second of a pair may land on the alert
    the first one created). With distinct fingerprints the alerts touch distinct rows, so
    counting the re-sends first changes nothing but this: a new alert of the request joins
    a group that one of the re-sends keeps alive, wherever the re-send stands in the body.
    """
    if len({item.fingerprint for item in prepared}) < len(prepared):
        return None
    firing = [_refresh(item) for item in prepared if item.alert.status is AlertStatus.FIRING]
    return q.refresh_open_alerts(conn, integration_id, firing, now=now, raw_id=raw_id) if firing else {}


def _refresh(item: PreparedAlert) -> q.Refresh:
    alert = item.alert
    return q.Refresh(
        fingerprint=item.fingerprint,
        severity=int(alert.severity),
        title=alert.title,
        description=alert.description,
        labels=item.labels,
        annotations=item.annotations,
        links=item.links,
        stacktrace=item.stacktrace,
        ends_at=alert.ended_at.timestamp() if alert.ended_at is not None else None,  # as _keep_ends_at
    )


def _count_duplicate(current: q.OpenAlert, outcome: IngestOutcome) -> None:
    outcome.alert_ids.append(current.id)
    outcome.group_ids.add(current.group_id)
    outcome.deduplicated += 1


def _apply_one(
    conn: apsw.Connection,
    integration: iq.Integration,
    item: PreparedAlert,
    outcome: IngestOutcome,
    now: float,
    window: float,
    actor: str,
    *,
    refresh: bool,
) -> None:
    """One alert, in the request's order. ``refresh``: a firing alert may still be a re-send
    of an open alert (False when :func:`_refresh_resent` has already looked)."""
    alert = item.alert
    if refresh and alert.status is AlertStatus.FIRING:
        # A firing event deduplicates onto the open alert whatever its status
        # (action_for(FIRING, open) is DEDUPLICATE), so try that first: one statement.
        found = q.refresh_open_alerts(conn, integration.id, [_refresh(item)], now=now, raw_id=outcome.raw_id)
        if found:
            _count_duplicate(found[item.fingerprint], outcome)
            return
    # A firing alert that got here has no open alert (the refresh above, or
    # _refresh_resent, found none), so only the other statuses look one up.
    current = (
        None if alert.status is AlertStatus.FIRING else q.open_alert(conn, integration.id, item.fingerprint)
    )
    action = action_for(alert.status, current.status if current else None)
    if action is Action.IGNORE:
        outcome.ignored += 1
        return
    if action is Action.CREATE:
        _create(conn, integration, item, outcome, now, window)
        _keep_ends_at(conn, outcome.alert_ids[-1], alert)
        return
    assert current is not None and action is not Action.DEDUPLICATE  # handled above
    outcome.alert_ids.append(current.id)
    outcome.group_ids.add(current.group_id)
    # Acknowledge and resolve events often carry only a key: count them, never overwrite content.
    q.count_event(conn, current.id, current.group_id, now, outcome.raw_id)
    status = "resolved" if action is Action.RESOLVE else "acknowledged"
    q.set_alert_status(conn, current.id, status, now)
    outcome.event_ids.append(
        q.add_event(conn, integration.workspace_id, current.group_id, current.id, status, now, actor)
    )
    if action is Action.RESOLVE:
        outcome.resolved += 1
    else:
        outcome.acknowledged += 1
    _settle_group(conn, integration.workspace_id, current.group_id, now, actor, outcome)


def _create(
    conn: apsw.Connection,
    integration: iq.Integration,
    item: PreparedAlert,
    outcome: IngestOutcome,
    now: float,
    window: float,
) -> None:
    alert, ws = item.alert, integration.workspace_id
    candidate = q.newest_group(conn, integration.id, item.group_key)
    choice = choose_group(candidate, now, window)
    if choice is GroupChoice.NEW:
        group_id = q.insert_group(
            conn,
            ws,
            integration.id,
            item.group_key,
            int(alert.severity),
            alert.title,
            alert.source,
            alert.service,
            alert.group_labels or _group_labels(alert),
            now,
        )
    else:
        assert candidate is not None
        group_id = candidate.id
        if choice is GroupChoice.REOPEN:
            q.reopen_group(conn, group_id)
            outcome.event_ids.append(q.add_event(conn, ws, group_id, None, "reopened", now))
    alert_id = q.insert_alert(
        conn,
        workspace_id=ws,
        integration_id=integration.id,
        group_id=group_id,
        fingerprint=item.fingerprint,
        status="firing",
        severity=int(alert.severity),
        title=alert.title,
        description=alert.description,
        source=alert.source,
        service=alert.service,
        labels=item.labels,
        annotations=item.annotations,
        links=item.links,
        stacktrace=item.stacktrace,
        occurred_at=item.occurred_at,
        now=now,
        raw_id=outcome.raw_id,
    )
    kind = "created" if choice is GroupChoice.NEW else "joined"
    outcome.event_ids.append(q.add_event(conn, ws, group_id, alert_id, kind, now))
    if choice is GroupChoice.JOIN:
        _settle_group(conn, ws, group_id, now, "", outcome)
    outcome.created += 1
    outcome.alert_ids.append(alert_id)
    outcome.group_ids.add(group_id)


def _keep_ends_at(conn: apsw.Connection, alert_id: int, alert: RawAlert) -> None:
    """Alertmanager API v2 senders (Prometheus) put a future ``endsAt`` on firing alerts and
    re-send before it passes; an alert whose ``endsAt`` passes without a re-send is resolved
    (see :mod:`signalcraft.pipeline.expire`), as Alertmanager does."""
    if alert.ended_at is not None:
        q.set_ends_at(conn, alert_id, alert.ended_at.timestamp())


def _group_labels(alert: RawAlert) -> dict[str, str]:
    return {"alertname": alert.labels["alertname"]} if "alertname" in alert.labels else {}


def _settle_group(
    conn: apsw.Connection, workspace_id: int, group_id: int, now: float, actor: str, outcome: IngestOutcome
) -> None:
    state = q.group_state(conn, group_id)
    status = group_status_after_alert_change(state.status, state.firing_count, state.unacknowledged > 0)
    q.set_group_status(conn, group_id, status, state.firing_count, now, actor)
    if status != state.status and status in ("resolved", "acknowledged"):
        outcome.event_ids.append(
            q.add_event(conn, workspace_id, group_id, None, f"group_{status}", now, actor)
        )


def outcome_dict(outcome: IngestOutcome) -> dict[str, Any]:
    return {
        "created": outcome.created,
        "deduplicated": outcome.deduplicated,
        "acknowledged": outcome.acknowledged,
        "resolved": outcome.resolved,
        "ignored": outcome.ignored,
        "deploys": outcome.deploys,
    }


__all__ = ["AlertStatus", "IngestOutcome", "PreparedAlert", "RawBody", "apply", "outcome_dict", "prepare"]
