"""Schedules in the database: load a :class:`Schedule`, answer "who is on call", save schedules.

The stored layer document (one JSON object per rotation layer, see :func:`layer_from`)::

    {"name": "Weekly", "unit": "weeks", "count": 1, "start": "2026-03-02T09:00",
     "timezone": "Europe/Berlin", "participants": [3, 5, 8],
     "restriction": {"weekdays": [5, 6], "start": "09:00", "end": "17:00"} | null,
     "end": "2026-12-31T09:00" | null}

``start`` is the first handoff as local wall-clock time in the layer's timezone (default: the
schedule's), so the handoff time of day is ``start``'s time and survives DST changes. Layer ids
in the math are positions (1-based). Participants must be members of the workspace when the
schedule is saved; someone removed later is a gap (see ``Schedule.inactive``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import apsw

from signalcraft.db.queries import audit
from signalcraft.db.queries import schedules as sq
from signalcraft.errors import Conflict, InvalidInput, NotFound
from signalcraft.oncall.schedule import (
    Override,
    Restriction,
    Rotation,
    Schedule,
    ScheduleError,
    Shift,
    check_schedule,
    check_timezone,
    shifts,
)

NEXT_HORIZON = 92 * 86400.0  # how far "who is next" looks ahead
MAX_NAME = 100


# --- who is on call (other areas depend on these three) ------------------------------------


def schedule_exists(conn: apsw.Connection, workspace_id: int, schedule_id: int) -> bool:
    return sq.schedule(conn, workspace_id, schedule_id) is not None


def on_call_user_ids(conn: apsw.Connection, workspace_id: int, schedule_id: int, at: float) -> list[int]:
    """Who is on call at ``at`` (overrides first, then the top-most layer with someone); [] in a gap
    or for an unknown schedule."""
    found = load(conn, workspace_id, schedule_id, overrides_from=at)
    user = None if found is None else on_call_now(found, at).user_id
    return [] if user is None else [user]


def next_on_call_user_ids(conn: apsw.Connection, workspace_id: int, schedule_id: int, at: float) -> list[int]:
    """Whoever takes over when the current on-call's time ends: the first person after ``at``
    who is not the one on call at ``at`` (the first on call at all, in a gap). [] when nobody
    else is on call within :data:`NEXT_HORIZON` or the schedule is unknown."""
    found = load(conn, workspace_id, schedule_id, overrides_from=at)
    user = None if found is None else on_call_now(found, at).next_user_id
    return [] if user is None else [user]


@dataclass(frozen=True, slots=True)
class OnCallNow:
    """Who is on call at a moment, until when, and who takes over then."""

    user_id: int | None
    until: float | None  # when ``user_id``'s time ends (None: in a gap, or beyond the horizon)
    source: str  # "layer:<n>", "override:<id>" or "" in a gap
    next_user_id: int | None
    next_start: float | None


def on_call_now(schedule: Schedule, at: float) -> OnCallNow:
    timeline = shifts(schedule, at, at + NEXT_HORIZON)
    current = timeline[0] if timeline and timeline[0].start == at else None
    user = current.user_id if current else None
    until = None
    for shift in timeline:
        if shift.user_id != user:
            return OnCallNow(
                user, shift.start if user is not None else None, _source(current), shift.user_id, shift.start
            )
        until = shift.end
    return OnCallNow(user, None if until == at + NEXT_HORIZON else until, _source(current), None, None)


def _source(shift: Shift | None) -> str:
    return shift.source if shift else ""


def layer_shifts(schedule: Schedule, start: float, end: float) -> list[list[Shift]]:
    """Each layer's own shifts (no overrides, no layers above it), for a timeline's rows."""
    return [shifts(replace(schedule, layers=(layer,), overrides=()), start, end) for layer in schedule.layers]


# --- loading -----------------------------------------------------------------------------


def load(
    conn: apsw.Connection, workspace_id: int, schedule_id: int, *, overrides_from: float | None = None
) -> Schedule | None:
    """The schedule with its overrides (those ending after ``overrides_from``, or all)."""
    row = sq.schedule(conn, workspace_id, schedule_id)
    if row is None:
        return None
    members = sq.active_member_ids(conn, workspace_id)
    return schedule_of(row, sq.overrides_of(conn, schedule_id, ending_after=overrides_from), members)


def schedule_of(row: sq.ScheduleRow, overrides: list[sq.OverrideRow], members: set[int]) -> Schedule:
    layers = tuple(rotation_of(doc, i + 1, row.timezone) for i, doc in enumerate(row.layers))
    named = {u for layer in layers for u in layer.participants} | {o.user_id for o in overrides}
    return Schedule(
        row.id,
        row.name,
        row.timezone,
        layers,
        tuple(Override(o.id, o.starts_at, o.ends_at, o.user_id) for o in overrides),
        frozenset(named - members),
    )


def rotation_of(doc: dict[str, Any], layer_id: int, default_tz: str) -> Rotation:
    """A stored (already validated) layer document as the math's Rotation."""
    tz = doc.get("timezone") or default_tz
    r = doc.get("restriction")
    restriction = (
        Restriction(
            frozenset(r["weekdays"]), dt.time.fromisoformat(r["start"]), dt.time.fromisoformat(r["end"])
        )
        if r
        else None
    )
    end = doc.get("end")
    return Rotation(
        id=layer_id,
        participants=tuple(doc["participants"]),
        start=local_epoch(doc["start"], tz),
        unit=doc["unit"],
        count=doc["count"],
        timezone=tz,
        end=local_epoch(end, tz) if end else None,
        restriction=restriction,
    )


