"""What people do with alert groups: acknowledge, resolve, snooze, assign, add notes; and the
inbox's filters and saved views.

Every action runs inside one write transaction (``Database.write``/``awrite``), records an
``alert_events`` row (the group's timeline, with the person's email as actor; no audit
entry) and returns the ids it changed so the caller can publish them on the alert bus.
A bulk call acts on ids of one workspace: an id of another workspace (or of nothing) fails
the whole call with 404 and changes nothing.

Which action applies to which status is one table (:data:`VERDICTS`): an action that would
not change anything is skipped (acknowledging an acknowledged group); one that makes no
sense is refused (acknowledging a resolved group: 409 for one group, skipped in bulk).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode

import apsw

from signalcraft.auth.rbac import Permission, allows
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import alert_work as aw
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import audit
from signalcraft.db.queries.audit import Actor
from signalcraft.errors import Conflict, InvalidInput, NotFound
from signalcraft.ingest.model import Severity
from signalcraft.oncall import engine

MAX_BULK = 200
NOTE_MAX_CHARS = 4000
MIN_SNOOZE_SECONDS = 60.0
MAX_SNOOZE_SECONDS = 30 * 86400.0
SNOOZE_PRESETS = {"15m": 15 * 60.0, "1h": 3600.0, "4h": 4 * 3600.0}
MORNING_HOUR_UTC = 9


class Verdict(enum.Enum):
    APPLY = "apply"
    SKIP = "skip"  # nothing would change
    REFUSE = "refuse"  # makes no sense in this status


_A, _S, _R = Verdict.APPLY, Verdict.SKIP, Verdict.REFUSE
VERDICTS: dict[str, dict[str, Verdict]] = {
    "acknowledge": {"triggered": _A, "acknowledged": _S, "snoozed": _A, "resolved": _R},
    "resolve": {"triggered": _A, "acknowledged": _A, "snoozed": _A, "resolved": _S},
    "snooze": {"triggered": _A, "acknowledged": _A, "snoozed": _A, "resolved": _R},
    "unsnooze": {"triggered": _S, "acknowledged": _S, "snoozed": _A, "resolved": _S},
}
ACTIONS = (*VERDICTS, "assign")
_REFUSALS = {
    "acknowledge": "the group is resolved; nothing to acknowledge",
    "snooze": "the group is resolved; nothing to snooze",
}


@dataclass(frozen=True, slots=True)
class Change:
    """One action with its argument: ``until`` for snooze, ``assignee_id`` for assign (None unassigns)."""

    action: str
    until: float | None = None
    assignee_id: int | None = None


@dataclass(slots=True)
class ActionResult:
    changed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    @property
    def group_ids(self) -> list[int]:
        """What the alert bus publishes."""
        return self.changed


def verdict(change: Change, state: aw.WorkState) -> Verdict:
    if change.action == "assign":
        return Verdict.SKIP if state.assignee_id == change.assignee_id else Verdict.APPLY
    return VERDICTS[change.action][state.status]


# --- acting on groups ---------------------------------------------------------------------


def act(
    conn: apsw.Connection, workspace_id: int, group_id: int, change: Change, actor: Actor, now: float
) -> ActionResult:
    """One group. Unknown (or another workspace's) group: 404; a refused action: 409."""
    _check_change(conn, workspace_id, change, now)
    states = aw.work_states(conn, workspace_id, [group_id])
    if group_id not in states:
        raise NotFound("no such alert group", field="group_id")
    if verdict(change, states[group_id]) is Verdict.REFUSE:
        raise Conflict(_REFUSALS.get(change.action, "not possible in this status"), field="status")
    return _apply(conn, workspace_id, states, change, actor, now)


def act_bulk(
    conn: apsw.Connection,
    workspace_id: int,
    group_ids: Sequence[int],
    change: Change,
    actor: Actor,
    now: float,
) -> ActionResult:
    """Several groups of one workspace; those the action does not apply to are skipped."""
    _check_change(conn, workspace_id, change, now)
    ids = list(dict.fromkeys(group_ids))
    if not ids:
        raise InvalidInput("select at least one alert group", field="ids")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} alert groups at once", field="ids")
    states = aw.work_states(conn, workspace_id, ids)
    if len(states) != len(ids):
        raise NotFound("some of these alert groups do not exist in this workspace", field="ids")
    return _apply(conn, workspace_id, {i: states[i] for i in ids}, change, actor, now)


