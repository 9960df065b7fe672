"""Sign-in, sign-out, first-run setup, password reset and change (HTML)."""

from __future__ import annotations

from typing import Any

import apsw
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from signalcraft.auth import passwords, service
from signalcraft.auth.rbac import Permission, Role
from signalcraft.auth.secrets import new_token, token_hash
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.errors import InvalidInput, NotAuthenticated, RateLimited, SignalCraftError
from signalcraft.web.access import (
    ANON_CSRF_COOKIE,
    SESSION_COOKIE,
    client_ip,
    identity_of,
    optional_identity,
)
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form, safe_next
from signalcraft.web.proxies import is_https
from signalcraft.web.responses import render

PUBLIC_FORM = {"public": True, "anon_csrf": True, "html": True}
USER_PAGE = {"permission": Permission.READ, "scope": "user", "html": True}


def _secure(request: Request[Any, Any, Any]) -> bool:
    ctx = ctx_of(request)
    mode = ctx.settings.auth.secure_cookies
    return mode == "always" or (mode == "auto" and is_https(request.scope, ctx.settings.server.trusted_proxies))


def _anon_csrf(request: Request[Any, Any, Any]) -> tuple[str, list[Cookie]]:
    """The double-submit token for forms shown before sign-in (set once per browser)."""
    existing = request.cookies.get(ANON_CSRF_COOKIE, "")
    if existing:
        return existing, []
    token = new_token(24)
    return token, [Cookie(key=ANON_CSRF_COOKIE, value=token, httponly=True, samesite="strict",
                          secure=_secure(request), path="/")]


def _with_cookies(response: Response[Any], cookies: list[Cookie]) -> Response[Any]:
    for cookie in cookies:
        response.set_cookie(cookie)
    return response


@get("/", opt=USER_PAGE, include_in_schema=False)
async def root(request: Request[Any, Any, Any]) -> Response[Any]:
    memberships: list[q.Membership] = request.scope["state"].get("memberships", [])
    if memberships:
        return Redirect(f"/w/{memberships[0].workspace.slug}/", status_code=303)
    return render(request, "errors/error.html", {
        "status": 200, "title": "No workspace yet",
        "message": "You are not a member of any workspace. Ask an administrator to add you."})


