"""SAML single sign-on: the public SP endpoints and the owner's settings page (HTML)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import apsw
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect

from signalcraft.auth import saml
from signalcraft.auth.rbac import Permission, Role
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.db.queries import sso as sq
from signalcraft.errors import InvalidInput, NotFound, SignalCraftError
from signalcraft.notify.http import OutboundHttp
from signalcraft.web.access import SESSION_COOKIE, client_ip, identity_of, workspace_of
from signalcraft.web.auth_pages import _secure
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form, text
from signalcraft.web.responses import render

PUBLIC = {"public": True, "html": True}
OWNER_PAGE = {"permission": Permission.OWN, "scope": "workspace", "html": True}
FAILED = ("Single sign-on did not complete. Start again from the sign-in page or your identity provider; "
          "if it keeps failing, ask your workspace owner.")


@get("/sso/{slug:str}/metadata", opt=PUBLIC, include_in_schema=False)
async def sp_metadata(request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[Any]:
    ctx = ctx_of(request)

    def load(conn: apsw.Connection) -> sq.SsoSettings | None:
        ws = q.workspace_by_slug(conn, slug)
        return sq.sso_settings(conn, ws.id) if ws else None

    sso = await ctx.db.aread(load)
    if sso is None:
        raise NotFound("single sign-on is not set up for this workspace")
    xml = saml.sp_metadata_xml(saml.sp_urls(ctx.settings.server.public_url(), slug), sso)
    return Response(xml, media_type="application/samlmetadata+xml")


@get("/sso/{slug:str}/login", opt=PUBLIC, include_in_schema=False)
async def sso_login(request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[Any]:
    ctx = ctx_of(request)
    location = await saml.start_login(ctx.db, ctx.settings.server.public_url(), slug, ctx.now())
    return Redirect(location, status_code=303)


@post("/sso/{slug:str}/acs", opt=PUBLIC, include_in_schema=False)
async def sso_acs(request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[Any]:
    """The assertion consumer. A cross-site POST from the IdP by design: no CSRF token here;
    the signed, audience-bound, single-use assertion is the proof."""
    ctx = ctx_of(request)
    now, ip = ctx.now(), client_ip(request)
    form = await read_form(request)
    try:
        login = await saml.consume_response(ctx.db, ctx.settings, slug, form.get("SAMLResponse", ""), ip=ip,
                                            user_agent=request.headers.get("user-agent", "")[:300], now=now)
    except saml.SamlRejected as exc:
        reason = exc.reason
        await ctx.db.awrite(lambda c: _record_failure(c, slug, reason, ip, now))
        return render(request, "errors/error.html",
                      {"status": 403, "title": "Single sign-on failed", "message": FAILED}, status=403)
    response = Redirect(f"/w/{login.workspace.slug}/", status_code=303)
    response.set_cookie(Cookie(key=SESSION_COOKIE, value=login.token, httponly=True, samesite="lax",
                               secure=_secure(request), path="/",
                               max_age=ctx.settings.auth.session_absolute_hours * 3600))
    return response


def _record_failure(conn: apsw.Connection, slug: str, reason: str, ip: str, now: float) -> None:
    ws = q.workspace_by_slug(conn, slug)
    audit.record(conn, audit.Actor("saml", None, ip), "login.failure", now,
                 workspace_id=ws.id if ws else None, target=f"sso:{slug}"[:200],
                 detail={"method": "saml", "reason": reason[:300]})


# --- settings (owner) ---------------------------------------------------------------------


async def _page(request: Request[Any, Any, Any], *, errors: dict[str, str] | None = None,
                saved: bool = False, status: int = 200) -> Response[Any]:
    ctx = ctx_of(request)
    ws = workspace_of(request).workspace

    def load(conn: apsw.Connection) -> tuple[sq.SsoSettings, list[q.User]]:
        owners = [u for u, role in q.list_users(conn, ws.id) if role == Role.OWNER.value]
        return sq.sso_settings(conn, ws.id) or sq.SsoSettings(ws.id), owners

    sso, owners = await ctx.db.aread(load)
    urls = saml.sp_urls(ctx.settings.server.public_url(), ws.slug)
    return render(request, "settings/sso.html", {
        "sso": sso, "owners": owners, "urls": urls, "errors": errors or {}, "saved": saved,
        "roles": [r.value for r in saml.SSO_ROLES], "active_nav": "settings",
        "role_map_text": "\n".join(f"{k}={v.value}" for k, v in sso.role_map.items())}, status=status)


@get("/w/{slug:str}/settings/sso", opt=OWNER_PAGE, include_in_schema=False)
async def sso_settings_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _page(request)


def _role_map(raw: str) -> dict[str, Role]:
    found: dict[str, Role] = {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        value, sep, role = line.rpartition("=")
        if not sep or not value.strip() or role.strip() not in {r.value for r in saml.SSO_ROLES}:
            raise InvalidInput("one 'idp-value=admin|responder|viewer' per line", field="role_map")
        found[value.strip()] = Role(role.strip())
    return found


async def _metadata(form: dict[str, str], current: sq.SsoSettings) -> saml.IdpMetadata | None:
    uploaded = form.get("metadata_xml", "").strip()
    if uploaded:
        return saml.read_idp_metadata(uploaded.encode())
    url = text(form, "metadata_url", max_len=2000)
    if form.get("fetch") and url:
        http = OutboundHttp(policy=saml.IDP_METADATA_POLICY, max_response_bytes=1_048_576)
        try:
            return await saml.fetch_idp_metadata(http, url)
        finally:
            await http.aclose()
    return None


def _settings_from_form(form: dict[str, str], current: sq.SsoSettings, md: saml.IdpMetadata | None,
                        owner_ids: set[int]) -> sq.SsoSettings:
    default_role = form.get("default_role", "viewer")
    if default_role not in {r.value for r in saml.SSO_ROLES}:
        raise InvalidInput("admin, responder or viewer", field="default_role")
    break_glass = form.get("break_glass_user_id", "").strip()
    break_glass_id = int(break_glass) if break_glass.isdigit() else None
    if break_glass_id is not None and break_glass_id not in owner_ids:
        raise InvalidInput("the break-glass account must be an owner of this workspace",
                           field="break_glass_user_id")
    new = replace(
        current,
        enabled=bool(form.get("enabled")),
        idp_metadata_url=text(form, "metadata_url", max_len=2000),
        email_attribute=text(form, "email_attribute", required=True),
        name_attribute=text(form, "name_attribute"),
        role_attribute=text(form, "role_attribute"),
        role_map=_role_map(form.get("role_map", "")[:10_000]),
        default_role=Role(default_role),
        jit_create=bool(form.get("jit_create")),
        idp_initiated=bool(form.get("idp_initiated")),
        sso_only=bool(form.get("sso_only")),
        break_glass_user_id=break_glass_id,
    )
    if md is not None:
        new = replace(new, idp_metadata_xml=md.xml, idp_entity_id=md.entity_id, idp_sso_url=md.sso_url,
                      idp_cert_sha256=md.cert_fingerprints)
    if new.enabled and not new.idp_metadata_xml:
        raise InvalidInput("upload or fetch the IdP metadata before enabling SSO", field="metadata_xml")
    if new.sso_only and new.break_glass_user_id is None:
        raise InvalidInput("SSO-only needs a break-glass owner who may still use a password",
                           field="break_glass_user_id")
    return new


def _audited(s: sq.SsoSettings) -> dict[str, Any]:
    """The settings as audit fields (the metadata XML itself is summarized by entity id and certs)."""
    return {"enabled": s.enabled, "idp": s.idp_entity_id, "idp_sso_url": s.idp_sso_url,
            "metadata_url": s.idp_metadata_url, "certs": s.idp_cert_sha256,
            "email_attribute": s.email_attribute,
            "name_attribute": s.name_attribute, "role_attribute": s.role_attribute,
            "role_map": {k: v.value for k, v in s.role_map.items()}, "default_role": s.default_role.value,
            "jit": s.jit_create, "idp_initiated": s.idp_initiated, "sso_only": s.sso_only,
            "break_glass_user_id": s.break_glass_user_id}


@post("/w/{slug:str}/settings/sso", opt=OWNER_PAGE, include_in_schema=False)
async def sso_settings_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = ctx_of(request)
    ws = workspace_of(request).workspace
    actor = identity_of(request).actor
    form = await read_form(request)
    now = ctx.now()
    try:
        current, owner_ids = await ctx.db.aread(lambda c: (
            sq.sso_settings(c, ws.id) or sq.SsoSettings(ws.id),
            {u.id for u, role in q.list_users(c, ws.id) if role == Role.OWNER.value}))
        new = _settings_from_form(form, current, await _metadata(form, current), owner_ids)

        def save(conn: apsw.Connection) -> None:
            sq.save_sso_settings(conn, new, now)
            audit.record(conn, actor, "sso.update", now, workspace_id=ws.id, target=new.idp_entity_id,
                         detail=audit.changes(_audited(current), _audited(new)))

        await ctx.db.awrite(save)
    except SignalCraftError as exc:
        return await _page(request, errors={exc.field or "": exc.message}, status=exc.status)
    return await _page(request, saved=True)


HANDLERS = [sp_metadata, sso_login, sso_acs, sso_settings_page, sso_settings_submit]