def _apply(
    conn: apsw.Connection,
    workspace_id: int,
    states: dict[int, aw.WorkState],
    change: Change,
    actor: Actor,
    now: float,
) -> ActionResult:
    result = ActionResult()
    for group_id, state in states.items():
        if verdict(change, state) is not Verdict.APPLY:
            result.skipped.append(group_id)
            continue
        kind, detail = _write(conn, workspace_id, group_id, change, actor.label, now)
        aq.add_event(conn, workspace_id, group_id, None, kind, now, actor.label, detail)
        if kind in ("acknowledged", "resolved"):  # nobody needs paging any more
            engine.stop_for_group(conn, workspace_id, group_id, kind, now)
        result.changed.append(group_id)
    return result


def _check_change(conn: apsw.Connection, workspace_id: int, change: Change, now: float) -> None:
    if change.action not in ACTIONS:
        raise InvalidInput(f"choose one of {', '.join(ACTIONS)}", field="action")
    if change.action == "snooze":
        check_snooze_until(change.until, now)
    if change.action == "assign" and change.assignee_id is not None:
        role = q.role_in(conn, change.assignee_id, workspace_id)
        if role is None or not allows(role, Permission.RESPOND):
            raise InvalidInput(
                "choose a member of this workspace who may respond to alerts", field="assignee"
            )


def _write(
    conn: apsw.Connection, workspace_id: int, group_id: int, change: Change, actor: str, now: float
) -> tuple[str, dict[str, object]]:
    """Change one group's row; returns the timeline event (kind, detail) to record."""
    if change.action == "acknowledge":
        aw.set_acknowledged(conn, group_id, actor, now)
        return "acknowledged", {}
    if change.action == "resolve":
        return "resolved", {"alerts": aw.set_resolved(conn, group_id, actor, now)}
    if change.action == "snooze":
        assert change.until is not None
        aw.set_snoozed(conn, group_id, change.until)
        return "snoozed", {"until": change.until}
    if change.action == "unsnooze":
        aw.set_woken(conn, group_id)
        return "unsnoozed", {}
    aw.set_assignee(conn, group_id, change.assignee_id)
    if change.assignee_id is None:
        return "unassigned", {}
    user = q.user_by_id(conn, change.assignee_id)
    assert user is not None
    return "assigned", {"assignee_id": user.id, "assignee": user.name or user.email}


def wake_snoozed(conn: apsw.Connection, now: float) -> dict[int, list[int]]:
    """Snoozed groups whose time has come go back to triggered; returns {workspace_id: [group ids]}."""
    woken: dict[int, list[int]] = {}
    for workspace_id, group_id in aw.due_snoozed(conn, now):
        aw.set_woken(conn, group_id)
        aq.add_event(conn, workspace_id, group_id, None, "unsnoozed", now, "", {"reason": "expired"})
        woken.setdefault(workspace_id, []).append(group_id)
    return woken


def add_note(
    conn: apsw.Connection, workspace_id: int, group_id: int, body: str, actor: Actor, now: float
) -> aw.NoteRow:
    text = check_note(body)
    if not aw.work_states(conn, workspace_id, [group_id]):
        raise NotFound("no such alert group", field="group_id")
    note = aw.insert_note(conn, workspace_id, group_id, actor.user_id, actor.label, text, now)
    aq.add_event(conn, workspace_id, group_id, None, "note", now, actor.label, {"note_id": note.id})
    return note


def check_note(body: str) -> str:
    text = body.strip()
    if not text:
        raise InvalidInput("write something first", field="body")
    if len(text) > NOTE_MAX_CHARS:
        raise InvalidInput(f"at most {NOTE_MAX_CHARS} characters", field="body")
    return text


# --- snooze times (pure) ------------------------------------------------------------------


def check_snooze_until(until: float | None, now: float) -> float:
    if until is None:
        raise InvalidInput("say until when", field="until")
    if until < now + MIN_SNOOZE_SECONDS:
        raise InvalidInput("pick a time at least a minute from now", field="until")
    if until > now + MAX_SNOOZE_SECONDS:
        raise InvalidInput("at most 30 days ahead", field="until")
    return until