@get("/login", opt={"public": True, "html": True}, include_in_schema=False)
async def login_page(request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Response[Any]:
    identity = await optional_identity(request)
    if identity.user is not None:
        return Redirect(safe_next(next), status_code=303)
    csrf, cookies = _anon_csrf(request)
    notice = "Your password was changed. Sign in again." if request.query_params.get("changed") else None
    return _with_cookies(render(request, "auth/login.html", {
        "error": None, "email": "", "next": safe_next(next), "notice": notice, "csrf_token": csrf}), cookies)


@post("/login", opt=PUBLIC_FORM, include_in_schema=False)
async def login_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = ctx_of(request)
    form = await read_form(request)
    email = form.get("email", "").strip()[:320]
    target = safe_next(form.get("next"))
    try:
        signed = await service.sign_in(ctx.db, ctx.settings.auth, email, form.get("password", "")[:1024],
                                       ip=client_ip(request),
                                       user_agent=request.headers.get("user-agent", ""), now=ctx.now())
    except (NotAuthenticated, RateLimited) as exc:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
        message = "Wrong email or password." if isinstance(exc, NotAuthenticated) else exc.message.capitalize()
        return render(request, "auth/login.html", {"error": message, "email": email, "next": target,
                                                   "notice": None},
                      status=exc.status, headers=headers)
    response = Redirect(target, status_code=303)
    response.set_cookie(Cookie(key=SESSION_COOKIE, value=signed.token, httponly=True, samesite="lax",
                               secure=_secure(request), path="/",
                               max_age=ctx.settings.auth.session_absolute_hours * 3600))
    return response


@post("/logout", opt={"permission": Permission.READ, "scope": "user", "html": True}, include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    identity, ctx = identity_of(request), ctx_of(request)
    await service.sign_out(ctx.db, identity.session_token)
    user, now = identity.user, ctx.now()
    if user is not None:
        await ctx.db.awrite(lambda c: audit.record(c, identity.actor, "logout", now, target=user.email))
    response = Redirect("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- first-run setup --------------------------------------------------------------------

_SETUP_FIELDS = ("name", "email", "workspace_name", "workspace_slug")


@get("/setup/{token:str}", opt={"public": True, "html": True}, include_in_schema=False)
async def setup_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    ctx = ctx_of(request)
    usable = await ctx.db.aread(lambda c: q.peek_one_time_token(c, "setup", token_hash(token), ctx.now()))
    if usable is None:
        return render(request, "auth/link_invalid.html", {"title": "Setup link not valid"}, status=404)
    csrf, cookies = _anon_csrf(request)
    return _with_cookies(render(request, "auth/setup.html", {
        "errors": {}, "values": {"workspace_name": "Default", "workspace_slug": "default"},
        "action_url": f"/setup/{token}", "csrf_token": csrf}), cookies)


@post("/setup/{token:str}", opt=PUBLIC_FORM, include_in_schema=False)
async def setup_submit(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    ctx = ctx_of(request)
    form = await read_form(request)
    values = {k: form.get(k, "").strip()[:200] for k in _SETUP_FIELDS}
    now, ip = ctx.now(), client_ip(request)
    try:
        password = form.get("password", "")
        passwords.check_new_password(password, min_length=ctx.settings.auth.password_min_length)
        if password != form.get("password_confirm", ""):
            raise InvalidInput("the two passwords differ", field="password_confirm")
        q.check_email(values["email"])
        q.check_slug(values["workspace_slug"])
        hashed = passwords.hash_password(password)

        def create(conn: apsw.Connection) -> None:
            if q.consume_one_time_token(conn, "setup", token_hash(token), now) is None or q.count_users(conn):
                raise InvalidInput("this setup link has expired or was already used", field="")
            create_owner(conn, values["email"], values["name"], hashed, values["workspace_slug"],
                         values["workspace_name"], audit.Actor(values["email"], None, ip), now)

        await ctx.db.awrite(create)
    except SignalCraftError as exc:
        return render(request, "auth/setup.html", {
            "errors": {exc.field or "": exc.message}, "values": values, "action_url": f"/setup/{token}"},
            status=exc.status)
    signed = await service.sign_in(ctx.db, ctx.settings.auth, values["email"], password, ip=ip,
                                   user_agent=request.headers.get("user-agent", ""), now=now)
    response = Redirect(f"/w/{values['workspace_slug']}/", status_code=303)
    response.set_cookie(Cookie(key=SESSION_COOKIE, value=signed.token, httponly=True, samesite="lax",
                               secure=_secure(request), path="/"))
    return response


def create_owner(conn: apsw.Connection, email: str, name: str, password_hash: str, slug: str,
                 workspace_name: str, actor: audit.Actor, now: float) -> tuple[q.User, q.Workspace]:
    """The first user (an instance administrator) and workspace, with the user as owner."""
    user = q.create_user(conn, email, name, password_hash, now, instance_admin=True)
    workspace = q.create_workspace(conn, slug, workspace_name, now)
    q.set_membership(conn, workspace.id, user.id, Role.OWNER, now)
    audit.record(conn, audit.Actor(actor.label, user.id, actor.ip), "instance.setup", now,
                 workspace_id=workspace.id, target=email, detail={"after": {"workspace": slug}})
    return user, workspace


# --- password reset (admin-issued link) and change --------------------------------------

@get("/reset/{token:str}", opt={"public": True, "html": True}, include_in_schema=False)
async def reset_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    ctx = ctx_of(request)

    def load(conn: apsw.Connection) -> q.User | None:
        user_id = q.peek_one_time_token(conn, "password_reset", token_hash(token), ctx.now())
        return q.user_by_id(conn, user_id) if user_id else None

    user = await ctx.db.aread(load)
    if user is None:
        return render(request, "auth/link_invalid.html", {"title": "Reset link not valid"}, status=404)
    csrf, cookies = _anon_csrf(request)
    return _with_cookies(render(request, "auth/reset.html", {
        "errors": {}, "email": user.email, "action_url": f"/reset/{token}", "csrf_token": csrf}), cookies)


@post("/reset/{token:str}", opt=PUBLIC_FORM, include_in_schema=False)
async def reset_submit(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    ctx = ctx_of(request)
    form = await read_form(request)
    now, ip = ctx.now(), client_ip(request)
    password = form.get("password", "")
    try:
        passwords.check_new_password(password, min_length=ctx.settings.auth.password_min_length)
        if password != form.get("password_confirm", ""):
            raise InvalidInput("the two passwords differ", field="password_confirm")
        hashed = passwords.hash_password(password)

        def apply(conn: apsw.Connection) -> None:
            token_id = q.consume_one_time_token(conn, "password_reset", token_hash(token), now)
            user_id = q.one_time_token_user(conn, token_id) if token_id else None
            if user_id is None:
                raise InvalidInput("this reset link has expired or was already used", field="")
            q.set_password(conn, user_id, hashed, now)
            audit.record(conn, audit.Actor("reset-link", user_id, ip), "user.password_reset", now,
                         target=str(user_id))

        await ctx.db.awrite(apply)
    except SignalCraftError as exc:
        return render(request, "auth/reset.html", {"errors": {exc.field or "": exc.message}, "email": "",
                                                   "action_url": f"/reset/{token}"}, status=exc.status)
    return Redirect("/login?changed=1", status_code=303)


@get("/account/password", opt=USER_PAGE, include_in_schema=False)
async def password_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return render(request, "account/password.html", {"errors": {}, "done": False})


@post("/account/password", opt=USER_PAGE, include_in_schema=False)
async def password_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = ctx_of(request)
    identity = identity_of(request)
    user = identity.user
    assert user is not None
    form = await read_form(request)
    now = ctx.now()
    try:
        if not passwords.verify_password(user.password_hash, form.get("current_password", "")[:1024]):
            raise InvalidInput("this is not your current password", field="current_password")
        new = form.get("new_password", "")
        passwords.check_new_password(new, min_length=ctx.settings.auth.password_min_length,
                                     field="new_password")
        if new != form.get("new_password_confirm", ""):
            raise InvalidInput("the two passwords differ", field="new_password_confirm")
        hashed = passwords.hash_password(new)

        def apply(conn: apsw.Connection) -> None:
            q.set_password(conn, user.id, hashed, now)
            audit.record(conn, identity.actor, "user.password_change", now, target=user.email)

        await ctx.db.awrite(apply)
    except SignalCraftError as exc:
        return render(request, "account/password.html", {"errors": {exc.field or "": exc.message},
                                                         "done": False}, status=exc.status)
    # Changing the password ended every session, this one included.
    response = Redirect("/login?changed=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


HANDLERS = [root, login_page, login_submit, logout, setup_page, setup_submit, reset_page, reset_submit,
            password_page, password_submit]
