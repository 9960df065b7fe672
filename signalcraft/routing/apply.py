"""Routing applied to stored alert events, in the write transaction right after ingest.

For each event that starts paging (``created``, ``reopened``): gather the alert's facts,
check suppression (maintenance windows, silences, inhibition by the workspace's unresolved
alerts), evaluate the rules, store a decision, add a ``routed`` or ``suppressed`` event to
the group's timeline, and write an outbox row per channel. When a group is acknowledged or
resolved, the channels notified for its trigger get that event kind, so their messages can
be updated. One decision per event: a retried task changes nothing.

The escalation policies of a trigger's decision are started in the same transaction
(:func:`signalcraft.oncall.engine.start_escalations`, which fires their first step); an
acknowledgement or resolution stops the group's running escalations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import apsw

from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import routing as rq
from signalcraft.ingest.model import Severity
from signalcraft.oncall import engine
from signalcraft.routing import service
from signalcraft.routing.rules import Actions, AlertFacts, Decision, Rule, actions_from, evaluate
from signalcraft.routing.suppression import (
    InhibitRule,
    MaintenanceWindow,
    Silence,
    Suppressed,
    suppression_for,
)

TRIGGERS = frozenset({"created", "reopened"})
# Group-level changes (ingest writes group_*, people's actions write the plain kind without an alert).
FOLLOW_UPS = {"group_acknowledged": "acknowledged", "group_resolved": "resolved"}
MAX_TEST_ALERTS = 500


@dataclass
class Routed:
    decision: rq.DecisionRow
    notification_ids: list[int] = field(default_factory=list)
    escalating: bool = False  # runs were started: the caller schedules the engine's next wake-up


@dataclass
class _Config:
    rules: list[Rule]
    default: Actions
    silences: list[Silence]
    windows: list[MaintenanceWindow]
    inhibit: list[InhibitRule]
    names: dict[int, str]


def _config(conn: apsw.Connection, workspace_id: int, now: float) -> _Config:
    rules = service.stored_rules(conn, workspace_id)
    return _Config(
        rules=rules,
        default=service.default_actions(conn, workspace_id),
        silences=[service.silence_model(s) for s in rq.silences_of(conn, workspace_id, current_at=now)],
        windows=[service.window_model(w) for w in rq.windows_of(conn, workspace_id)],
        inhibit=[service.inhibit_model(r) for r in rq.inhibit_rules_of(conn, workspace_id)],
        names={r.id: r.name for r in rules},
    )


def follow_up_kind(kind: str, alert_id: int | None) -> str | None:
    if kind in FOLLOW_UPS:
        return FOLLOW_UPS[kind]
    if kind in ("acknowledged", "resolved") and alert_id is None:
        return kind
    return None


def route_events(conn: apsw.Connection, workspace_id: int, event_ids: list[int], now: float) -> list[Routed]:
    """Route the given alert events of one workspace; returns what was decided (and the outbox
    rows written, to wake the delivery worker after the commit)."""
    config: _Config | None = None
    routed = []
    for event in rq.events_to_route(conn, workspace_id, event_ids):
        if rq.decided(conn, event.id):
            continue
        if event.kind in TRIGGERS:
            config = config or _config(conn, workspace_id, now)
            result = _route_trigger(conn, workspace_id, event, config, now)
            if result is not None and result.decision.escalation_policies:
                _escalate(conn, workspace_id, result, now)
        elif (kind := follow_up_kind(event.kind, event.alert_id)) is not None:
            engine.stop_for_group(conn, workspace_id, event.group_id, kind, now)
            result = _route_follow_up(conn, workspace_id, event, kind, now)
        else:
            continue
        if result is not None:
            routed.append(result)
    return routed


def _escalate(conn: apsw.Connection, workspace_id: int, routed: Routed, now: float) -> None:
    d = routed.decision
    woken = engine.start_escalations(conn, workspace_id, d.group_id, d.event_id, d.escalation_policies, now)
    routed.notification_ids.extend(woken.notification_ids)
    routed.escalating = True


def facts_of(alert: rq.AlertFactsRow) -> AlertFacts:
    return AlertFacts(
        alert.integration_id, alert.source, Severity(alert.severity).label, alert.title, alert.labels
    )


def _route_trigger(
    conn: apsw.Connection, workspace_id: int, event: rq.EventToRoute, config: _Config, now: float
) -> Routed | None:
    alert_id = event.alert_id or rq.alert_after_event(conn, event.group_id, event.id)
    alert = rq.alert_facts(conn, workspace_id, alert_id) if alert_id is not None else None
    if alert is None:
        return None
    facts = facts_of(alert)
    firing = rq.firing_labels(conn, workspace_id, alert.id) if config.inhibit else []
    suppressed = suppression_for(
        alert.integration_id,
        alert.labels,
        now,
        silences=config.silences,
        inhibit_rules=config.inhibit,
        firing=firing,
        windows=config.windows,
    )
    base = rq.DecisionRow(
        0,
        event.group_id,
        alert.id,
        event.id,
        "triggered",
        now,
        [],
        False,
        [],
        [],
        facts.severity,
        dict(facts.labels),
        None,
        None,
        False,
        "",
    )
    if suppressed is not None:
        decision = replace(base, suppressed_reason=suppressed.reason, suppressed_by=suppressed.by_id)
        _timeline(
            conn, workspace_id, event, "suppressed", now, _suppressed_detail(conn, workspace_id, suppressed)
        )
        return _store(conn, workspace_id, Routed(decision))
    outcome = evaluate(config.rules, facts, dt.datetime.fromtimestamp(now, dt.UTC), config.default)
    wanted = [] if outcome.dropped else outcome.notify
    sent, notification_ids, note = dispatch(
        conn, workspace_id, event.group_id, event.id, "triggered", wanted, now
    )
    decision = replace(
        base,
        matched_rules=outcome.matched,
        used_default=outcome.used_default,
        notified_channels=sent,
        escalation_policies=[] if outcome.dropped else outcome.escalation_policies,
        severity=outcome.severity,
        labels=outcome.labels,
        dropped=outcome.dropped,
        note=note,
    )
    _timeline(conn, workspace_id, event, "routed", now, _routed_detail(decision, outcome, config.names))
    return _store(conn, workspace_id, Routed(decision, notification_ids))


def _route_follow_up(
    conn: apsw.Connection, workspace_id: int, event: rq.EventToRoute, kind: str, now: float
) -> Routed | None:
    channels = rq.trigger_channels(conn, event.group_id)
    if not channels:
        return None
    sent, notification_ids, note = dispatch(conn, workspace_id, event.group_id, event.id, kind, channels, now)
    decision = rq.DecisionRow(
        0,
        event.group_id,
        event.alert_id,
        event.id,
        kind,
        now,
        [],
        False,
        sent,
        [],
        "",
        {},
        None,
        None,
        False,
        note,
    )
    return _store(conn, workspace_id, Routed(decision, notification_ids))


def _store(conn: apsw.Connection, workspace_id: int, routed: Routed) -> Routed:
    decision_id = rq.insert_decision(conn, workspace_id, routed.decision)
    routed.decision = replace(routed.decision, id=decision_id)
    return routed


def dispatch(
    conn: apsw.Connection,
    workspace_id: int,
    group_id: int,
    event_id: int,
    kind: str,
    channels: list[int],
    now: float,
) -> tuple[list[int], list[int], str]:
    """Write an outbox row per channel (in this transaction); returns (channels notified,
    notification ids, a note on what was not sent)."""
    if not channels:
        return [], [], ""
    try:
        from signalcraft.notify import outbox
    except ImportError:  # built without notifications: the decision is the record
        return [], [], "notification outbox not available: decision recorded only"
    live = rq.live_channel_ids(conn, workspace_id)
    sent, ids, skipped = [], [], []
    for channel_id in channels:
        if channel_id not in live:  # deleted since the rule was saved
            skipped.append(channel_id)
            continue
        ids.append(
            outbox.enqueue(
                conn,
                workspace_id=workspace_id,
                channel_id=channel_id,
                group_id=group_id,
                event_kind=kind,
                now=now,
                event_id=event_id,
            )
        )
        sent.append(channel_id)
    note = f"skipped deleted channels {skipped}" if skipped else ""
    return sent, ids, note


def _timeline(
    conn: apsw.Connection,
    workspace_id: int,
    event: rq.EventToRoute,
    kind: str,
    now: float,
    detail: dict[str, Any],
) -> None:
    aq.add_event(conn, workspace_id, event.group_id, event.alert_id, kind, now, "routing", detail)


def _routed_detail(decision: rq.DecisionRow, outcome: Decision, names: dict[int, str]) -> dict[str, Any]:
    return {
        "rules": [names.get(rule_id, str(rule_id)) for rule_id in outcome.matched],
        "default_route": outcome.used_default,
        "channels": decision.notified_channels,
        "escalation_policies": decision.escalation_policies,
        "severity": decision.severity,
        "dropped": decision.dropped,
        "note": decision.note,
    }


def _suppressed_detail(conn: apsw.Connection, workspace_id: int, suppressed: Suppressed) -> dict[str, Any]:
    detail: dict[str, Any] = {"reason": suppressed.reason, "by_id": suppressed.by_id}
    if suppressed.reason == "silence":
        found = rq.silence(conn, workspace_id, suppressed.by_id)
        if found is not None:
            detail.update(author=found.author, comment=found.comment, ends_at=found.ends_at)
    elif suppressed.reason == "maintenance":
        window = rq.window(conn, workspace_id, suppressed.by_id)
        detail["name"] = window.name if window else ""
    else:
        rule = rq.inhibit_rule(conn, workspace_id, suppressed.by_id)
        detail["name"] = rule.name if rule else ""
    return detail


# --- "test this rule" -----------------------------------------------------------------------


def test_rules(
    conn: apsw.Connection, workspace_id: int, rules_doc: Any, last_n: int, default_doc: Any = None
) -> list[dict[str, Any]]:
    """What ``rules_doc`` (and the default route: ``default_doc`` or the saved one) would have
    done with each of the last ``last_n`` stored alerts, evaluated at the time each arrived.
    Pure evaluation: nothing is stored and suppression is not considered."""
    rules = service.validated(lambda: service.compile_rules(conn, workspace_id, rules_doc))
    numbered = [replace(rule, id=position) for position, rule in enumerate(rules)]
    default = (
        service.validated(lambda: actions_from(default_doc, "default"))
        if default_doc is not None
        else service.default_actions(conn, workspace_id)
    )
    results = []
    for alert in rq.recent_alert_facts(conn, workspace_id, max(1, min(last_n, MAX_TEST_ALERTS))):
        facts = facts_of(alert)
        at = dt.datetime.fromtimestamp(alert.first_seen_at, dt.UTC)
        outcome = evaluate(numbered, facts, at, default)
        results.append(
            {
                "alert_id": alert.id,
                "group_id": alert.group_id,
                "title": alert.title,
                "severity": facts.severity,
                "labels": dict(facts.labels),
                "matched": [{"position": p, "name": numbered[p].name} for p in outcome.matched],
                "default_route": outcome.used_default,
                "notify": [] if outcome.dropped else outcome.notify,
                "escalation_policies": [] if outcome.dropped else outcome.escalation_policies,
                "severity_after": outcome.severity,
                "labels_after": outcome.labels,
                "dropped": outcome.dropped,
            }
        )
    return results