def tomorrow_morning(now: float) -> float:
    """09:00 UTC on the day after ``now`` (UTC): the "until tomorrow morning" snooze."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    morning = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(MORNING_HOUR_UTC), dt.UTC)
    return morning.timestamp()


def snooze_until(choice: str, now: float, custom: str = "") -> float:
    """The end of a snooze chosen in the UI: a preset, ``morning``, or ``custom`` with a UTC
    ``YYYY-MM-DDTHH:MM`` (an ``<input type=datetime-local>``)."""
    if choice in SNOOZE_PRESETS:
        return now + SNOOZE_PRESETS[choice]
    if choice == "morning":
        return tomorrow_morning(now)
    if choice != "custom":
        raise InvalidInput("choose how long to snooze", field="duration")
    try:
        moment = dt.datetime.fromisoformat(custom.strip())
    except ValueError:
        raise InvalidInput("enter a date and time (UTC), e.g. 2026-01-31T09:00", field="until") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return check_snooze_until(moment.timestamp(), now)


# --- inbox filters (pure) -----------------------------------------------------------------

STATUS_TABS = ("open", "triggered", "acknowledged", "snoozed", "resolved", "all")
_STATUS_SETS: dict[str, tuple[str, ...]] = {
    "open": ("triggered", "acknowledged"),
    "triggered": ("triggered",),
    "acknowledged": ("acknowledged",),
    "snoozed": ("snoozed",),
    "resolved": ("resolved",),
    "all": (),
}
SEVERITIES = tuple(s.label for s in sorted(Severity, reverse=True))
_LABEL = re.compile(r"^([A-Za-z0-9_.:/-]{1,100})=(.{0,200})$")
INBOX_KEYS = ("status", "severity", "source", "integration", "label", "assignee", "q")


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """The inbox's filters as the query string carries them (validated, canonical)."""

    status: str = "open"
    severity: tuple[str, ...] = ()
    source: str = ""
    integration: int | None = None
    label: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    q: str = ""

    def params(self, **overrides: str | int | None) -> dict[str, str]:
        """Non-default values only, so links and saved views stay short."""
        values: dict[str, object] = {
            "status": self.status,
            "severity": ",".join(self.severity),
            "source": self.source,
            "integration": self.integration,
            "label": self.label,
            "assignee": self.assignee,
            "q": self.q,
            **overrides,
        }
        return {k: str(v) for k, v in values.items() if v not in ("", None) and (k, v) != ("status", "open")}

    def query_string(self, **overrides: str | int | None) -> str:
        return urlencode(self.params(**overrides))

    def with_status(self, status: str) -> InboxQuery:
        return replace(self, status=status)

    @property
    def is_default(self) -> bool:
        return self == InboxQuery()

    def to_filter(self, me: int | None) -> aw.InboxFilter:
        key, _, value = self.label.partition("=")
        return aw.InboxFilter(
            statuses=_STATUS_SETS[self.status],
            severities=tuple(int(Severity[s.upper()]) for s in self.severity),
            source=self.source,
            integration_id=self.integration,
            label=(key, value) if self.label else None,
            assignee_id=self._assignee_id(me),
            unassigned=self.assignee == "none",
            search=self.q,
        )

    def _assignee_id(self, me: int | None) -> int | None:
        if self.assignee == "me":
            return me if me is not None else 0  # an API key is nobody: no group is assigned to it
        return int(self.assignee) if is_id(self.assignee) else None


def parse_inbox_query(params: Mapping[str, str]) -> InboxQuery:
    """Validate the inbox's query parameters; InvalidInput names the first bad one."""
    status = params.get("status", "").strip() or "open"
    if status not in STATUS_TABS:
        raise InvalidInput(f"choose one of {', '.join(STATUS_TABS)}", field="status")
    severity = tuple(s for s in params.get("severity", "").split(",") if s)
    if any(s not in SEVERITIES for s in severity):
        raise InvalidInput(f"choose from {', '.join(SEVERITIES)}", field="severity")
    return InboxQuery(
        status=status,
        severity=tuple(s for s in SEVERITIES if s in severity),
        source=_bounded(params, "source", 60),
        integration=_integration(params.get("integration", "").strip()),
        label=_label(params.get("label", "").strip()),
        assignee=_assignee(params.get("assignee", "").strip()),
        q=_bounded(params, "q", 200),
    )


