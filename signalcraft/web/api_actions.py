"""JSON API v1: acting on alert groups (acknowledge, resolve, snooze, unsnooze, assign, notes,
bulk) and the workspace's saved inbox views. The service is :mod:`signalcraft.alert_actions`;
every change is published on the alert bus for live pages."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from signalcraft import alert_actions as actions
from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import alert_work as aw
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.events import bus_of
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.api_alerts import GroupOut, group_out
from signalcraft.web.context import ctx_of


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class GroupWorkOut(msgspec.Struct):
    group: GroupOut
    snoozed_until: float | None
    assignee_id: int | None
    assignee: str
    changed: bool


class SnoozeIn(msgspec.Struct, forbid_unknown_fields=True):
    until: float | None = None
    minutes: Annotated[int, msgspec.Meta(ge=1, le=43_200)] | None = None


class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: int | None = None


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(max_length=2 * actions.NOTE_MAX_CHARS)]


class NoteOut(msgspec.Struct):
    id: int
    author: str
    user_id: int | None
    body: str
    at: float


class BulkIn(msgspec.Struct, forbid_unknown_fields=True):
    ids: Annotated[list[int], msgspec.Meta(max_length=actions.MAX_BULK)]
    action: Annotated[str, msgspec.Meta(max_length=20)]
    until: float | None = None
    minutes: Annotated[int, msgspec.Meta(ge=1, le=43_200)] | None = None
    user_id: int | None = None


class BulkOut(msgspec.Struct):
    changed: list[int]
    skipped: list[int]


class ViewIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)]
    query: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ViewPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    query: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class ViewOut(msgspec.Struct):
    id: int
    name: str
    query: str
    created_at: float


def snooze_end(until: float | None, minutes: int | None, now: float) -> float | None:
    if until is not None and minutes is not None:
        raise InvalidInput("give either until or minutes, not both", field="until")
    return now + minutes * 60.0 if minutes is not None else until


async def perform(
    request: Request[Any, Any, Any], group_ids: int | list[int], change: actions.Change
) -> actions.ActionResult:
    """Apply one action (to one group, or in bulk) and tell live pages. Shared with the HTML forms."""
    ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
    ws_id, actor, now = access.workspace.id, identity.actor, ctx.now()
    if isinstance(group_ids, int):
        one = group_ids
        result = await ctx.db.awrite(lambda c: actions.act(c, ws_id, one, change, actor, now))
    else:
        many = group_ids
        result = await ctx.db.awrite(lambda c: actions.act_bulk(c, ws_id, many, change, actor, now))
    bus_of(ctx.extras).publish(ws_id, result)
    return result


def view_out(view: aw.ViewRow) -> ViewOut:
    return ViewOut(view.id, view.name, view.query, view.created_at)


class AlertActionApi(Controller):
    path = "/api/v1/workspaces/{slug:str}/alert-groups"
    tags = ["alerts"]

    async def _act(
        self, request: Request[Any, Any, Any], group_id: int, change: actions.Change
    ) -> GroupWorkOut:
        result = await perform(request, group_id, change)
        ws_id = workspace_of(request).workspace.id
        row = await ctx_of(request).db.aread(lambda c: aw.inbox_row(c, ws_id, group_id))
        if row is None:  # deleted in between
            raise NotFound("no such alert group", field="group_id")
        return GroupWorkOut(
            group_out(row.group), row.snoozed_until, row.assignee_id, row.assignee_name, bool(result.changed)
        )

    @post("/{group_id:int}/acknowledge", opt=_ws(Permission.RESPOND), status_code=200)
    async def acknowledge(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> GroupWorkOut:
        """Acknowledge: someone is on it. 409 when the group is resolved."""
        return await self._act(request, group_id, actions.Change("acknowledge"))

    @post("/{group_id:int}/resolve", opt=_ws(Permission.RESPOND), status_code=200)
    async def resolve(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> GroupWorkOut:
        """Resolve the group and close every open alert in it."""
        return await self._act(request, group_id, actions.Change("resolve"))

    @post("/{group_id:int}/snooze", opt=_ws(Permission.RESPOND), status_code=200)
    async def snooze(
        self, request: Request[Any, Any, Any], group_id: FromPath[int], data: JSONBody[SnoozeIn]
    ) -> GroupWorkOut:
        """Snooze until ``until`` (epoch seconds) or for ``minutes``; it comes back as triggered."""
        until = snooze_end(data.until, data.minutes, ctx_of(request).now())
        return await self._act(request, group_id, actions.Change("snooze", until=until))

    @post("/{group_id:int}/unsnooze", opt=_ws(Permission.RESPOND), status_code=200)
    async def unsnooze(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> GroupWorkOut:
        return await self._act(request, group_id, actions.Change("unsnooze"))

    @post("/{group_id:int}/assign", opt=_ws(Permission.RESPOND), status_code=200)
    async def assign(
        self, request: Request[Any, Any, Any], group_id: FromPath[int], data: JSONBody[AssignIn]
    ) -> GroupWorkOut:
        """Assign to a member who may respond (``user_id``), or unassign (``null``)."""
        return await self._act(request, group_id, actions.Change("assign", assignee_id=data.user_id))

    @get("/{group_id:int}/notes", opt=_ws(Permission.READ))
    async def list_notes(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> list[NoteOut]:
        """Notes, newest first."""
        ws_id = workspace_of(request).workspace.id

        def load(conn: Any) -> list[aw.NoteRow]:
            if not aw.work_states(conn, ws_id, [group_id]):
                raise NotFound("no such alert group", field="group_id")
            return aw.notes_of_group(conn, ws_id, group_id)

        found = await ctx_of(request).db.aread(load)
        return [NoteOut(n.id, n.author, n.user_id, n.body, n.at) for n in found]

    @post("/{group_id:int}/notes", opt=_ws(Permission.RESPOND))
    async def add_note(
        self, request: Request[Any, Any, Any], group_id: FromPath[int], data: JSONBody[NoteIn]
    ) -> NoteOut:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        ws_id, now = access.workspace.id, ctx.now()
        note = await ctx.db.awrite(
            lambda c: actions.add_note(c, ws_id, group_id, data.body, identity.actor, now)
        )
        bus_of(ctx.extras).publish(ws_id, [group_id])
        return NoteOut(note.id, note.author, note.user_id, note.body, note.at)

    @post("/bulk", opt=_ws(Permission.RESPOND), status_code=200)
    async def bulk(self, request: Request[Any, Any, Any], data: JSONBody[BulkIn]) -> BulkOut:
        """One action on many groups of this workspace. An id from elsewhere: 404, nothing changed.
        Groups the action does not apply to (acknowledging a resolved one) are ``skipped``."""
        until = snooze_end(data.until, data.minutes, ctx_of(request).now())
        change = actions.Change(data.action, until=until, assignee_id=data.user_id)
        result = await perform(request, data.ids, change)
        return BulkOut(result.changed, result.skipped)


class SavedViewApi(Controller):
    path = "/api/v1/workspaces/{slug:str}/views"
    tags = ["alerts"]

    @get("/", opt=_ws(Permission.READ))
    async def list_views(self, request: Request[Any, Any, Any]) -> list[ViewOut]:
        """Saved inbox filters, shared by the workspace; ``query`` is the inbox's query string."""
        ws_id = workspace_of(request).workspace.id
        return [view_out(v) for v in await ctx_of(request).db.aread(lambda c: aw.list_views(c, ws_id))]

    @post("/", opt=_ws(Permission.RESPOND))
    async def create_view(self, request: Request[Any, Any, Any], data: JSONBody[ViewIn]) -> ViewOut:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        ws_id, now = access.workspace.id, ctx.now()
        view = await ctx.db.awrite(
            lambda c: actions.save_view(c, ws_id, data.name, data.query, identity.actor, now)
        )
        return view_out(view)

    @patch("/{name:str}", opt=_ws(Permission.RESPOND))
    async def update_view(
        self, request: Request[Any, Any, Any], name: FromPath[str], data: JSONBody[ViewPatch]
    ) -> ViewOut:
        ctx, ws_id, actor = ctx_of(request), workspace_of(request).workspace.id, identity_of(request).actor
        now = ctx.now()
        view = await ctx.db.awrite(
            lambda c: actions.update_view(c, ws_id, name, data.name, data.query, actor, now)
        )
        return view_out(view)

    @delete("/{name:str}", opt=_ws(Permission.RESPOND), status_code=204)
    async def delete_view(self, request: Request[Any, Any, Any], name: FromPath[str]) -> None:
        ctx, ws_id, actor = ctx_of(request), workspace_of(request).workspace.id, identity_of(request).actor
        now = ctx.now()
        await ctx.db.awrite(lambda c: actions.delete_view(c, ws_id, name, actor, now))


HANDLERS: list[ControllerRouterHandler] = [AlertActionApi, SavedViewApi]
