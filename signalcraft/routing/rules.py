"""Routing rules: an ordered list of (conditions -> actions), evaluated top to bottom.

A rule whose conditions all hold applies its actions; unless it says ``continue``, evaluation
stops there (Alertmanager's ``continue: false``). When no rule matched (or every match said
continue without notifying), the workspace's default route applies. ``drop`` keeps the alert
(it is stored and visible) but pages nobody. Pure: the caller passes ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from signalcraft.routing.matchers import Matcher, MatcherError, all_match

SEVERITIES = ("info", "warning", "error", "critical")
MAX_RULES = 200


class RuleError(ValueError):
    """A rule that cannot be saved; ``field`` is the path of the offending value."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


@dataclass(frozen=True)
class TimeWindow:
    """Weekdays (0 = Monday) and a daily span in a timezone; ``start > end`` spans midnight."""

    weekdays: frozenset[int]
    start: dt.time
    end: dt.time
    timezone: str = "UTC"

    def contains(self, now: dt.datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone))
        t, day = local.time(), local.weekday()
        if self.start <= self.end:
            return day in self.weekdays and self.start <= t < self.end
        # Overnight: the part after midnight belongs to the previous day's window.
        if t >= self.start:
            return day in self.weekdays
        return t < self.end and (day - 1) % 7 in self.weekdays


@dataclass(frozen=True)
class Conditions:
    integrations: tuple[int, ...] = ()
    sources: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    labels_exist: tuple[str, ...] = ()
    title_contains: str = ""
    window: TimeWindow | None = None


@dataclass(frozen=True)
class Actions:
    notify: tuple[int, ...] = ()
    escalation_policy: int | None = None
    set_severity: str | None = None
    add_labels: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False
    continue_: bool = False


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    conditions: Conditions
    actions: Actions
    enabled: bool = True


@dataclass(frozen=True)
class AlertFacts:
    """What rules look at."""

    integration_id: int
    source: str
    severity: str
    title: str
    labels: Mapping[str, str]


@dataclass
class Decision:
    matched: list[int] = field(default_factory=list)
    notify: list[int] = field(default_factory=list)
    escalation_policies: list[int] = field(default_factory=list)
    severity: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    dropped: bool = False
    used_default: bool = False

    @property
    def pages_someone(self) -> bool:
        return not self.dropped and bool(self.notify or self.escalation_policies)


def holds(conditions: Conditions, facts: AlertFacts, now: dt.datetime) -> bool:
    c = conditions
    return (
        (not c.integrations or facts.integration_id in c.integrations)
        and (not c.sources or facts.source in c.sources)
        and (not c.severities or facts.severity in c.severities)
        and all(name in facts.labels for name in c.labels_exist)
        and all_match(c.matchers, facts.labels)
        and (not c.title_contains or c.title_contains.lower() in facts.title.lower())
        and (c.window is None or c.window.contains(now))
    )


def _apply(actions: Actions, decision: Decision, facts: AlertFacts) -> AlertFacts:
    for channel in actions.notify:
        if channel not in decision.notify:
            decision.notify.append(channel)
    if (
        actions.escalation_policy is not None
        and actions.escalation_policy not in decision.escalation_policies
    ):
        decision.escalation_policies.append(actions.escalation_policy)
    if actions.set_severity:
        decision.severity = actions.set_severity
    decision.labels.update(actions.add_labels)
    decision.dropped = decision.dropped or actions.drop
    # Later rules see the changed severity and labels.
    return replace(facts, severity=decision.severity, labels={**facts.labels, **actions.add_labels})


def evaluate(rules: Sequence[Rule], facts: AlertFacts, now: dt.datetime, default: Actions) -> Decision:
    decision = Decision(severity=facts.severity, labels=dict(facts.labels))
    for rule in rules:
        if not rule.enabled or not holds(rule.conditions, facts, now):
            continue
        decision.matched.append(rule.id)
        facts = _apply(rule.actions, decision, facts)
        if not rule.actions.continue_:
            return decision
    if not decision.pages_someone and not decision.dropped:
        decision.used_default = True
        _apply(default, decision, facts)
    return decision


# --- from and to JSON (the stored and API form) ----------------------------------------


def _strs(value: Any, path: str, *, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value):
        raise RuleError(path, "must be a list of strings")
    if allowed is not None:
        for v in value:
            if v not in allowed:
                raise RuleError(path, f"{v!r} is not one of {', '.join(allowed)}")
    return tuple(value)