def local_epoch(text: str, tz: str) -> float:
    """ISO 8601 date-time; without an offset it is wall-clock time in ``tz``."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.timestamp()


# --- validation at save time -------------------------------------------------------------


def _field_error(exc: ScheduleError) -> InvalidInput:
    return InvalidInput(f"{exc.field}: {exc.message}", field=exc.field)


def _text(doc: dict[str, Any], key: str, path: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{path}.{key}: required (text)", field=f"{path}.{key}")
    return value.strip()


def _when(value: str, tz: str, path: str) -> str:
    try:
        local_epoch(value, tz)
    except ValueError:
        raise InvalidInput(f"{path}: not an ISO 8601 date-time like 2026-03-02T09:00", field=path) from None
    return value


def _restriction(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{path}: an object with weekdays, start and end", field=path)
    days = value.get("weekdays")
    if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        raise InvalidInput(f"{path}.weekdays: a non-empty list of 0 (Monday) to 6", field=f"{path}.weekdays")
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = dt.time.fromisoformat(str(value.get(key))).strftime("%H:%M")
        except ValueError:
            raise InvalidInput(f"{path}.{key}: a time like 09:00", field=f"{path}.{key}") from None
    if times["start"] == times["end"]:
        raise InvalidInput(f"{path}.end: must differ from the start", field=f"{path}.end")
    return {"weekdays": sorted(set(days)), **times}


def layer_from(doc: Any, path: str, schedule_tz: str, members: set[int]) -> dict[str, Any]:
    """Validate one layer as sent by a client; the normalized document to store."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path}: must be an object", field=path)
    tz = doc.get("timezone") or schedule_tz
    try:
        check_timezone(tz, f"{path}.timezone")
    except ScheduleError as exc:
        raise _field_error(exc) from None
    people = doc.get("participants")
    if not isinstance(people, list) or not people:
        raise InvalidInput(
            f"{path}.participants: a rotation needs at least one participant", field=f"{path}.participants"
        )
    for i, user in enumerate(people):
        if not isinstance(user, int) or isinstance(user, bool) or user not in members:
            raise InvalidInput(
                f"{path}.participants[{i}]: {user!r} is not a member of this workspace",
                field=f"{path}.participants",
            )
    count = doc.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool):
        raise InvalidInput(f"{path}.count: a whole number", field=f"{path}.count")
    end = doc.get("end") or None
    return {
        "name": _text(doc, "name", path, required=False)[:MAX_NAME],
        "unit": doc.get("unit"),
        "count": count,
        "start": _when(_text(doc, "start", path), tz, f"{path}.start"),
        "timezone": tz,
        "participants": list(people),
        "restriction": _restriction(doc.get("restriction"), f"{path}.restriction"),
        "end": _when(str(end), tz, f"{path}.end") if end else None,
    }


