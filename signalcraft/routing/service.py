"""Saving routing configuration: rules, the default route, silences, maintenance windows and
inhibit rules. Everything is validated here, at save time, so a bad regex or timezone is refused
with the path of the offending field and never fails when an alert arrives. Each change is
audited. Functions run inside a write transaction and take ``now``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import apsw

from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import audit
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.routing.matchers import Matcher, MatcherError
from signalcraft.routing.rules import MAX_RULES, Actions, Rule, RuleError, actions_from, rule_from
from signalcraft.routing.suppression import InhibitRule, MaintenanceWindow, Silence, Weekly

T = TypeVar("T")
MAX_SILENCE_SECONDS = 366 * 86400.0
MAX_MATCHERS = 50


def validated(fn: Callable[[], T]) -> T:
    """Run ``fn``; a RuleError becomes InvalidInput naming the field (a 400)."""
    try:
        return fn()
    except RuleError as exc:
        raise InvalidInput(exc.message, field=exc.field) from None


def _matchers(texts: Any, path: str, *, required: bool = False) -> list[Matcher]:
    if not isinstance(texts, list) or len(texts) > MAX_MATCHERS:
        raise RuleError(path, f'must be a list of at most {MAX_MATCHERS} matchers like name="value"')
    if required and not texts:
        raise RuleError(path, "give at least one matcher")
    found = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise RuleError(f"{path}[{i}]", 'must be a string like name="value"')
        try:
            found.append(Matcher.parse(text))
        except MatcherError as exc:
            raise RuleError(f"{path}[{i}]", str(exc)) from None
    return found


def _texts(matchers: Sequence[Matcher]) -> list[str]:
    return [str(m) for m in matchers]


def _name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 100:
        raise RuleError(path, "give a name of 1 to 100 characters")
    return value.strip()


# --- rules -----------------------------------------------------------------------------------


def compile_rules(conn: apsw.Connection, workspace_id: int, docs: Any, path: str = "rules") -> list[Rule]:
    """Validate a whole ordered rule list (as the API takes it); raises RuleError naming the field."""
    if not isinstance(docs, list) or len(docs) > MAX_RULES:
        raise RuleError(path, f"must be a list of at most {MAX_RULES} rules")
    channels = rq.live_channel_ids(conn, workspace_id)
    rules = []
    for i, doc in enumerate(docs):
        rule_id = doc.get("id", 0) if isinstance(doc, dict) else 0
        if not isinstance(rule_id, int) or isinstance(rule_id, bool):
            raise RuleError(f"{path}[{i}].id", "must be the id of a saved rule, or left out for a new one")
        body = {k: v for k, v in doc.items() if k != "id"} if isinstance(doc, dict) else doc
        rule = rule_from(body, f"{path}[{i}]", rule_id)
        _check_channels(rule.actions, channels, f"{path}[{i}].actions.notify")
        rules.append(rule)
    return rules


def _check_channels(actions: Actions, channels: set[int], path: str) -> None:
    for j, channel_id in enumerate(actions.notify):
        if channel_id not in channels:
            raise RuleError(f"{path}[{j}]", f"no channel {channel_id} in this workspace")


def save_rules(
    conn: apsw.Connection, workspace_id: int, docs: Any, actor: audit.Actor, now: float
) -> list[rq.RuleRow]:
    """Replace the ordered list. Rules that carry an ``id`` keep it (so past decisions still name
    them); rules without one are new; saved rules left out are deleted."""
    rules = validated(lambda: compile_rules(conn, workspace_id, docs))
    previous = rq.rules_of(conn, workspace_id)
    existing = {r.id for r in previous}
    kept = set()
    for i, rule in enumerate(rules):
        if rule.id and rule.id not in existing:
            raise InvalidInput(f"no saved rule {rule.id} in this workspace", field=f"rules[{i}].id")
        if rule.id and rule.id in kept:
            raise InvalidInput(f"rule {rule.id} appears twice", field=f"rules[{i}].id")
        if rule.id:
            kept.add(rule.id)
    for rule_id in existing - kept:
        rq.delete_rule(conn, workspace_id, rule_id)
    for position, (rule, doc) in enumerate(zip(rules, docs, strict=True)):
        body = {k: v for k, v in doc.items() if k != "id"}
        if rule.id:
            rq.update_rule(conn, workspace_id, rule.id, position, rule.name, body, rule.enabled, now)
        else:
            rq.insert_rule(conn, workspace_id, position, rule.name, body, rule.enabled, now)
    saved = rq.rules_of(conn, workspace_id)
    audit.record(
        conn,
        actor,
        "routing.rules_save",
        now,
        workspace_id=workspace_id,
        target="routing",
        detail=audit.changes(_rules_view(previous), _rules_view(saved)),
    )
    return saved


def stored_rules(conn: apsw.Connection, workspace_id: int) -> list[Rule]:
    """The saved rules as the evaluator takes them (they were validated when saved)."""
    return [
        rule_from({**row.doc, "enabled": row.enabled}, f"rules[{i}]", row.id)
        for i, row in enumerate(rq.rules_of(conn, workspace_id))
    ]


def default_actions(conn: apsw.Connection, workspace_id: int) -> Actions:
    return actions_from(rq.default_route(conn, workspace_id), "actions")


def _rules_view(rules: list[rq.RuleRow]) -> dict[str, Any]:
    """Rules as audit fields: one per rule id, with its position, name, state and body."""
    return {f"rule:{r.id}": {"position": r.position, "name": r.name, "enabled": r.enabled, "doc": r.doc}
            for r in rules}


def _rows_view(kind: str, saved: Any) -> dict[str, Any]:
    """Saved rows (dataclasses with an ``id``) as audit fields, one per row, timestamps left out."""
    return {f"{kind}:{r.id}": {k: v for k, v in dataclasses.asdict(r).items()
                               if k not in ("id", "workspace_id", "updated_at", "created_at")}
            for r in saved}


def save_default(
    conn: apsw.Connection, workspace_id: int, doc: Any, actor: audit.Actor, now: float
) -> dict[str, Any]:
    def check() -> None:
        actions = actions_from(doc, "actions")
        _check_channels(actions, rq.live_channel_ids(conn, workspace_id), "actions.notify")

    validated(check)
    before = rq.default_route(conn, workspace_id)
    rq.set_default_route(conn, workspace_id, doc, now)
    audit.record(
        conn,
        actor,
        "routing.default_save",
        now,
        workspace_id=workspace_id,
        target="routing",
        detail=audit.changes({"default": before}, {"default": dict(doc)}),
    )
    return dict(doc)


# --- silences -------------------------------------------------------------------------------


def create_silence(
    conn: apsw.Connection,
    workspace_id: int,
    matcher_texts: Any,
    starts_at: float,
    ends_at: float,
    comment: str,
    actor: audit.Actor,
    now: float,
    *,
    group_id: int | None = None,
) -> rq.SilenceRow:
    matchers = _silence_matchers(matcher_texts, starts_at, ends_at, comment, now)
    silence_id = rq.insert_silence(
        conn, workspace_id, _texts(matchers), starts_at, ends_at, actor.label, comment, now, group_id
    )
    audit.record(
        conn,
        actor,
        "silence.create",
        now,
        workspace_id=workspace_id,
        target=f"silence:{silence_id}",
        detail=audit.changes(
            {},
            {
                "matchers": _texts(matchers),
                "starts_at": starts_at,
                "ends_at": ends_at,
                "comment": comment,
                "group_id": group_id,
            },
        ),
    )
    found = rq.silence(conn, workspace_id, silence_id)
    assert found is not None
    return found


def _silence_matchers(
    matcher_texts: Any, starts_at: float, ends_at: float, comment: str, now: float
) -> list[Matcher]:
    """A new or edited silence's matchers, once its fields are checked; raises InvalidInput."""
    matchers = validated(lambda: _matchers(matcher_texts, "matchers", required=True))
    if ends_at <= max(starts_at, now):
        raise InvalidInput("must be later than the start and than now", field="ends_at")
    if ends_at - starts_at > MAX_SILENCE_SECONDS:
        raise InvalidInput("a silence lasts at most a year", field="ends_at")
    if len(comment) > 1000:
        raise InvalidInput("at most 1000 characters", field="comment")
    return matchers


