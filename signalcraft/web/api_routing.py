"""JSON API v1: routing rules, the default route, "test these rules", silences (also one click
from an alert group), maintenance windows, inhibit rules, and a group's routing decisions.

Rules, maintenance windows and inhibit rules are saved as whole ordered lists (items keep
their ``id``; left-out items are deleted), like an Alertmanager configuration. Responders may
silence (they do it during incidents); changing routing needs CONFIGURE.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.routing import apply, service
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of

MAX_SILENCE_MINUTES = 366 * 1440


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class RulesIn(msgspec.Struct, forbid_unknown_fields=True):
    rules: list[Any]


class RuleOut(msgspec.Struct):
    id: int
    position: int
    name: str
    enabled: bool
    conditions: dict[str, Any]
    actions: dict[str, Any]
    updated_at: float


class RulesOut(msgspec.Struct):
    rules: list[RuleOut]


class DefaultRoute(msgspec.Struct, forbid_unknown_fields=True):
    actions: dict[str, Any]


class TestIn(msgspec.Struct, forbid_unknown_fields=True):
    rules: list[Any]
    n: Annotated[int, msgspec.Meta(ge=1, le=apply.MAX_TEST_ALERTS)] = 20
    default: dict[str, Any] | None = None


class TestOut(msgspec.Struct):
    results: list[dict[str, Any]]


class SilenceIn(msgspec.Struct, forbid_unknown_fields=True):
    matchers: list[Any]
    comment: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    starts_at: float | None = None
    ends_at: float | None = None
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_SILENCE_MINUTES)] | None = None


class GroupSilenceIn(msgspec.Struct, forbid_unknown_fields=True):
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_SILENCE_MINUTES)] = 120
    comment: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    alert_id: int | None = None


class ExpireIn(msgspec.Struct, forbid_unknown_fields=True):
    id: int


class SilenceOut(msgspec.Struct):
    id: int
    matchers: list[str]
    starts_at: float
    ends_at: float
    author: str
    comment: str
    created_at: float
    expired_at: float | None
    group_id: int | None
    state: str  # pending, active, expired


class WindowsIn(msgspec.Struct, forbid_unknown_fields=True):
    windows: list[Any]


class WindowOut(msgspec.Struct):
    id: int
    name: str
    integrations: list[int]
    matchers: list[str]
    starts_at: float | None
    ends_at: float | None
    weekly: dict[str, Any] | None
    updated_at: float


class WindowsOut(msgspec.Struct):
    windows: list[WindowOut]


class InhibitIn(msgspec.Struct, forbid_unknown_fields=True):
    inhibit_rules: list[Any]


class InhibitOut(msgspec.Struct):
    id: int
    name: str
    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str]
    updated_at: float


class InhibitRulesOut(msgspec.Struct):
    inhibit_rules: list[InhibitOut]


def rules_out(found: list[rq.RuleRow]) -> RulesOut:
    return RulesOut(
        [
            RuleOut(
                r.id,
                r.position,
                r.name,
                r.enabled,
                r.doc.get("conditions", {}),
                r.doc.get("actions", {}),
                r.updated_at,
            )
            for r in found
        ]
    )


def silence_out(s: rq.SilenceRow, now: float) -> SilenceOut:
    state = "expired" if s.ends_at <= now else "active" if s.starts_at <= now else "pending"
    return SilenceOut(
        s.id,
        s.matchers,
        s.starts_at,
        s.ends_at,
        s.author,
        s.comment,
        s.created_at,
        s.expired_at,
        s.group_id,
        state,
    )


def windows_out(found: list[rq.WindowRow]) -> WindowsOut:
    return WindowsOut(
        [
            WindowOut(
                w.id, w.name, w.integrations, w.matchers, w.starts_at, w.ends_at, w.weekly, w.updated_at
            )
            for w in found
        ]
    )


def inhibit_out(found: list[rq.InhibitRow]) -> InhibitRulesOut:
    return InhibitRulesOut(
        [InhibitOut(r.id, r.name, r.source_matchers, r.target_matchers, r.equal, r.updated_at) for r in found]
    )


def silence_end(data: SilenceIn, starts_at: float) -> float:
    if data.ends_at is not None:
        return data.ends_at
    if data.duration_minutes is not None:
        return starts_at + data.duration_minutes * 60.0
    raise InvalidInput("give ends_at or duration_minutes", field="ends_at")


class RoutingApi(Controller):
    path = "/api/v1/workspaces/{slug:str}"
    tags = ["routing"]

    @get("/routing/rules", opt=_ws(Permission.READ))
    async def get_rules(self, request: Request[Any, Any, Any]) -> RulesOut:
        ws = workspace_of(request).workspace
        return rules_out(await ctx_of(request).db.aread(lambda c: rq.rules_of(c, ws.id)))

    @put("/routing/rules", opt=_ws(Permission.CONFIGURE))
    async def put_rules(self, request: Request[Any, Any, Any], data: JSONBody[RulesIn]) -> RulesOut:
        """Replace the ordered rule list; a rule keeps its ``id`` when sent with it."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        return rules_out(await ctx.db.awrite(lambda c: service.save_rules(c, ws.id, data.rules, actor, now)))

    @get("/routing/default", opt=_ws(Permission.READ))
    async def get_default(self, request: Request[Any, Any, Any]) -> DefaultRoute:
        ws = workspace_of(request).workspace
        return DefaultRoute(await ctx_of(request).db.aread(lambda c: rq.default_route(c, ws.id)))

    @put("/routing/default", opt=_ws(Permission.CONFIGURE))
    async def put_default(
        self, request: Request[Any, Any, Any], data: JSONBody[DefaultRoute]
    ) -> DefaultRoute:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        return DefaultRoute(
            await ctx.db.awrite(lambda c: service.save_default(c, ws.id, data.actions, actor, now))
        )

    @post("/routing/test", opt=_ws(Permission.READ), status_code=200)
    async def test_rules(self, request: Request[Any, Any, Any], data: JSONBody[TestIn]) -> TestOut:
        """What these rules would have done with each of the last ``n`` alerts. Stores nothing."""
        ws = workspace_of(request).workspace
        results = await ctx_of(request).db.aread(
            lambda c: apply.test_rules(c, ws.id, data.rules, data.n, data.default)
        )
        return TestOut(results)

    @get("/silences", opt=_ws(Permission.READ))
    async def list_silences(
        self, request: Request[Any, Any, Any], current: FromQuery[bool] = False
    ) -> list[SilenceOut]:
        """Newest first; ``current=true`` leaves out those that have ended."""
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()
        found = await ctx.db.aread(lambda c: rq.silences_of(c, ws.id, current_at=now if current else None))
        return [silence_out(s, now) for s in found]

    @post("/silences", opt=_ws(Permission.RESPOND))
    async def create_silence(self, request: Request[Any, Any, Any], data: JSONBody[SilenceIn]) -> SilenceOut:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        starts = data.starts_at if data.starts_at is not None else now
        ends = silence_end(data, starts)
        found = await ctx.db.awrite(
            lambda c: service.create_silence(c, ws.id, data.matchers, starts, ends, data.comment, actor, now)
        )
        return silence_out(found, now)

    @put("/silences/{silence_id:int}", opt=_ws(Permission.RESPOND))
    async def update_silence(
        self, request: Request[Any, Any, Any], silence_id: FromPath[int], data: JSONBody[SilenceIn]
    ) -> SilenceOut:
        """Edit a silence that has not ended, as Alertmanager does: changed in place while pending,
        or while active when only the end or comment change; otherwise the active silence is
        expired and the answer is the new one that replaces it (another ``id``). A left-out
        ``starts_at`` keeps the saved start."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()

        def update(conn: Any) -> rq.SilenceRow:
            before = rq.silence(conn, ws.id, silence_id)
            if before is None:
                raise NotFound("no such silence", field="silence_id")
            starts = data.starts_at if data.starts_at is not None else before.starts_at
            return service.update_silence(
                conn, ws.id, silence_id, data.matchers, starts, silence_end(data, starts), data.comment, actor, now
            )

        return silence_out(await ctx.db.awrite(update), now)

    @post("/silences/expire", opt=_ws(Permission.RESPOND), status_code=200)
    async def expire_silence(self, request: Request[Any, Any, Any], data: JSONBody[ExpireIn]) -> SilenceOut:
        """End a silence now (it stays listed, as expired)."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        found = await ctx.db.awrite(lambda c: service.expire_silence(c, ws.id, data.id, actor, now))
        return silence_out(found, now)

    @post("/alert-groups/{group_id:int}/silence", opt=_ws(Permission.RESPOND))
    async def silence_group(
        self, request: Request[Any, Any, Any], group_id: FromPath[int], data: JSONBody[GroupSilenceIn]
    ) -> SilenceOut:
        """One click from an alert: silence its exact labels (the group's newest alert, or ``alert_id``)."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        found = await ctx.db.awrite(
            lambda c: service.silence_group(
                c,
                ws.id,
                group_id,
                data.duration_minutes * 60.0,
                data.comment,
                actor,
                now,
                alert_id=data.alert_id,
            )
        )
        return silence_out(found, now)

    @get("/alert-groups/{group_id:int}/routing", opt=_ws(Permission.READ))
    async def group_routing(
        self, request: Request[Any, Any, Any], group_id: FromPath[int]
    ) -> list[rq.DecisionRow]:
        """Every routing decision taken for the group's events, oldest first."""
        ws = workspace_of(request).workspace

        def load(conn: Any) -> list[rq.DecisionRow]:
            if aq.get_group(conn, ws.id, group_id) is None:
                raise NotFound("no such alert group", field="group_id")
            return rq.decisions_of_group(conn, ws.id, group_id)

        return await ctx_of(request).db.aread(load)

    @get("/maintenance-windows", opt=_ws(Permission.READ))
    async def get_windows(self, request: Request[Any, Any, Any]) -> WindowsOut:
        ws = workspace_of(request).workspace
        return windows_out(await ctx_of(request).db.aread(lambda c: rq.windows_of(c, ws.id)))

    @put("/maintenance-windows", opt=_ws(Permission.CONFIGURE))
    async def put_windows(self, request: Request[Any, Any, Any], data: JSONBody[WindowsIn]) -> WindowsOut:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        return windows_out(
            await ctx.db.awrite(lambda c: service.save_windows(c, ws.id, data.windows, actor, now))
        )

    @get("/inhibit-rules", opt=_ws(Permission.READ))
    async def get_inhibit_rules(self, request: Request[Any, Any, Any]) -> InhibitRulesOut:
        ws = workspace_of(request).workspace
        return inhibit_out(await ctx_of(request).db.aread(lambda c: rq.inhibit_rules_of(c, ws.id)))

    @put("/inhibit-rules", opt=_ws(Permission.CONFIGURE))
    async def put_inhibit_rules(
        self, request: Request[Any, Any, Any], data: JSONBody[InhibitIn]
    ) -> InhibitRulesOut:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        return inhibit_out(
            await ctx.db.awrite(
                lambda c: service.save_inhibit_rules(c, ws.id, data.inhibit_rules, actor, now)
            )
        )


HANDLERS: list[ControllerRouterHandler] = [RoutingApi]
