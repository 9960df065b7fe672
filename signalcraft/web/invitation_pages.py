"""Workspace invitations (HTML): the admin's list of pending invitations with invite and
revoke, and the public page behind an invitation link where the invitee accepts.

Without outgoing mail configured for the instance, the link is shown once to the admin to
pass on (like API keys and password links).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth import invitations, members, passwords, service
from signalcraft.auth.rbac import Permission, Role, can_assign
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import invitations as iq
from signalcraft.errors import InvalidInput, SignalCraftError
from signalcraft.web.access import SESSION_COOKIE, client_ip, identity_of, optional_identity, workspace_of
from signalcraft.web.auth_pages import PUBLIC_FORM, _anon_csrf, _secure, _with_cookies
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form, text
from signalcraft.web.responses import render

ADMIN_PAGE = {"permission": Permission.MANAGE_MEMBERS, "scope": "workspace", "html": True}


@dataclass(frozen=True, slots=True)
class InvitationView:
    invitation: iq.Invitation
    invited_by: str


class InvitationPages(Controller):
    path = "/w/{slug:str}/settings/invitations"
    include_in_schema = False

    async def _page(self, request: Request[Any, Any, Any], *, link: str | None = None,
                    invited: iq.Invitation | None = None, errors: dict[str, str] | None = None,
                    values: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        access, now = workspace_of(request), ctx_of(request).now()

        def load(conn: apsw.Connection) -> list[InvitationView]:
            out = []
            for i in iq.pending(conn, access.workspace.id, now):
                by = q.user_by_id(conn, i.created_by) if i.created_by else None
                out.append(InvitationView(i, (by.name or by.email) if by else ""))
            return out

        found = await ctx_of(request).db.aread(load)
        return render(request, "settings/invitations.html", {
            "invitations": found, "link": link, "invited": invited, "errors": errors or {},
            "values": values or {}, "roles": [r.value for r in Role if can_assign(access.role, r)],
            "active_nav": "members"}, status=status)

    @get("/", opt=ADMIN_PAGE)
    async def list_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._page(request)

    @post("/", opt=ADMIN_PAGE)
    async def invite(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        form = await read_form(request)
        values = {k: form.get(k, "")[:320] for k in ("email", "role")}
        try:
            role = members.parse_role(values["role"])
            email = text(form, "email", max_len=320, required=True)
            issued = await ctx.db.awrite(lambda c: invitations.invite(
                c, access.workspace, email, role, identity.actor, access.role, ctx.now()))
        except SignalCraftError as exc:
            return await self._page(request, errors={exc.field or "": exc.message}, values=values,
                                    status=exc.status)
        link = f"{ctx.settings.server.public_url()}/invite/{issued.token}"
        return await self._page(request, link=link, invited=issued.invitation)

    @post("/{invitation_id:int}/revoke", opt=ADMIN_PAGE)
    async def revoke(self, request: Request[Any, Any, Any], invitation_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        try:
            await ctx.db.awrite(lambda c: invitations.revoke(
                c, access.workspace, invitation_id, identity.actor, access.role, ctx.now()))
        except SignalCraftError as exc:
            return await self._page(request, errors={"": exc.message}, status=exc.status)
        return Redirect(f"/w/{access.workspace.slug}/settings/invitations", status_code=303)


# --- the invitee's side (public: the link is the credential) --------------------------------


async def _accept_page(request: Request[Any, Any, Any], token: str, *, errors: dict[str, str] | None = None,
                       values: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
    ctx = ctx_of(request)
    found = await ctx.db.aread(lambda c: invitations.open_invitation(c, token, ctx.now()))
    if found is None:
        return render(request, "auth/link_invalid.html", {"title": "Invitation not valid"}, status=404)
    identity = await optional_identity(request)
    form_csrf, cookies = _anon_csrf(request)
    return _with_cookies(render(request, "auth/invitation.html", {
        "found": found, "user": identity.user, "errors": errors or {}, "values": values or {},
        "action_url": f"/invite/{token}", "form_csrf": form_csrf,
        "login_url": f"/login?next=/invite/{token}"}, status=status), cookies)


@get("/invite/{token:str}", opt={"public": True, "html": True}, include_in_schema=False)
async def accept_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    return await _accept_page(request, token)


@post("/invite/{token:str}", opt=PUBLIC_FORM, include_in_schema=False)
async def accept_submit(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    ctx = ctx_of(request)
    identity = await optional_identity(request)
    form = await read_form(request)
    now, ip = ctx.now(), client_ip(request)
    if identity.user is not None:
        user = identity.user
        try:
            workspace = await ctx.db.awrite(
                lambda c: invitations.accept_as(c, token, user, identity.actor, now))
        except SignalCraftError as exc:
            return await _accept_page(request, token, errors={"": exc.message}, status=exc.status)
        return Redirect(f"/w/{workspace.slug}/", status_code=303)
    values = {"name": form.get("name", "").strip()[:100]}
    try:
        name = text(form, "name", max_len=100, required=True)
        password = form.get("password", "")
        passwords.check_new_password(password, min_length=ctx.settings.auth.password_min_length)
        if password != form.get("password_confirm", ""):
            raise InvalidInput("the two passwords differ", field="password_confirm")
        hashed = passwords.hash_password(password)
        user, workspace = await ctx.db.awrite(
            lambda c: invitations.accept_new(c, token, name, hashed, ip, now))
    except SignalCraftError as exc:
        return await _accept_page(request, token, errors={exc.field or "": exc.message}, values=values,
                                  status=exc.status)
    signed = await service.sign_in(ctx.db, ctx.settings.auth, user.email, password, ip=ip,
                                   user_agent=request.headers.get("user-agent", ""), now=now)
    response = Redirect(f"/w/{workspace.slug}/", status_code=303)
    response.set_cookie(Cookie(key=SESSION_COOKIE, value=signed.token, httponly=True, samesite="lax",
                               secure=_secure(request), path="/",
                               max_age=ctx.settings.auth.session_absolute_hours * 3600))
    return response


HANDLERS: list[ControllerRouterHandler] = [InvitationPages, accept_page, accept_submit]