def update_silence(
    conn: apsw.Connection,
    workspace_id: int,
    silence_id: int,
    matcher_texts: Any,
    starts_at: float,
    ends_at: float,
    comment: str,
    actor: audit.Actor,
    now: float,
) -> rq.SilenceRow:
    """Edit a silence that has not ended, as Alertmanager does: a pending one, or an active one
    whose matchers and start stay the same (a new end or comment), is changed in place; an active
    one given other matchers or another start is expired and a new silence takes its place (so
    what it muted until now stays explained by the old one). Returns the silence now in effect."""
    before = rq.silence(conn, workspace_id, silence_id)
    if before is None:
        raise NotFound("no such silence", field="silence_id")
    if before.ends_at <= now:
        raise InvalidInput("this silence has ended; create a new one", field="silence_id")
    texts = _texts(_silence_matchers(matcher_texts, starts_at, ends_at, comment, now))
    active = before.starts_at <= now
    if active and (texts != before.matchers or starts_at != before.starts_at):
        expire_silence(conn, workspace_id, silence_id, actor, now)
        return create_silence(conn, workspace_id, texts, starts_at, ends_at, comment, actor, now,
                              group_id=before.group_id)
    rq.update_silence(conn, workspace_id, silence_id, texts, starts_at, ends_at, comment)
    found = rq.silence(conn, workspace_id, silence_id)
    assert found is not None
    fields = ("matchers", "starts_at", "ends_at", "comment")
    audit.record(
        conn,
        actor,
        "silence.update",
        now,
        workspace_id=workspace_id,
        target=f"silence:{silence_id}",
        detail=audit.changes({k: getattr(before, k) for k in fields}, {k: getattr(found, k) for k in fields}),
    )
    return found