def validated(
    conn: apsw.Connection, workspace_id: int, name: str, timezone: str, layers: list[Any]
) -> tuple[str, str, list[dict[str, Any]]]:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name: required, at most {MAX_NAME} characters", field="name")
    try:
        check_timezone(timezone, "timezone")
    except ScheduleError as exc:
        raise _field_error(exc) from None
    if not layers:
        raise InvalidInput("layers: a schedule needs at least one rotation with participants", field="layers")
    members = sq.active_member_ids(conn, workspace_id)
    docs = [layer_from(doc, f"layers[{i}]", timezone, members) for i, doc in enumerate(layers)]
    try:
        check_schedule(
            Schedule(0, name, timezone, tuple(rotation_of(d, i + 1, timezone) for i, d in enumerate(docs)))
        )
    except ScheduleError as exc:
        raise _field_error(exc) from None
    return name, timezone, docs


# --- saving ------------------------------------------------------------------------------


def _summary(row: sq.ScheduleRow) -> dict[str, Any]:
    return {"name": row.name, "timezone": row.timezone, "layers": row.layers}


def save_schedule(
    conn: apsw.Connection,
    workspace_id: int,
    schedule_id: int | None,
    name: str,
    timezone: str,
    layers: list[Any],
    actor: audit.Actor,
    now: float,
) -> sq.ScheduleRow:
    """Create (``schedule_id`` None) or replace a schedule; audited with before/after."""
    before = sq.schedule(conn, workspace_id, schedule_id) if schedule_id is not None else None
    if schedule_id is not None and before is None:
        raise NotFound("no such schedule", field="schedule")
    name, timezone, docs = validated(conn, workspace_id, name, timezone, layers)
    if sq.name_taken(conn, workspace_id, name, schedule_id):
        raise Conflict(f"name: a schedule named {name!r} exists", field="name")
    if schedule_id is None:
        schedule_id = sq.insert_schedule(conn, workspace_id, name, timezone, docs, now)
    else:
        sq.update_schedule(conn, workspace_id, schedule_id, name, timezone, docs, now)
    after = sq.schedule(conn, workspace_id, schedule_id)
    assert after is not None
    audit.record(
        conn,
        actor,
        "schedule.create" if before is None else "schedule.update",
        now,
        workspace_id=workspace_id,
        target=f"schedule:{schedule_id}",
        detail=audit.changes(_summary(before) if before else {}, _summary(after)),
    )
    return after


def delete_schedule(
    conn: apsw.Connection, workspace_id: int, schedule_id: int, actor: audit.Actor, now: float
) -> None:
    before = sq.schedule(conn, workspace_id, schedule_id)
    if before is None:
        raise NotFound("no such schedule", field="schedule")
    sq.delete_schedule(conn, workspace_id, schedule_id)
    audit.record(
        conn,
        actor,
        "schedule.delete",
        now,
        workspace_id=workspace_id,
        target=f"schedule:{schedule_id}",
        detail=audit.changes(_summary(before), {}),
    )


def on_call_by_schedule(
    conn: apsw.Connection, workspace_id: int, at: float, *, name: str = ""
) -> list[tuple[sq.ScheduleRow, OnCallNow]]:
    """Every schedule of the workspace (or the one called ``name``) with who is on call at ``at``."""
    found = [r for r in sq.schedules_of(conn, workspace_id) if not name or r.name == name]
    members = sq.active_member_ids(conn, workspace_id)
    return [
        (row, on_call_now(schedule_of(row, sq.overrides_of(conn, row.id, ending_after=at), members), at))
        for row in found
    ]
