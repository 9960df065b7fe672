"""JSON API v1: on-call schedules, overrides, shift swaps, "who is on call", the timeline, and
the secret iCal feeds.

- Schedules: READ to view, CONFIGURE to create, change or delete (saved whole: name, timezone,
  ordered ``layers``; see :mod:`signalcraft.oncall.store` for a layer's fields).
- Overrides: RESPOND may take a range on call themselves or hand over their own on-call time;
  CONFIGURE may place anyone (:mod:`signalcraft.oncall.overrides`). A **swap**
  (``POST .../swap``) hands the caller's shift, or part of it, to another member: it is stored
  as an override naming the taker.
- Times in and out: ISO 8601 (``2027-03-28T09:00+02:00``; without an offset, the schedule's
  timezone) in requests, epoch seconds plus ISO 8601 in responses.
- Feeds: ``GET /ical/schedules/<token>.ics`` and ``/ical/users/<token>.ics`` are public; the
  token is the secret, shown once when created or rotated (only its hash is stored).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import apsw
import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission, allows
from signalcraft.db.queries import schedules as sq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.oncall import feeds, store
from signalcraft.oncall import overrides as ov
from signalcraft.oncall.schedule import MAX_SHIFTS, Schedule, Shift, shifts
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import AppContext, ctx_of
from signalcraft.web.ratelimit import take_public

MAX_TIMELINE_SECONDS = 92 * 86400.0
MAX_TOKEN = 64


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class ScheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    layers: list[Any]
    timezone: str = "UTC"


class ScheduleOut(msgspec.Struct):
    id: int
    name: str
    timezone: str
    layers: list[dict[str, Any]]
    updated_at: float


class Person(msgspec.Struct):
    id: int
    name: str


class OnCallOut(msgspec.Struct):
    schedule_id: int
    schedule: str
    at: str
    on_call: list[Person]
    until: str | None
    source: str
    next: list[Person]
    next_start: str | None


class ShiftOut(msgspec.Struct):
    start: float
    end: float
    start_iso: str
    end_iso: str
    user: Person
    source: str


class ShiftsOut(msgspec.Struct):
    start: str
    end: str
    final: list[ShiftOut]
    layers: list[list[ShiftOut]]


class OverrideIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: int
    start: str
    end: str
    reason: Annotated[str, msgspec.Meta(max_length=ov.MAX_REASON)] = ""


class SwapIn(msgspec.Struct, forbid_unknown_fields=True):
    to_user_id: int
    start: str
    end: str
    from_user_id: int | None = None  # default: the caller; someone else's needs CONFIGURE
    reason: Annotated[str, msgspec.Meta(max_length=ov.MAX_REASON)] = ""


class OverrideOut(msgspec.Struct):
    id: int
    user: Person
    start: float
    end: float
    start_iso: str
    end_iso: str
    reason: str
    created_by: int | None


class FeedOut(msgspec.Struct):
    url: str


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str, timezone: str, field: str) -> float:
    """ISO 8601; without an offset, wall-clock time in ``timezone``."""
    try:
        return store.local_epoch(value.strip(), timezone)
    except ValueError:
        raise InvalidInput(
            f"{field}: not an ISO 8601 time like 2027-03-28T09:00+02:00", field=field
        ) from None


def schedule_out(row: sq.ScheduleRow) -> ScheduleOut:
    return ScheduleOut(row.id, row.name, row.timezone, row.layers, row.updated_at)


def _person(user_id: int, names: dict[int, str]) -> Person:
    return Person(user_id, names.get(user_id, f"user {user_id}"))


def on_call_out(conn: apsw.Connection, schedule: Schedule, at: float) -> OnCallOut:
    now = store.on_call_now(schedule, at)
    names = sq.display_names(conn, {u for u in (now.user_id, now.next_user_id) if u is not None})
    return OnCallOut(
        schedule.id,
        schedule.name,
        iso(at),
        [] if now.user_id is None else [_person(now.user_id, names)],
        None if now.until is None else iso(now.until),
        now.source,
        [] if now.next_user_id is None else [_person(now.next_user_id, names)],
        None if now.next_start is None else iso(now.next_start),
    )


def shift_out(s: Shift, names: dict[int, str]) -> ShiftOut:
    return ShiftOut(s.start, s.end, iso(s.start), iso(s.end), _person(s.user_id, names), s.source)


def override_out(o: sq.OverrideRow, names: dict[int, str]) -> OverrideOut:
    return OverrideOut(
        o.id,
        _person(o.user_id, names),
        o.starts_at,
        o.ends_at,
        iso(o.starts_at),
        iso(o.ends_at),
        o.reason,
        o.created_by,
    )


def loaded(conn: apsw.Connection, workspace_id: int, schedule_id: int, at: float | None) -> Schedule:
    found = store.load(conn, workspace_id, schedule_id, overrides_from=at)
    if found is None:
        raise NotFound("no such schedule", field="schedule")
    return found


def _row(conn: apsw.Connection, workspace_id: int, schedule_id: int) -> sq.ScheduleRow:
    row = sq.schedule(conn, workspace_id, schedule_id)
    if row is None:
        raise NotFound("no such schedule", field="schedule")
    return row


async def _timezone_of(ctx: AppContext, workspace_id: int, schedule_id: int) -> str:
    return (await ctx.db.aread(lambda c: _row(c, workspace_id, schedule_id))).timezone


def _at(ctx: AppContext, at: str | None, timezone: str = "UTC") -> float:
    return ctx.now() if not at else parse_time(at, timezone, "at")


class ScheduleApi(Controller):
    path = "/api/v1/workspaces/{slug:str}"
    tags = ["on-call schedules"]

    @get("/schedules", opt=_ws(Permission.READ))
    async def list_schedules(self, request: Request[Any, Any, Any]) -> list[ScheduleOut]:
        ws = workspace_of(request).workspace
        return [schedule_out(r) for r in await ctx_of(request).db.aread(lambda c: sq.schedules_of(c, ws.id))]

    @post("/schedules", opt=_ws(Permission.CONFIGURE))
    async def create_schedule(
        self, request: Request[Any, Any, Any], data: JSONBody[ScheduleIn]
    ) -> ScheduleOut:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        saved = await ctx.db.awrite(
            lambda c: store.save_schedule(c, ws.id, None, data.name, data.timezone, data.layers, actor, now)
        )
        return schedule_out(saved)

    @get("/schedules/{schedule_id:int}", opt=_ws(Permission.READ))
    async def get_schedule(self, request: Request[Any, Any, Any], schedule_id: FromPath[int]) -> ScheduleOut:
        ws = workspace_of(request).workspace
        return schedule_out(await ctx_of(request).db.aread(lambda c: _row(c, ws.id, schedule_id)))

    @put("/schedules/{schedule_id:int}", opt=_ws(Permission.CONFIGURE))
    async def update_schedule(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], data: JSONBody[ScheduleIn]
    ) -> ScheduleOut:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        saved = await ctx.db.awrite(
            lambda c: store.save_schedule(
                c, ws.id, schedule_id, data.name, data.timezone, data.layers, actor, now
            )
        )
        return schedule_out(saved)

    @delete("/schedules/{schedule_id:int}", opt=_ws(Permission.CONFIGURE), status_code=204)
    async def delete_schedule(self, request: Request[Any, Any, Any], schedule_id: FromPath[int]) -> None:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        await ctx.db.awrite(lambda c: store.delete_schedule(c, ws.id, schedule_id, actor, now))

    @get("/schedules/{schedule_id:int}/on-call", opt=_ws(Permission.READ))
    async def schedule_on_call(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], at: FromQuery[str | None] = None
    ) -> OnCallOut:
        """Who is on call at ``at`` (ISO 8601, default now), until when, and who is next."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        moment = _at(ctx, at, await _timezone_of(ctx, ws.id, schedule_id))
        return await ctx.db.aread(lambda c: on_call_out(c, loaded(c, ws.id, schedule_id, moment), moment))

    @get("/on-call", opt=_ws(Permission.READ))
    async def workspace_on_call(
        self, request: Request[Any, Any, Any], at: FromQuery[str | None] = None
    ) -> list[OnCallOut]:
        """Every schedule's on-call at ``at`` (default now), by schedule name."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        moment = _at(ctx, at)

        def read(conn: apsw.Connection) -> list[OnCallOut]:
            rows = sq.schedules_of(conn, ws.id)
            return [on_call_out(conn, loaded(conn, ws.id, r.id, moment), moment) for r in rows]

        return await ctx.db.aread(read)

    @get("/schedules/{schedule_id:int}/shifts", opt=_ws(Permission.READ))
    async def schedule_shifts(
        self,
        request: Request[Any, Any, Any],
        schedule_id: FromPath[int],
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> ShiftsOut:
        """The final timeline and each layer's own shifts between ``start`` (default now) and
        ``end`` (default two weeks later; at most 92 days)."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        tz = await _timezone_of(ctx, ws.id, schedule_id)
        begin = ctx.now() if not start else parse_time(start, tz, "start")
        until = begin + 14 * 86400.0 if not end else parse_time(end, tz, "end")
        if not begin < until <= begin + MAX_TIMELINE_SECONDS:
            raise InvalidInput("end: must be after the start, at most 92 days later", field="end")

        def read(conn: apsw.Connection) -> ShiftsOut:
            found = loaded(conn, ws.id, schedule_id, begin)
            final, layers = shifts(found, begin, until), store.layer_shifts(found, begin, until)
            names = sq.display_names(
                conn, {s.user_id for s in final} | {s.user_id for ls in layers for s in ls}
            )
            return ShiftsOut(
                iso(begin),
                iso(until),
                [shift_out(s, names) for s in final[:MAX_SHIFTS]],
                [[shift_out(s, names) for s in ls[:MAX_SHIFTS]] for ls in layers],
            )

        return await ctx.db.aread(read)

    @get("/schedules/{schedule_id:int}/overrides", opt=_ws(Permission.READ))
    async def list_overrides(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], current: FromQuery[bool] = True
    ) -> list[OverrideOut]:
        """Overrides by start; ``current=false`` includes those that have ended."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()

        def read(conn: apsw.Connection) -> list[OverrideOut]:
            _row(conn, ws.id, schedule_id)
            found = sq.overrides_of(conn, schedule_id, ending_after=now if current else None)
            names = sq.display_names(conn, {o.user_id for o in found})
            return [override_out(o, names) for o in found]

        return await ctx.db.aread(read)

    @post("/schedules/{schedule_id:int}/overrides", opt=_ws(Permission.RESPOND))
    async def create_override(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], data: JSONBody[OverrideIn]
    ) -> OverrideOut:
        ctx, access, actor = ctx_of(request), workspace_of(request), identity_of(request).actor
        ws, now = access.workspace, ctx.now()
        tz = await _timezone_of(ctx, ws.id, schedule_id)
        req = ov.OverrideRequest(
            data.user_id, parse_time(data.start, tz, "start"), parse_time(data.end, tz, "end"), data.reason
        )
        may = allows(access.role, Permission.CONFIGURE)

        def create(conn: apsw.Connection) -> OverrideOut:
            found = ov.add_override(conn, ws.id, schedule_id, req, actor, may_configure=may, now=now)
            return override_out(found, sq.display_names(conn, {found.user_id}))

        return await ctx.db.awrite(create)

    @post("/schedules/{schedule_id:int}/swap", opt=_ws(Permission.RESPOND))
    async def swap_shift(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], data: JSONBody[SwapIn]
    ) -> OverrideOut:
        """Hand your shift (or part of it) to another member; stored as an override."""
        ctx, access, actor = ctx_of(request), workspace_of(request), identity_of(request).actor
        ws, now = access.workspace, ctx.now()
        giver = data.from_user_id if data.from_user_id is not None else actor.user_id
        if giver is None:
            raise InvalidInput("from_user_id: required when calling with an API key", field="from_user_id")
        tz = await _timezone_of(ctx, ws.id, schedule_id)
        req = ov.OverrideRequest(
            data.to_user_id, parse_time(data.start, tz, "start"), parse_time(data.end, tz, "end"), data.reason
        )
        may = allows(access.role, Permission.CONFIGURE)

        def swap(conn: apsw.Connection) -> OverrideOut:
            found = ov.swap_shift(conn, ws.id, schedule_id, giver, req, actor, may_configure=may, now=now)
            return override_out(found, sq.display_names(conn, {found.user_id}))

        return await ctx.db.awrite(swap)

    @delete(
        "/schedules/{schedule_id:int}/overrides/{override_id:int}",
        opt=_ws(Permission.RESPOND),
        status_code=204,
    )
    async def delete_override(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], override_id: FromPath[int]
    ) -> None:
        """Remove an override: its author, or anyone with CONFIGURE."""
        ctx, access, actor = ctx_of(request), workspace_of(request), identity_of(request).actor
        may, now = allows(access.role, Permission.CONFIGURE), ctx.now()
        await ctx.db.awrite(
            lambda c: ov.remove_override(
                c, access.workspace.id, schedule_id, override_id, actor, may_configure=may, now=now
            )
        )

    @post("/schedules/{schedule_id:int}/ical-feed", opt=_ws(Permission.CONFIGURE), status_code=200)
    async def rotate_schedule_feed(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int]
    ) -> FeedOut:
        """A new secret feed URL for the schedule (shown once); the previous URL stops working."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        token = await ctx.db.awrite(lambda c: feeds.rotate_schedule_feed(c, ws.id, schedule_id, actor, now))
        return FeedOut(f"{ctx.settings.server.public_url()}/ical/schedules/{token}.ics")

    @post("/me/ical-feed", opt=_ws(Permission.RESPOND), status_code=200)
    async def rotate_my_feed(self, request: Request[Any, Any, Any]) -> FeedOut:
        """A new secret feed URL of the caller's own shifts in this workspace (shown once)."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        if actor.user_id is None:
            raise InvalidInput("a personal feed belongs to a user, not an API key", field="user")
        uid, now = actor.user_id, ctx.now()
        token = await ctx.db.awrite(lambda c: feeds.rotate_user_feed(c, ws.id, uid, actor, now))
        return FeedOut(f"{ctx.settings.server.public_url()}/ical/users/{token}.ics")


def _calendar(text: str) -> Response[str]:
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


def _token(name: str) -> str:
    token = name.removesuffix(".ics")
    if not name.endswith(".ics") or not 0 < len(token) <= MAX_TOKEN:
        raise NotFound("no such feed", field="token")
    return token


@get("/ical/schedules/{token:str}", opt={"public": True}, include_in_schema=False)
async def schedule_ical(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    """``/ical/schedules/<token>.ics``: the schedule's next 8 weeks; the token is the credential."""
    take_public(request, "ical")
    ctx, secret = ctx_of(request), _token(token)
    now = ctx.now()
    return _calendar(await ctx.db.aread(lambda c: feeds.schedule_feed(c, secret, now)))


@get("/ical/users/{token:str}", opt={"public": True}, include_in_schema=False)
async def user_ical(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    """``/ical/users/<token>.ics``: one person's shifts in every schedule of the workspace."""
    take_public(request, "ical")
    ctx, secret = ctx_of(request), _token(token)
    now = ctx.now()
    return _calendar(await ctx.db.aread(lambda c: feeds.user_feed(c, secret, now)))


HANDLERS: list[ControllerRouterHandler] = [ScheduleApi, schedule_ical, user_ical]