def silence_group(
    conn: apsw.Connection,
    workspace_id: int,
    group_id: int,
    duration_seconds: float,
    comment: str,
    actor: audit.Actor,
    now: float,
    *,
    alert_id: int | None = None,
) -> rq.SilenceRow:
    """One click from an alert: match its labels exactly (the group's newest alert by default)."""
    if aq.get_group(conn, workspace_id, group_id) is None:
        raise NotFound("no such alert group", field="group_id")
    alerts = aq.alerts_of_group(conn, workspace_id, group_id)
    chosen = next((a for a in alerts if alert_id is None or a.id == alert_id), None)
    if chosen is None:
        raise NotFound("no such alert in this group", field="alert_id")
    texts = [str(m) for m in _label_matchers(chosen.labels)]
    if not texts:
        raise InvalidInput("this alert has no labels to silence on; write matchers instead", field="alert_id")
    return create_silence(
        conn, workspace_id, texts, now, now + duration_seconds, comment, actor, now, group_id=group_id
    )


def _label_matchers(labels: dict[str, str]) -> list[Matcher]:
    found = []
    for name, value in sorted(labels.items()):
        try:
            found.append(Matcher.make(name, "=", str(value)))
        except MatcherError:
            continue  # a label no matcher can name (odd characters): the others still pin the alert
    return found


def expire_silence(
    conn: apsw.Connection, workspace_id: int, silence_id: int, actor: audit.Actor, now: float
) -> rq.SilenceRow:
    before = rq.silence(conn, workspace_id, silence_id)
    if before is None:
        raise NotFound("no such silence", field="silence_id")
    rq.expire_silence(conn, workspace_id, silence_id, now)
    found = rq.silence(conn, workspace_id, silence_id)
    assert found is not None
    audit.record(
        conn,
        actor,
        "silence.expire",
        now,
        workspace_id=workspace_id,
        target=f"silence:{silence_id}",
        detail=audit.changes({"ends_at": before.ends_at}, {"ends_at": found.ends_at}),
    )
    return found


def silence_model(row: rq.SilenceRow) -> Silence:
    return Silence(row.id, tuple(Matcher.parse(t) for t in row.matchers), row.starts_at, row.ends_at)


