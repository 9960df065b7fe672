"""The one guard every route passes: who is calling, may they, and is the form genuine.

Each route handler declares in ``opt`` either ``public=True`` or a ``permission`` (see
:mod:`signalcraft.auth.rbac`) with a ``scope``:

- ``scope="workspace"``: the path has ``{slug}``; the caller's role in that workspace must
  allow the permission. A workspace the caller is not a member of answers 404, so ids and
  slugs of other workspaces reveal nothing.
- ``scope="user"``: any signed-in user (own account, workspace list).
- ``scope="caller"``: any authenticated caller, user or API key (``/api/v1/me``).
- ``scope="instance"``: an instance administrator.

A route that declares neither is refused for everyone (fail closed), and the route-walking
test lists it. Before anything else, a body whose declared ``Content-Length`` is over the
route's limit is refused with 413 (see :func:`check_declared_size`). Authenticated requests
spend one token of their API key's or session's rate limit here
(:mod:`signalcraft.web.ratelimit`); public routes have their own limits.
Sessions (cookie) work on every route; ``Authorization: Bearer <API key>``
works on ``/api/v1`` routes only. State-changing requests on a session need the CSRF token
(form field ``_csrf`` or header ``X-CSRF-Token``); anonymous forms use a double-submit cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler

from signalcraft.auth import service
from signalcraft.auth.rbac import Permission, Role, allows
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.errors import Forbidden, NotAuthenticated, NotFound, PayloadTooLarge
from signalcraft.web.context import ctx_of
from signalcraft.web.ratelimit import limits_of

SESSION_COOKIE = "sc_session"
ANON_CSRF_COOKIE = "sc_csrf"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OWN_BODY_LIMIT = "own_limit"  # opt: the handler reads its body within its own limit (see below)


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated caller of one request."""

    user: q.User | None = None
    session: q.SessionRow | None = None
    session_token: str = ""
    api_key: q.ApiKeyRow | None = None
    ip: str = ""

    @property
    def actor(self) -> audit.Actor:
        if self.api_key is not None:
            return audit.Actor(f"apikey:sck_{self.api_key.prefix}", None, self.ip)
        if self.user is not None:
            return audit.Actor(self.user.email, self.user.id, self.ip)
        return audit.Actor("anonymous", None, self.ip)


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    workspace: q.Workspace
    role: Role


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    found: Identity | None = connection.scope.get("state", {}).get("identity")
    return found or Identity(ip=client_ip(connection))


def workspace_of(connection: ASGIConnection[Any, Any, Any, Any]) -> WorkspaceAccess:
    found: WorkspaceAccess | None = connection.scope.get("state", {}).get("workspace_access")
    if found is None:
        raise RuntimeError("workspace_of() on a route without scope='workspace'")
    return found


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    cached: str | None = connection.scope.get("state", {}).get("client_ip")
    if cached is not None:
        return cached
    from signalcraft.web.proxies import resolve_client_ip

    ip = resolve_client_ip(connection.scope, ctx_of(connection).settings.server.trusted_proxies)
    connection.scope.setdefault("state", {})["client_ip"] = ip
    return ip


async def resolve_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    ctx = ctx_of(connection)
    now = ctx.now()
    ip = client_ip(connection)
    auth_header = connection.headers.get("authorization", "")
    if auth_header:
        scheme, _, value = auth_header.partition(" ")
        if scheme.lower() != "bearer" or not is_api_path(connection.scope["path"]):
            raise NotAuthenticated("use 'Authorization: Bearer <API key>' on /api/v1 routes")
        key = await service.authenticate_api_key(ctx.db, value.strip(), now)
        return Identity(api_key=key, ip=ip)
    token = connection.cookies.get(SESSION_COOKIE, "")
    if token:
        current = await service.current_session(ctx.db, ctx.settings.auth, token, now)
        if current is not None:
            return Identity(user=current.user, session=current.session, session_token=token, ip=ip)
    return Identity(ip=ip)


async def _check_csrf(connection: ASGIConnection[Any, Any, Any, Any], expected: str) -> None:
    presented = connection.headers.get(CSRF_HEADER)
    if presented is None and hasattr(connection, "form"):
        content_type = connection.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await connection.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    if not service.check_csrf(expected, presented):
        raise Forbidden(
            "the form's security token is missing or stale; reload the page and try again", field=CSRF_FIELD
        )


