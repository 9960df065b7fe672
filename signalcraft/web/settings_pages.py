"""Workspace home and settings pages: members, API keys, audit log (HTML)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import apsw
import orjson
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from signalcraft.auth import members, service
from signalcraft.auth.rbac import API_KEY_ROLES, Permission, Role
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.errors import InvalidInput, SignalCraftError
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form, text
from signalcraft.web.responses import render


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


@dataclass(frozen=True, slots=True)
class MemberView:
    user: q.User
    role: str


@dataclass(frozen=True, slots=True)
class HomeStats:
    open_alerts: int


@dataclass(frozen=True, slots=True)
class HomeLink:
    label: str
    href: str
    description: str


def parse_expiry_days(raw: str, now: float) -> float | None:
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError:
        raise InvalidInput("enter a whole number of days", field="expires_in_days") from None
    if not 1 <= days <= 3650:
        raise InvalidInput("between 1 and 3650 days", field="expires_in_days")
    return now + days * 86400.0


class WorkspacePages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    @get("/", opt=_page(Permission.READ))
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        base = f"/w/{workspace_of(request).workspace.slug}"
        links = [
            HomeLink("Members", f"{base}/settings/members", "Who is in this workspace and their roles."),
            HomeLink("API keys", f"{base}/settings/api-keys", "Keys for scripts and the /api/v1 API."),
            HomeLink("Audit log", f"{base}/settings/audit", "Who changed what, when, from where."),
            HomeLink("API reference", "/api/docs", "The OpenAPI schema of the JSON API."),
        ]
        return render(request, "workspace/home.html",
                      {"stats": HomeStats(open_alerts=0), "links": links, "active_nav": "home"})

    # --- members ----------------------------------------------------------------------

    async def _members_page(self, request: Request[Any, Any, Any], *, errors: dict[str, str] | None = None,
                            values: dict[str, str] | None = None, reset_link: str | None = None,
                            status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace
        found = await ctx_of(request).db.aread(lambda c: q.list_users(c, ws.id))
        return render(request, "settings/members.html", {
            "members": [MemberView(u, r or "") for u, r in found], "roles": [r.value for r in Role],
            "errors": errors or {}, "values": values or {}, "reset_link": reset_link,
            "active_nav": "members"}, status=status)

    @get("/settings/members", opt=_page(Permission.READ))
    async def members_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._members_page(request)

    @post("/settings/members", opt=_page(Permission.MANAGE_MEMBERS))
    async def add_member(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        form = await read_form(request)
        values = {k: form.get(k, "")[:200] for k in ("email", "name", "role")}
        try:
            role = members.parse_role(values["role"])
            email = text(form, "email", max_len=320, required=True)
            name = text(form, "name", max_len=100)
            added = await ctx.db.awrite(lambda c: members.add_member(
                c, ctx.settings.auth, access.workspace, email, name, role, identity.actor, access.role, ctx.now()))
        except SignalCraftError as exc:
            return await self._members_page(request, errors={exc.field or "": exc.message}, values=values,
                                            status=exc.status)
        link = (f"{ctx.settings.server.public_url()}/reset/{added.reset_link_token}"
                if added.reset_link_token else None)
        return await self._members_page(request, reset_link=link)

    @post("/settings/members/{user_id:int}/role", opt=_page(Permission.MANAGE_MEMBERS))
    async def change_role(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        form = await read_form(request)
        try:
            role = members.parse_role(form.get("role", ""))
            await ctx.db.awrite(lambda c: members.change_role(
                c, access.workspace, user_id, role, identity.actor, access.role, ctx.now()))
        except SignalCraftError as exc:
            return await self._members_page(request, errors={exc.field or "": exc.message}, status=exc.status)
        return Redirect(f"/w/{access.workspace.slug}/settings/members", status_code=303)

    @post("/settings/members/{user_id:int}/remove", opt=_page(Permission.MANAGE_MEMBERS))
    async def remove_member(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        try:
            await ctx.db.awrite(lambda c: members.remove_member(
                c, access.workspace, user_id, identity.actor, access.role, ctx.now()))
        except SignalCraftError as exc:
            return await self._members_page(request, errors={exc.field or "": exc.message}, status=exc.status)
        return Redirect(f"/w/{access.workspace.slug}/settings/members", status_code=303)

    @post("/settings/members/{user_id:int}/reset-link", opt=_page(Permission.MANAGE_MEMBERS))
    async def reset_link(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        try:
            token = await ctx.db.awrite(lambda c: members.reset_link_for_member(
                c, ctx.settings.auth, access.workspace, user_id, identity.actor, access.role, ctx.now()))
        except SignalCraftError as exc:
            return await self._members_page(request, errors={exc.field or "": exc.message}, status=exc.status)
        return await self._members_page(request, reset_link=f"{ctx.settings.server.public_url()}/reset/{token}")

    # --- API keys ---------------------------------------------------------------------

    async def _keys_page(self, request: Request[Any, Any, Any], *, new_key: str | None = None,
                         errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                         status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace
        keys = await ctx_of(request).db.aread(lambda c: q.list_api_keys(c, ws.id))
        return render(request, "settings/api_keys.html", {
            "keys": keys, "new_key": new_key, "errors": errors or {}, "values": values or {},
            "roles": [r.value for r in API_KEY_ROLES], "active_nav": "api_keys"}, status=status)

    @get("/settings/api-keys", opt=_page(Permission.MANAGE_MEMBERS))
    async def keys_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._keys_page(request)

    @post("/settings/api-keys", opt=_page(Permission.MANAGE_MEMBERS))
    async def create_key(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        form = await read_form(request)
        values = {k: form.get(k, "")[:200] for k in ("name", "role", "expires_in_days")}
        now = ctx.now()
        try:
            role = members.parse_role(values["role"])
            expires = parse_expiry_days(values["expires_in_days"].strip(), now)
            created = await ctx.db.awrite(lambda c: service.create_api_key(
                c, access.workspace.id, values["name"], role, identity.actor, now, expires))
        except SignalCraftError as exc:
            return await self._keys_page(request, errors={exc.field or "": exc.message}, values=values,
                                         status=exc.status)
        return await self._keys_page(request, new_key=created.key)

    @post("/settings/api-keys/{key_id:int}/revoke", opt=_page(Permission.MANAGE_MEMBERS))
    async def revoke_key(self, request: Request[Any, Any, Any], key_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        await ctx.db.awrite(lambda c: members.revoke_key(c, access.workspace, key_id, identity.actor, ctx.now()))
        return Redirect(f"/w/{access.workspace.slug}/settings/api-keys", status_code=303)

    # --- audit log --------------------------------------------------------------------

    @get("/settings/audit", opt=_page(Permission.MANAGE_MEMBERS))
    async def audit_page(self, request: Request[Any, Any, Any], before: FromQuery[int | None] = None
                         ) -> Response[Any]:
        ws = workspace_of(request).workspace
        where, values = audit_filter(request.query_params)
        found = await ctx_of(request).db.aread(
            lambda c: audit.entries(c, ws.id, limit=101, before_id=before, where=where))
        query = urlencode({k: v for k, v in values.items() if v})
        return render(request, "settings/audit.html", {
            "entries": found[:100], "filter": values, "filter_query": query,
            "filter_action": values["action"],
            "next_before": found[99].id if len(found) > 100 else None, "active_nav": "audit"})

    @get("/settings/audit.jsonl", opt=_page(Permission.MANAGE_MEMBERS))
    async def audit_export(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """The entries the page's filters select, oldest last, as JSON lines."""
        ws = workspace_of(request).workspace
        where, _ = audit_filter(request.query_params)

        def dump(conn: apsw.Connection) -> bytes:
            lines = [orjson.dumps({"id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                                   "target": e.target, "ip": e.ip, "detail": e.detail})
                     for e in audit.entries(conn, ws.id, limit=1_000_000, where=where)]
            return b"\n".join(lines) + (b"\n" if lines else b"")

        body = await ctx_of(request).db.aread(dump)
        return Response(body, media_type="application/x-ndjson", headers={
            "Content-Disposition": f'attachment; filename="audit-{ws.slug}.jsonl"'})


def audit_filter(query: Mapping[str, str]) -> tuple[audit.AuditFilter, dict[str, str]]:
    """The audit filters from a query string (dates as YYYY-MM-DD, UTC; ``to`` is inclusive)."""
    values = {k: str(query.get(k) or "")[:200].strip() for k in ("action", "actor", "target", "from", "to")}
    return audit.AuditFilter(
        action_prefix=values["action"], actor=values["actor"], target=values["target"],
        since=_day(values["from"], "from"), until=_day(values["to"], "to", next_day=True),
    ), values


def _day(text: str, field: str, *, next_day: bool = False) -> float | None:
    if not text:
        return None
    try:
        day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise InvalidInput("a date as YYYY-MM-DD", field=field) from None
    return (day + dt.timedelta(days=1 if next_day else 0)).timestamp()