def _ints(value: Any, path: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise RuleError(path, "must be a list of ids")
    return tuple(value)


def _time(value: Any, path: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except (TypeError, ValueError):
        raise RuleError(path, "must be a time like 09:00") from None


def window_from(doc: Any, path: str) -> TimeWindow:
    if not isinstance(doc, dict):
        raise RuleError(path, "must be an object with weekdays, start, end, timezone")
    days = doc.get("weekdays", list(range(7)))
    if not isinstance(days, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in days) or not days:
        raise RuleError(f"{path}.weekdays", "must be a non-empty list of 0 (Monday) to 6 (Sunday)")
    timezone = doc.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"{path}.timezone", f"unknown timezone {timezone!r}") from None
    start, end = _time(doc.get("start"), f"{path}.start"), _time(doc.get("end"), f"{path}.end")
    if start == end:
        raise RuleError(f"{path}.end", "must differ from start")
    return TimeWindow(frozenset(days), start, end, str(timezone))


def conditions_from(doc: Any, path: str) -> Conditions:
    if not isinstance(doc, dict):
        raise RuleError(path, "must be an object")
    known = {"integrations", "sources", "severities", "matchers", "labels_exist", "title_contains", "window"}
    if unknown := set(doc) - known:
        raise RuleError(path, f"unknown keys: {', '.join(sorted(unknown))}")
    matchers = []
    for i, text in enumerate(doc.get("matchers", [])):
        try:
            matchers.append(Matcher.parse(str(text)))
        except MatcherError as exc:
            raise RuleError(f"{path}.matchers[{i}]", str(exc)) from None
    title = doc.get("title_contains", "")
    if not isinstance(title, str) or len(title) > 200:
        raise RuleError(f"{path}.title_contains", "must be a string of at most 200 characters")
    return Conditions(
        integrations=_ints(doc.get("integrations", []), f"{path}.integrations"),
        sources=_strs(doc.get("sources", []), f"{path}.sources"),
        severities=_strs(doc.get("severities", []), f"{path}.severities", allowed=SEVERITIES),
        matchers=tuple(matchers),
        labels_exist=_strs(doc.get("labels_exist", []), f"{path}.labels_exist"),
        title_contains=title,
        window=window_from(doc["window"], f"{path}.window") if doc.get("window") else None,
    )


def actions_from(doc: Any, path: str) -> Actions:
    if not isinstance(doc, dict):
        raise RuleError(path, "must be an object")
    known = {"notify", "escalation_policy", "set_severity", "add_labels", "drop", "continue"}
    if unknown := set(doc) - known:
        raise RuleError(path, f"unknown keys: {', '.join(sorted(unknown))}")
    severity = doc.get("set_severity")
    if severity is not None and severity not in SEVERITIES:
        raise RuleError(f"{path}.set_severity", f"must be one of {', '.join(SEVERITIES)}")
    labels = doc.get("add_labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise RuleError(f"{path}.add_labels", "must be an object of strings")
    policy = doc.get("escalation_policy")
    if policy is not None and (not isinstance(policy, int) or isinstance(policy, bool)):
        raise RuleError(f"{path}.escalation_policy", "must be an escalation policy id")
    for flag in ("drop", "continue"):
        if not isinstance(doc.get(flag, False), bool):
            raise RuleError(f"{path}.{flag}", "must be true or false")
    return Actions(
        notify=_ints(doc.get("notify", []), f"{path}.notify"),
        escalation_policy=policy,
        set_severity=severity,
        add_labels=dict(labels),
        drop=bool(doc.get("drop", False)),
        continue_=bool(doc.get("continue", False)),
    )


def rule_from(doc: Any, path: str, rule_id: int = 0) -> Rule:
    if not isinstance(doc, dict):
        raise RuleError(path, "must be an object")
    name = doc.get("name", "")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 100:
        raise RuleError(f"{path}.name", "give the rule a name of 1 to 100 characters")
    return Rule(
        id=rule_id,
        name=name.strip(),
        conditions=conditions_from(doc.get("conditions", {}), f"{path}.conditions"),
        actions=actions_from(doc.get("actions", {}), f"{path}.actions"),
        enabled=bool(doc.get("enabled", True)),
    )
