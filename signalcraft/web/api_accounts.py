"""JSON API v1: the caller, workspaces, members, API keys, audit log.

Authenticate with ``Authorization: Bearer <API key>`` or a session cookie (then send the
CSRF token in ``X-CSRF-Token`` on writes).
"""

from __future__ import annotations

from typing import Annotated, Any

import apsw
import msgspec
from litestar.types import ControllerRouterHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar import Controller, Request, Response, delete, get, patch, post

from signalcraft.auth import members, service
from signalcraft.auth.rbac import Permission, Role
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of

Name = Annotated[str, msgspec.Meta(max_length=100)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class WorkspaceOut(msgspec.Struct):
    slug: str
    name: str
    role: str


class MemberOut(msgspec.Struct):
    user_id: int
    email: str
    name: str
    role: str
    disabled: bool


class MemberIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    role: Role
    name: Name = ""


class MemberAdded(msgspec.Struct):
    member: MemberOut
    reset_link: str | None


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    role: Role


class ApiKeyOut(msgspec.Struct):
    id: int
    name: str
    prefix: str
    role: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None


class ApiKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    role: Role
    expires_at: float | None = None


class ApiKeyCreated(msgspec.Struct):
    key: str
    api_key: ApiKeyOut


class AuditOut(msgspec.Struct):
    id: int
    at: float
    actor: str
    action: str
    target: str
    ip: str
    detail: dict[str, Any]


class MeOut(msgspec.Struct):
    email: str
    name: str
    workspaces: list[WorkspaceOut]
    api_key: ApiKeyOut | None = None


class WorkspaceIn(msgspec.Struct, forbid_unknown_fields=True):
    slug: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    name: Name = ""


def _key_out(row: q.ApiKeyRow) -> ApiKeyOut:
    return ApiKeyOut(
        row.id,
        row.name,
        f"sck_{row.prefix}",
        row.role.value,
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
    )


def _member_out(user: q.User, role: str) -> MemberOut:
    return MemberOut(user.id, user.email, user.name, role, user.disabled)


@get("/api/v1/me", opt={"permission": Permission.READ, "scope": "caller"}, tags=["account"])
async def me(request: Request[Any, Any, Any]) -> MeOut:
    """Who is calling: the signed-in user and their workspaces, or the API key, its role and workspace."""
    identity = identity_of(request)
    db = ctx_of(request).db
    if identity.api_key is not None:
        key = identity.api_key
        found_ws = await db.aread(lambda c: q.workspace_by_id(c, key.workspace_id))
        workspaces = [WorkspaceOut(found_ws.slug, found_ws.name, key.role.value)] if found_ws else []
        return MeOut("", f"API key sck_{key.prefix} ({key.name})", workspaces, api_key=_key_out(key))
    user = identity.user
    assert user is not None
    found = await db.aread(lambda c: q.memberships_of(c, user.id))
    return MeOut(
        user.email,
        user.name,
        [WorkspaceOut(m.workspace.slug, m.workspace.name, m.role.value) for m in found],
    )


@post("/api/v1/workspaces", opt={"permission": Permission.OWN, "scope": "instance"}, tags=["workspaces"])
async def create_workspace(request: Request[Any, Any, Any], data: JSONBody[WorkspaceIn]) -> WorkspaceOut:
    """Create a workspace (instance administrators); the caller becomes its owner."""
    ctx, identity = ctx_of(request), identity_of(request)
    user = identity.user
    assert user is not None
    now = ctx.now()

    def create(conn: apsw.Connection) -> q.Workspace:
        ws = q.create_workspace(conn, data.slug, data.name, now)
        q.set_membership(conn, ws.id, user.id, Role.OWNER, now)
        audit.record(conn, identity.actor, "workspace.create", now, workspace_id=ws.id, target=ws.slug)
        return ws

    ws = await ctx.db.awrite(create)
    return WorkspaceOut(ws.slug, ws.name, Role.OWNER.value)


class WorkspaceApi(Controller):
    path = "/api/v1/workspaces/{slug:str}"
    tags = ["workspaces"]

    @get("/", opt=_ws(Permission.READ))
    async def workspace(self, request: Request[Any, Any, Any]) -> WorkspaceOut:
        """The workspace and the caller's role in it."""
        access = workspace_of(request)
        return WorkspaceOut(access.workspace.slug, access.workspace.name, access.role.value)

    @get("/members", opt=_ws(Permission.READ))
    async def list_members(self, request: Request[Any, Any, Any]) -> list[MemberOut]:
        ws = workspace_of(request).workspace
        found = await ctx_of(request).db.aread(lambda c: q.list_users(c, ws.id))
        return [_member_out(u, r or "") for u, r in found]

    @post("/members", opt=_ws(Permission.MANAGE_MEMBERS))
    async def add_member(self, request: Request[Any, Any, Any], data: JSONBody[MemberIn]) -> MemberAdded:
        """Add a member. A new user gets a one-time link to set a password (returned once)."""
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        added = await ctx.db.awrite(
            lambda c: members.add_member(
                c,
                ctx.settings.auth,
                access.workspace,
                data.email,
                data.name,
                data.role,
                identity.actor,
                access.role,
                ctx.now(),
            )
        )
        link = (
            f"{ctx.settings.server.public_url()}/reset/{added.reset_link_token}"
            if added.reset_link_token
            else None
        )
        return MemberAdded(_member_out(added.user, added.role.value), link)

    @patch("/members/{user_id:int}", opt=_ws(Permission.MANAGE_MEMBERS))
    async def change_role(
        self, request: Request[Any, Any, Any], user_id: FromPath[int], data: JSONBody[RoleIn]
    ) -> Response[None]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        await ctx.db.awrite(
            lambda c: members.change_role(
                c, access.workspace, user_id, data.role, identity.actor, access.role, ctx.now()
            )
        )
        return Response(None, status_code=204)

    @delete("/members/{user_id:int}", opt=_ws(Permission.MANAGE_MEMBERS), status_code=204)
    async def remove_member(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> None:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        await ctx.db.awrite(
            lambda c: members.remove_member(
                c, access.workspace, user_id, identity.actor, access.role, ctx.now()
            )
        )

    @get("/api-keys", opt=_ws(Permission.MANAGE_MEMBERS))
    async def list_keys(self, request: Request[Any, Any, Any]) -> list[ApiKeyOut]:
        ws = workspace_of(request).workspace
        return [_key_out(r) for r in await ctx_of(request).db.aread(lambda c: q.list_api_keys(c, ws.id))]

    @post("/api-keys", opt=_ws(Permission.MANAGE_MEMBERS))
    async def create_key(self, request: Request[Any, Any, Any], data: JSONBody[ApiKeyIn]) -> ApiKeyCreated:
        """Create a key. The full key is in this response only; it is stored hashed."""
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        created = await ctx.db.awrite(
            lambda c: service.create_api_key(
                c, access.workspace.id, data.name, data.role, identity.actor, ctx.now(), data.expires_at
            )
        )
        return ApiKeyCreated(created.key, _key_out(created.row))

    @delete("/api-keys/{key_id:int}", opt=_ws(Permission.MANAGE_MEMBERS), status_code=204)
    async def revoke_key(self, request: Request[Any, Any, Any], key_id: FromPath[int]) -> None:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        await ctx.db.awrite(
            lambda c: members.revoke_key(c, access.workspace, key_id, identity.actor, ctx.now())
        )

    @get("/audit", opt=_ws(Permission.MANAGE_MEMBERS))
    async def audit_log(
        self,
        request: Request[Any, Any, Any],
        before: FromQuery[int | None] = None,
        action: FromQuery[str] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[AuditOut]:
        ws = workspace_of(request).workspace
        found = await ctx_of(request).db.aread(
            lambda c: audit.entries(c, ws.id, limit=limit, before_id=before, action_prefix=action[:100])
        )
        return [AuditOut(e.id, e.at, e.actor, e.action, e.target, e.ip, e.detail) for e in found]


HANDLERS: list[ControllerRouterHandler] = [me, create_workspace, WorkspaceApi]