def declared_body_limit(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> int | None:
    """The most bytes a request may declare in ``Content-Length`` on this route; None when the
    handler reads its body itself within its own limit and answers 413 itself (``opt``
    ``ingest``: [ingest] max_body_bytes after the credential check, decompressed bytes included;
    ``own_limit``: replay chunks, [replay] max_chunk_bytes with the CORS headers the
    recorder needs to read the answer)."""
    own = handler.opt.get("ingest") or handler.opt.get(OWN_BODY_LIMIT)
    if own or not isinstance(handler, HTTPRouteHandler):
        return None
    # ``request_max_body_size=None`` without a limit of its own (heartbeat pings read a chunked
    # body of any size and drop it): a declared length is still held to [server] max_body_bytes.
    limit = handler.resolve_request_max_body_size()
    return ctx_of(connection).settings.server.max_body_bytes if limit is None else limit


def check_declared_size(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """413 for a declared ``Content-Length`` over the route's limit, before authentication or the
    handler runs. Litestar enforces ``request_max_body_size`` (declared and streamed bytes) only
    when something reads the body, so a route that never reads it would otherwise answer as if
    the body were fine. A chunked body declares no length: Litestar's streaming limit still cuts
    it off as it is read."""
    declared = connection.headers.get("content-length", "")
    if not declared.isdigit():
        return
    limit = declared_body_limit(connection, handler)
    if limit is not None and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes", field="body")


async def access_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Size-check, authenticate, authorize and CSRF-check one request (see the module docstring)."""
    check_declared_size(connection, handler)
    opt = handler.opt
    state = connection.scope.setdefault("state", {})
    method = connection.scope.get("method", "GET")
    if opt.get("public"):
        if opt.get("anon_csrf") and method not in SAFE_METHODS:
            await _check_csrf(connection, connection.cookies.get(ANON_CSRF_COOKIE, ""))
        return
    identity = await resolve_identity(connection)
    state["identity"] = identity
    if identity.user is None and identity.api_key is None:
        raise NotAuthenticated("sign in to continue")
    _take_rate_limit(connection, identity)
    if opt.get("html") and identity.user is not None:
        user_id = identity.user.id
        state["memberships"] = await ctx_of(connection).db.aread(lambda c: q.memberships_of(c, user_id))
    permission = opt.get("permission")
    scope = opt.get("scope")
    if not isinstance(permission, Permission) or scope not in ("workspace", "user", "caller", "instance"):
        raise Forbidden("this route declares no permission; refused")
    if identity.session is not None and method not in SAFE_METHODS:
        await _check_csrf(connection, identity.session.csrf_token)
    if scope == "caller":
        return
    if scope == "user":
        if identity.user is None:
            raise Forbidden("this route is for signed-in users, not API keys")
        return
    if scope == "instance":
        if identity.user is None or not identity.user.is_instance_admin:
            raise Forbidden("only an instance administrator may do this")
        return
    state["workspace_access"] = await _workspace_access(connection, identity, permission)


def _take_rate_limit(connection: ASGIConnection[Any, Any, Any, Any], identity: Identity) -> None:
    """One request from the caller's bucket ([limits]); RateLimited (429 + Retry-After) when empty."""
    ctx = ctx_of(connection)
    if identity.api_key is not None:
        limits_of(ctx).take_api_key(identity.api_key.id, ctx.now())
    elif identity.session is not None:
        limits_of(ctx).take_session(identity.session.id, ctx.now())


async def _workspace_access(
    connection: ASGIConnection[Any, Any, Any, Any], identity: Identity, permission: Permission
) -> WorkspaceAccess:
    slug = connection.path_params.get("slug")
    if not isinstance(slug, str):
        raise RuntimeError("scope='workspace' on a route without {slug}")
    db = ctx_of(connection).db

    def load(conn: Any) -> tuple[q.Workspace | None, Role | None]:
        ws = q.workspace_by_slug(conn, slug)
        if ws is None:
            return None, None
        if identity.api_key is not None:
            return ws, identity.api_key.role if identity.api_key.workspace_id == ws.id else None
        assert identity.user is not None
        return ws, q.role_in(conn, identity.user.id, ws.id)

    workspace, role = await db.aread(load)
    if workspace is None or role is None:
        raise NotFound("no such workspace")
    if not allows(role, permission):
        raise Forbidden(f"your role ({role.value}) does not allow this ({permission.value})")
    return WorkspaceAccess(workspace, role)


async def optional_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """For public pages that change with the caller (login redirects when signed in)."""
    state = connection.scope.setdefault("state", {})
    if "identity" not in state:
        try:
            state["identity"] = await resolve_identity(connection)
        except NotAuthenticated:
            state["identity"] = Identity(ip=client_ip(connection))
    found: Identity = state["identity"]
    return found
