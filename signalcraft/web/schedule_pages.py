"""On-call schedule pages (HTML): the list with who is on call now, a schedule's timeline of the
next weeks (layers, overrides, final), the editor, overrides and shift swaps, and the secret
iCal feed URLs (shown once, with a copy button; rotating makes the old URL stop working).

Everything saves through the same services as the JSON API (:mod:`signalcraft.oncall.store`,
:mod:`signalcraft.oncall.overrides`, :mod:`signalcraft.oncall.feeds`), so validation, the
permission rules and the audit trail are the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission, allows
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import schedules as sq
from signalcraft.errors import InvalidInput, NotFound, SignalCraftError
from signalcraft.oncall import feeds, store
from signalcraft.oncall import overrides as ov
from signalcraft.web import schedule_views as views
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.api_schedules import parse_time
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import bare_message
from signalcraft.web.responses import render
from signalcraft.web.routing_forms import read_form_data

TIMEZONES = sorted(available_timezones() - {"localtime"})
DAY = 86400.0


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


def _members(conn: apsw.Connection, workspace_id: int) -> list[q.User]:
    return [u for u, _ in q.list_users(conn, workspace_id) if not u.disabled]


def _names(users: list[q.User]) -> dict[int, str]:
    return {u.id: u.name or u.email for u in users}


def _row(conn: apsw.Connection, workspace_id: int, schedule_id: int) -> sq.ScheduleRow:
    row = sq.schedule(conn, workspace_id, schedule_id)
    if row is None:
        raise NotFound("no such schedule", field="schedule")
    return row


def _base(request: Request[Any, Any, Any]) -> str:
    return f"/w/{workspace_of(request).workspace.slug}/schedules"


class SchedulePages(Controller):
    path = "/w/{slug:str}/schedules"
    include_in_schema = False

    # --- the list -----------------------------------------------------------------------

    async def _list(self, request: Request[Any, Any, Any], *, feed_url: str = "") -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()

        def read(conn: apsw.Connection) -> dict[str, Any]:
            found = store.on_call_by_schedule(conn, ws.id, now)
            people = {u for _, n in found for u in (n.user_id, n.next_user_id) if u is not None}
            return {"schedules": found, "names": sq.display_names(conn, people)}

        context = await ctx.db.aread(read)
        return render(
            request,
            "schedules/list.html",
            {**context, "feed_url": feed_url, "now": now, "active_nav": "schedules"},
        )

    @get("/", opt=_page(Permission.READ))
    async def list_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._list(request)

    @post("/my-feed", opt=_page(Permission.RESPOND))
    async def my_feed(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A new personal feed URL (the old one stops working), shown once on the list page."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        assert actor.user_id is not None  # pages are for signed-in users
        uid, now = actor.user_id, ctx.now()
        token = await ctx.db.awrite(lambda c: feeds.rotate_user_feed(c, ws.id, uid, actor, now))
        return await self._list(
            request, feed_url=f"{ctx.settings.server.public_url()}/ical/users/{token}.ics"
        )

    # --- one schedule ---------------------------------------------------------------------

    async def _detail(
        self,
        request: Request[Any, Any, Any],
        schedule_id: int,
        *,
        weeks: int = 2,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        feed_url: str = "",
        status: int = 200,
    ) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()
        weeks = min(max(weeks, 1), 4)

        def read(conn: apsw.Connection) -> dict[str, Any]:
            row = _row(conn, ws.id, schedule_id)
            start = now - now % 3600
            found = store.load(conn, ws.id, schedule_id, overrides_from=start)
            assert found is not None
            users = _members(conn, ws.id)
            names = _names(users) | sq.display_names(conn, {o.user_id for o in found.overrides})
            return {
                "schedule": row,
                "timeline": views.timeline(found, start, start + weeks * 7 * DAY, names, now),
                "on_call": store.on_call_now(found, now),
                "names": names,
                "members": users,
                "overrides": sq.overrides_of(conn, schedule_id, ending_after=now),
                "has_feed": sq.feed_exists(conn, ws.id, schedule_id=schedule_id),
            }

        context = await ctx.db.aread(read)
        return render(
            request,
            "schedules/detail.html",
            {
                **context,
                "weeks": weeks,
                "errors": errors or {},
                "values": values or {},
                "feed_url": feed_url,
                "me": identity_of(request).actor.user_id,
                "fmt": _formatter(context["schedule"].timezone),
                "active_nav": "schedules",
            },
            status=status,
        )

    @get("/{schedule_id:int}", opt=_page(Permission.READ))
    async def detail(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], weeks: FromQuery[int] = 2
    ) -> Response[Any]:
        return await self._detail(request, schedule_id, weeks=weeks)

    @post("/{schedule_id:int}/overrides", opt=_page(Permission.RESPOND))
    async def add_override(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int]
    ) -> Response[Any]:
        """Add an override, or (``kind=swap``) hand your own shift to someone else."""
        return await self._override(request, schedule_id)

    async def _override(self, request: Request[Any, Any, Any], schedule_id: int) -> Response[Any]:
        ctx, access, actor = ctx_of(request), workspace_of(request), identity_of(request).actor
        form = await read_form_data(request)
        values = {k: form.get(k, 500) for k in ("kind", "user_id", "start", "end", "reason")}
        may, now, ws = allows(access.role, Permission.CONFIGURE), ctx.now(), access.workspace
        try:
            tz = (await ctx.db.aread(lambda c: _row(c, ws.id, schedule_id))).timezone
            user_id = _int(values["user_id"], "user_id")
            req = ov.OverrideRequest(
                user_id,
                parse_time(values["start"], tz, "start"),
                parse_time(values["end"], tz, "end"),
                values["reason"],
            )
            giver = actor.user_id
            if values["kind"] == "swap" and giver is not None:
                await ctx.db.awrite(
                    lambda c: ov.swap_shift(
                        c, ws.id, schedule_id, giver, req, actor, may_configure=may, now=now
                    )
                )
            else:
                await ctx.db.awrite(
                    lambda c: ov.add_override(c, ws.id, schedule_id, req, actor, may_configure=may, now=now)
                )
        except SignalCraftError as exc:
            if isinstance(exc, NotFound):
                raise
            field = {"to_user_id": "user_id", "from_user_id": "user_id"}.get(exc.field or "", exc.field or "")
            return await self._detail(
                request, schedule_id, errors={field: bare_message(exc)}, values=values, status=exc.status
            )
        return Redirect(f"{_base(request)}/{schedule_id}", status_code=303)

    @post("/{schedule_id:int}/overrides/{override_id:int}/delete", opt=_page(Permission.RESPOND))
    async def delete_override(
        self, request: Request[Any, Any, Any], schedule_id: FromPath[int], override_id: FromPath[int]
    ) -> Response[Any]:
        ctx, access, actor = ctx_of(request), workspace_of(request), identity_of(request).actor
        may, now = allows(access.role, Permission.CONFIGURE), ctx.now()
        await ctx.db.awrite(
            lambda c: ov.remove_override(
                c, access.workspace.id, schedule_id, override_id, actor, may_configure=may, now=now
            )
        )
        return Redirect(f"{_base(request)}/{schedule_id}", status_code=303)

    @post("/{schedule_id:int}/feed", opt=_page(Permission.CONFIGURE))
    async def rotate_feed(self, request: Request[Any, Any, Any], schedule_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        token = await ctx.db.awrite(lambda c: feeds.rotate_schedule_feed(c, ws.id, schedule_id, actor, now))
        url = f"{ctx.settings.server.public_url()}/ical/schedules/{token}.ics"
        return await self._detail(request, schedule_id, feed_url=url)

    @post("/{schedule_id:int}/delete", opt=_page(Permission.CONFIGURE))
    async def delete(self, request: Request[Any, Any, Any], schedule_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        await ctx.db.awrite(lambda c: store.delete_schedule(c, ws.id, schedule_id, actor, now))
        return Redirect(_base(request), status_code=303)

    # --- the editor -----------------------------------------------------------------------

    async def _editor(
        self,
        request: Request[Any, Any, Any],
        schedule_id: int | None,
        *,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        today = dt.datetime.fromtimestamp(ctx.now(), dt.UTC).date().isoformat()

        def read(conn: apsw.Connection) -> dict[str, Any]:
            users = _members(conn, ws.id)
            if values is not None:
                return {"members": users, "values": values}
            if schedule_id is None:
                blank = views.LayerValues(start_date=today)
                return {"members": users, "values": {"name": "", "timezone": "UTC", "layers": [blank]}}
            row = _row(conn, ws.id, schedule_id)
            emails = {u.id: u.email for u in users}
            layers = [views.layer_values(d, emails) for d in row.layers]
            return {
                "members": users,
                "values": {"name": row.name, "timezone": row.timezone, "layers": layers},
            }

        context = await ctx.db.aread(read)
        layers = list(context["values"]["layers"])
        if not errors or len(layers) < 1:
            layers.append(views.LayerValues(start_date=today))  # room for one more layer
        context["values"]["layers"] = layers
        return render(
            request,
            "schedules/form.html",
            {
                **context,
                "schedule_id": schedule_id,
                "errors": errors or {},
                "timezones": TIMEZONES,
                "rotations": views.ROTATIONS,
                "weekdays": views.WEEKDAYS,
                "active_nav": "schedules",
            },
            status=status,
        )

    @get("/new", opt=_page(Permission.CONFIGURE))
    async def new_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._editor(request, None)

    @get("/{schedule_id:int}/edit", opt=_page(Permission.CONFIGURE))
    async def edit_page(self, request: Request[Any, Any, Any], schedule_id: FromPath[int]) -> Response[Any]:
        return await self._editor(request, schedule_id)

    @post("/", opt=_page(Permission.CONFIGURE))
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._save(request, None)

    @post("/{schedule_id:int}/edit", opt=_page(Permission.CONFIGURE))
    async def update(self, request: Request[Any, Any, Any], schedule_id: FromPath[int]) -> Response[Any]:
        return await self._save(request, schedule_id)

    async def _save(self, request: Request[Any, Any, Any], schedule_id: int | None) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form_data(request)
        blocks = views.layers_from_form(form, min(_int(form.get("layer_count") or "1", "layer_count"), 20))
        name, timezone = form.get("name", 200), form.get("timezone", 100) or "UTC"
        values: dict[str, Any] = {"name": name, "timezone": timezone, "layers": blocks}
        users = await ctx.db.aread(lambda c: _members(c, ws.id))
        ids = {u.email.lower(): u.id for u in users}
        kept = [i for i, b in enumerate(blocks) if b.participants.strip()]
        try:
            docs = [views.layer_doc(blocks[i], i, ids) for i in kept]
        except views.FormError as exc:
            return await self._editor(
                request, schedule_id, values=values, errors={exc.name: exc.message}, status=400
            )
        now = ctx.now()
        try:
            saved = await ctx.db.awrite(
                lambda c: store.save_schedule(c, ws.id, schedule_id, name, timezone, docs, actor, now)
            )
        except SignalCraftError as exc:
            if isinstance(exc, NotFound):
                raise
            name = exc.field if exc.field in ("name", "timezone") else views.form_field(exc.field, kept)
            return await self._editor(
                request, schedule_id, values=values, errors={name: bare_message(exc)}, status=exc.status
            )
        return Redirect(f"{_base(request)}/{saved.id}", status_code=303)


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            "choose someone" if field == "user_id" else "a whole number", field=field
        ) from None


def _formatter(timezone: str) -> Callable[[float], str]:
    zone = ZoneInfo(timezone)
    return lambda epoch: dt.datetime.fromtimestamp(epoch, zone).strftime("%a %d %b %H:%M")


HANDLERS: list[ControllerRouterHandler] = [SchedulePages]