# --- maintenance windows ----------------------------------------------------------------------


def _weekly(doc: Any, path: str) -> Weekly:
    if not isinstance(doc, dict) or set(doc) - {"weekdays", "start", "duration_minutes", "timezone"}:
        raise RuleError(path, "must be an object with weekdays, start, duration_minutes, timezone")
    days = doc.get("weekdays")
    if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        raise RuleError(f"{path}.weekdays", "must be a non-empty list of 0 (Monday) to 6 (Sunday)")
    try:
        start = dt.time.fromisoformat(doc.get("start"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RuleError(f"{path}.start", "must be a time like 02:00") from None
    minutes = doc.get("duration_minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 < minutes <= 7 * 1440:
        raise RuleError(f"{path}.duration_minutes", "must be 1 to 10080 minutes")
    timezone = doc.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"{path}.timezone", f"unknown timezone {timezone!r}") from None
    return Weekly(frozenset(days), start, dt.timedelta(minutes=minutes), str(timezone))


def window_model(row: rq.WindowRow) -> MaintenanceWindow:
    return MaintenanceWindow(
        row.id,
        tuple(row.integrations),
        tuple(Matcher.parse(t) for t in row.matchers),
        row.starts_at,
        row.ends_at,
        _weekly(row.weekly, "weekly") if row.weekly is not None else None,
    )


def _window_doc(
    conn: apsw.Connection, workspace_id: int, doc: Any, path: str
) -> tuple[str, list[int], list[Matcher]]:
    if not isinstance(doc, dict):
        raise RuleError(path, "must be an object")
    known = {"id", "name", "integrations", "matchers", "starts_at", "ends_at", "weekly"}
    if unknown := set(doc) - known:
        raise RuleError(path, f"unknown keys: {', '.join(sorted(unknown))}")
    name = _name(doc.get("name"), f"{path}.name")
    integrations = doc.get("integrations", [])
    ours = {i.id for i in iq.list_for(conn, workspace_id)}
    if not isinstance(integrations, list):
        raise RuleError(f"{path}.integrations", "must be a list of integration ids")
    for i, integration_id in enumerate(integrations):
        if integration_id not in ours or isinstance(integration_id, bool):
            raise RuleError(
                f"{path}.integrations[{i}]", f"no integration {integration_id!r} in this workspace"
            )
    matchers = _matchers(doc.get("matchers", []), f"{path}.matchers")
    if doc.get("weekly") is not None:
        if doc.get("starts_at") is not None or doc.get("ends_at") is not None:
            raise RuleError(f"{path}.weekly", "a window is either weekly or has starts_at/ends_at, not both")
        _weekly(doc["weekly"], f"{path}.weekly")
        return name, integrations, matchers
    starts, ends = doc.get("starts_at"), doc.get("ends_at")
    for key, value in (("starts_at", starts), ("ends_at", ends)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise RuleError(f"{path}.{key}", "give a Unix time (or a weekly schedule instead)")
    if float(ends) <= float(starts):  # type: ignore[arg-type]  # both checked just above
        raise RuleError(f"{path}.ends_at", "must be later than starts_at")
    return name, integrations, matchers


def _item_ids(docs: Any, existing: set[int], path: str, what: str) -> list[int | None]:
    """The ``id`` of each item of a whole-list save: a saved one's, or None for a new one."""
    if not isinstance(docs, list) or len(docs) > MAX_RULES:
        raise InvalidInput(f"must be a list of at most {MAX_RULES} {what}", field=path)
    ids: list[int | None] = []
    for i, doc in enumerate(docs):
        item_id = doc.get("id") if isinstance(doc, dict) else None
        if item_id is not None and (item_id not in existing or item_id in ids or isinstance(item_id, bool)):
            raise InvalidInput(
                f"no saved {what[:-1]} {item_id!r} here (or listed twice)", field=f"{path}[{i}].id"
            )
        ids.append(item_id)
    return ids


def save_windows(
    conn: apsw.Connection, workspace_id: int, docs: Any, actor: audit.Actor, now: float
) -> list[rq.WindowRow]:
    """Replace the workspace's maintenance windows. Each is ``{id?, name, integrations,
    matchers}`` plus either ``starts_at``/``ends_at`` (once) or ``weekly`` (recurring:
    ``weekdays``, ``start``, ``duration_minutes``, ``timezone``). Left-out windows are deleted."""
    previous = rq.windows_of(conn, workspace_id)
    existing = {w.id for w in previous}
    ids = _item_ids(docs, existing, "windows", "windows")
    checked = validated(
        lambda: [_window_doc(conn, workspace_id, d, f"windows[{i}]") for i, d in enumerate(docs)]
    )
    for gone in existing - {i for i in ids if i is not None}:
        rq.delete_window(conn, workspace_id, gone)
    for window_id, doc, (name, integrations, matchers) in zip(ids, docs, checked, strict=True):
        weekly = doc.get("weekly")
        starts_at = None if weekly is not None else float(doc["starts_at"])
        ends_at = None if weekly is not None else float(doc["ends_at"])
        rq.save_window(
            conn,
            workspace_id,
            window_id,
            name,
            integrations,
            _texts(matchers),
            starts_at,
            ends_at,
            weekly,
            now,
        )
    saved = rq.windows_of(conn, workspace_id)
    audit.record(
        conn,
        actor,
        "maintenance.save",
        now,
        workspace_id=workspace_id,
        target="maintenance",
        detail=audit.changes(_rows_view("window", previous), _rows_view("window", saved)),
    )
    return saved


# --- inhibit rules ---------------------------------------------------------------------------


def inhibit_model(row: rq.InhibitRow) -> InhibitRule:
    return InhibitRule(
        row.id,
        tuple(Matcher.parse(t) for t in row.source_matchers),
        tuple(Matcher.parse(t) for t in row.target_matchers),
        tuple(row.equal),
    )


def _inhibit_doc(doc: Any, path: str) -> tuple[str, list[Matcher], list[Matcher], list[str]]:
    if not isinstance(doc, dict):
        raise RuleError(path, "must be an object")
    if unknown := set(doc) - {"id", "name", "source_matchers", "target_matchers", "equal"}:
        raise RuleError(path, f"unknown keys: {', '.join(sorted(unknown))}")
    equal = doc.get("equal", [])
    if not isinstance(equal, list) or not all(isinstance(e, str) and 0 < len(e) <= 200 for e in equal):
        raise RuleError(f"{path}.equal", "must be a list of label names")
    return (
        _name(doc.get("name"), f"{path}.name"),
        _matchers(doc.get("source_matchers", []), f"{path}.source_matchers", required=True),
        _matchers(doc.get("target_matchers", []), f"{path}.target_matchers", required=True),
        equal,
    )


def save_inhibit_rules(
    conn: apsw.Connection, workspace_id: int, docs: Any, actor: audit.Actor, now: float
) -> list[rq.InhibitRow]:
    """Replace the inhibit rules: ``{id?, name, source_matchers, target_matchers, equal}`` each,
    as Alertmanager's ``inhibit_rules``. Left-out rules are deleted."""
    previous = rq.inhibit_rules_of(conn, workspace_id)
    existing = {r.id for r in previous}
    ids = _item_ids(docs, existing, "inhibit_rules", "inhibit rules")
    checked = validated(lambda: [_inhibit_doc(d, f"inhibit_rules[{i}]") for i, d in enumerate(docs)])
    for gone in existing - {i for i in ids if i is not None}:
        rq.delete_inhibit_rule(conn, workspace_id, gone)
    for rule_id, (name, source, target, equal) in zip(ids, checked, strict=True):
        rq.save_inhibit_rule(conn, workspace_id, rule_id, name, _texts(source), _texts(target), equal, now)
    saved = rq.inhibit_rules_of(conn, workspace_id)
    audit.record(
        conn,
        actor,
        "inhibit.save",
        now,
        workspace_id=workspace_id,
        target="inhibit",
        detail=audit.changes(_rows_view("inhibit", previous), _rows_view("inhibit", saved)),
    )
    return saved
