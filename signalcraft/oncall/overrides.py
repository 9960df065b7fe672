"""Overrides and shift swaps, checked and audited at save time.

An override puts one member on call for a time range, above every layer. A **shift swap** is
an override too: someone hands their shift (or part of it) to another member, so the range
must be covered entirely by the giver's on-call time. Overrides of one schedule never overlap
(the API answers 400 naming ``start``), so "who is on call" is never ambiguous.

Who may do what: CONFIGURE may create or remove any override. With RESPOND only, a member may
take a range on call themselves (``user_id`` is their own) or hand over a range of their own
on-call time (a swap), and remove overrides they created.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import apsw

from signalcraft.db.queries import audit
from signalcraft.db.queries import schedules as sq
from signalcraft.errors import Forbidden, InvalidInput, NotFound
from signalcraft.oncall import store
from signalcraft.oncall.schedule import shifts

MAX_OVERRIDE_SECONDS = 366 * 86400.0
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    user_id: int
    starts_at: float
    ends_at: float
    reason: str = ""


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _summary(o: sq.OverrideRow) -> dict[str, object]:
    return {"user_id": o.user_id, "starts_at": o.starts_at, "ends_at": o.ends_at, "reason": o.reason}


def _check_range(req: OverrideRequest, now: float) -> None:
    if req.ends_at <= req.starts_at:
        raise InvalidInput("end: must be after the start", field="end")
    if req.ends_at <= now:
        raise InvalidInput("end: is in the past", field="end")
    if req.ends_at - req.starts_at > MAX_OVERRIDE_SECONDS:
        raise InvalidInput("end: an override lasts at most 366 days", field="end")
    if len(req.reason) > MAX_REASON:
        raise InvalidInput(f"reason: at most {MAX_REASON} characters", field="reason")


def _check_no_overlap(conn: apsw.Connection, schedule_id: int, req: OverrideRequest) -> None:
    for other in sq.overrides_of(conn, schedule_id, ending_after=req.starts_at):
        if other.starts_at < req.ends_at:
            raise InvalidInput(
                f"start: overlaps override {other.id} ({_iso(other.starts_at)} to {_iso(other.ends_at)});"
                " shorten or remove one of them",
                field="start",
            )


def covered_by(
    conn: apsw.Connection, workspace_id: int, schedule_id: int, user_id: int, req: OverrideRequest
) -> bool:
    """True if ``user_id`` is on call for the whole range (the giver's side of a swap)."""
    found = store.load(conn, workspace_id, schedule_id, overrides_from=req.starts_at)
    if found is None:
        return False
    at = req.starts_at
    for shift in shifts(found, req.starts_at, req.ends_at):
        if shift.start != at or shift.user_id != user_id:
            return False
        at = shift.end
    return at == req.ends_at


def _own_business(
    conn: apsw.Connection, workspace_id: int, schedule_id: int, req: OverrideRequest, actor: audit.Actor
) -> bool:
    """A responder's override: they take the range themselves, or it is all their own time."""
    if actor.user_id is None:
        return False
    return actor.user_id == req.user_id or covered_by(conn, workspace_id, schedule_id, actor.user_id, req)


def add_override(
    conn: apsw.Connection,
    workspace_id: int,
    schedule_id: int,
    req: OverrideRequest,
    actor: audit.Actor,
    *,
    may_configure: bool,
    now: float,
    action: str = "schedule.override.create",
) -> sq.OverrideRow:
    if not store.schedule_exists(conn, workspace_id, schedule_id):
        raise NotFound("no such schedule", field="schedule")
    _check_range(req, now)
    if req.user_id not in sq.active_member_ids(conn, workspace_id):
        raise InvalidInput("user_id: not a member of this workspace", field="user_id")
    if not may_configure and not _own_business(conn, workspace_id, schedule_id, req, actor):
        raise Forbidden(
            "user_id: you may take a shift yourself or hand over your own on-call time;"
            " other overrides need the configure permission",
            field="user_id",
        )
    _check_no_overlap(conn, schedule_id, req)
    override_id = sq.insert_override(
        conn, schedule_id, req.user_id, req.starts_at, req.ends_at, actor.user_id, req.reason.strip(), now
    )
    created = sq.override(conn, schedule_id, override_id)
    assert created is not None
    audit.record(
        conn,
        actor,
        action,
        now,
        workspace_id=workspace_id,
        target=f"schedule:{schedule_id}",
        detail={"override_id": override_id, **audit.changes({}, _summary(created))},
    )
    return created


def swap_shift(
    conn: apsw.Connection,
    workspace_id: int,
    schedule_id: int,
    from_user_id: int,
    req: OverrideRequest,
    actor: audit.Actor,
    *,
    may_configure: bool,
    now: float,
) -> sq.OverrideRow:
    """Hand ``from_user_id``'s on-call time in the range to ``req.user_id`` (as an override)."""
    if not store.schedule_exists(conn, workspace_id, schedule_id):
        raise NotFound("no such schedule", field="schedule")
    if not may_configure and actor.user_id != from_user_id:
        raise Forbidden("from_user_id: you may only hand over your own shifts", field="from_user_id")
    if req.user_id == from_user_id:
        raise InvalidInput("user_id: hand the shift to someone else", field="user_id")
    _check_range(req, now)
    if not covered_by(conn, workspace_id, schedule_id, from_user_id, req):
        raise InvalidInput(
            "start: the range must lie within the giver's on-call time (and not within an override)",
            field="start",
        )
    return add_override(
        conn, workspace_id, schedule_id, req, actor, may_configure=True, now=now, action="schedule.swap"
    )


def remove_override(
    conn: apsw.Connection,
    workspace_id: int,
    schedule_id: int,
    override_id: int,
    actor: audit.Actor,
    *,
    may_configure: bool,
    now: float,
) -> None:
    found = (
        sq.override(conn, schedule_id, override_id)
        if store.schedule_exists(conn, workspace_id, schedule_id)
        else None
    )
    if found is None:
        raise NotFound("no such override", field="override")
    if not may_configure and (actor.user_id is None or found.created_by != actor.user_id):
        raise Forbidden("override: only its author or someone with configure may remove it", field="override")
    sq.delete_override(conn, schedule_id, override_id)
    audit.record(
        conn,
        actor,
        "schedule.override.delete",
        now,
        workspace_id=workspace_id,
        target=f"schedule:{schedule_id}",
        detail={"override_id": override_id, **audit.changes(_summary(found), {})},
    )