def canonical_query(query: str) -> str:
    """A saved view's query string, validated and in canonical form."""
    if len(query) > 2000:
        raise InvalidInput("at most 2000 characters", field="query")
    pairs = dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    unknown = sorted(set(pairs) - set(INBOX_KEYS))
    if unknown:
        raise InvalidInput(f"unknown filter {unknown[0]!r}; use {', '.join(INBOX_KEYS)}", field="query")
    return parse_inbox_query(pairs).query_string()


def _bounded(params: Mapping[str, str], name: str, max_len: int) -> str:
    value = params.get(name, "").strip()
    if len(value) > max_len:
        raise InvalidInput(f"at most {max_len} characters", field=name)
    return value


def is_id(raw: str) -> bool:
    """A database id as a form or query string sends it: 1 to 12 ASCII digits."""
    return 0 < len(raw) <= 12 and raw.isascii() and raw.isdigit()


def parse_id(raw: str, field: str, message: str) -> int:
    if not is_id(raw):
        raise InvalidInput(message, field=field)
    return int(raw)


def _integration(raw: str) -> int | None:
    return parse_id(raw, "integration", "not an integration id") if raw else None


def _label(raw: str) -> str:
    if raw and not _LABEL.match(raw):
        raise InvalidInput("write key=value, e.g. env=prod", field="label")
    return raw


def _assignee(raw: str) -> str:
    if raw in ("", "me", "none") or is_id(raw):
        return raw
    raise InvalidInput("choose me, none or a member", field="assignee")


# --- saved views --------------------------------------------------------------------------

VIEW_NAME_MAX = 60


def check_view_name(name: str) -> str:
    """Names appear in URLs (/views/<name>): no slash, no "." or "..", printable, at most 60 characters."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("give the view a name", field="name")
    if len(name) > VIEW_NAME_MAX:
        raise InvalidInput(f"at most {VIEW_NAME_MAX} characters", field="name")
    if "/" in name or not name.isprintable() or not name.strip("."):
        raise InvalidInput("no slashes, control characters or names of only dots", field="name")
    return name


def save_view(
    conn: apsw.Connection, workspace_id: int, name: str, query: str, actor: Actor, now: float
) -> aw.ViewRow:
    name, canonical = check_view_name(name), canonical_query(query)
    if aw.view_name_taken(conn, workspace_id, name):
        raise Conflict(f"a view named {name!r} exists already", field="name")
    view = aw.insert_view(conn, workspace_id, actor.user_id, name, canonical, now)
    audit.record(conn, actor, "view.create", now, workspace_id=workspace_id, target=name,
                 detail=audit.changes({}, {"name": name, "query": canonical}))
    return view


def update_view(
    conn: apsw.Connection, workspace_id: int, current: str, name: str | None, query: str | None,
    actor: Actor, now: float,
) -> aw.ViewRow:
    view = view_named(conn, workspace_id, current)
    new_name = check_view_name(name) if name is not None else view.name
    new_query = canonical_query(query) if query is not None else view.query
    if aw.view_name_taken(conn, workspace_id, new_name, except_id=view.id):
        raise Conflict(f"a view named {new_name!r} exists already", field="name")
    aw.update_view(conn, view.id, new_name, new_query)
    audit.record(conn, actor, "view.update", now, workspace_id=workspace_id, target=new_name,
                 detail=audit.changes({"name": view.name, "query": view.query},
                                      {"name": new_name, "query": new_query}))
    return replace(view, name=new_name, query=new_query)


def delete_view(conn: apsw.Connection, workspace_id: int, name: str, actor: Actor, now: float) -> None:
    view = view_named(conn, workspace_id, name)
    aw.delete_view(conn, view.id)
    audit.record(conn, actor, "view.delete", now, workspace_id=workspace_id, target=view.name,
                 detail=audit.changes({"name": view.name, "query": view.query}, {}))


def view_named(conn: apsw.Connection, workspace_id: int, name: str) -> aw.ViewRow:
    view = aw.view_by_name(conn, workspace_id, name)
    if view is None:
        raise NotFound("no such view", field="name")
    return view
