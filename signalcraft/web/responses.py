"""The one mapping from exceptions to responses, and the page renderer.

HTML routes (``opt={"html": True}``) get an error page, or a redirect to the sign-in page
when the session is missing; everything else gets JSON
``{"error": {"code", "message", "field"}}``. A 5xx is logged with the request id and
never shows a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from signalcraft.auth.rbac import Permission, allows
from signalcraft.db.queries import accounts as q
from signalcraft.errors import NotAuthenticated, PayloadTooLarge, RateLimited, SignalCraftError
from signalcraft.ingest.model import PayloadError
from signalcraft.logs import current_request_id
from signalcraft.web.access import ANON_CSRF_COOKIE, identity_of
from signalcraft.web.context import ctx_of

log = logging.getLogger("signalcraft.web")

_TITLES = {400: "Bad request", 401: "Sign-in required", 403: "Not allowed", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Too large", 415: "Unsupported media type",
           429: "Slow down", 500: "Something went wrong", 503: "Unavailable", 507: "Disk full"}


def is_html(request: Request[Any, Any, Any]) -> bool:
    handler = request.scope.get("route_handler")
    if handler is not None:
        return bool(handler.opt.get("html"))
    return not request.url.path.startswith(("/api/", "/v2/", "/ping/")) and "text/html" in request.headers.get(
        "accept", "")


def _classify(exc: Exception) -> tuple[int, str, str, str | None, dict[str, str]]:
    """(status, code, message, field, headers) for any exception."""
    if isinstance(exc, PayloadError):
        return 400, "invalid_payload", exc.message, exc.field or None, {}
    if isinstance(exc, SignalCraftError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
        return exc.status, exc.code, exc.message, exc.field, headers
    if isinstance(exc, HTTPException) and exc.status_code == PayloadTooLarge.status:
        # Litestar's request_max_body_size, met while the body streamed in (no declared length)
        return PayloadTooLarge.status, PayloadTooLarge.code, "body larger than this route allows", "body", {}
    if isinstance(exc, HTTPException):
        status = exc.status_code
        message = exc.detail if status < 500 else "internal error"
        extra = getattr(exc, "extra", None)
        if status == 400 and isinstance(extra, list) and extra and isinstance(extra[0], dict):
            first = extra[0]
            field = str(first.get("key") or "") or None
            return 400, "invalid_input", str(first.get("message") or message), field, {}
        return status, f"http_{status}", str(message), None, dict(exc.headers or {})
    return 500, "internal_error", "internal error", None, {}


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, code, message, field, headers = _classify(exc)
    request_id = current_request_id()
    if status >= 500:
        log.error("request failed: %s %s -> %d (%s)", request.method, request.url.path, status,
                  code, exc_info=exc if status == 500 else None)
        if status == 500:
            message = f"internal error (request id {request_id})"
    if is_html(request):
        if isinstance(exc, NotAuthenticated) and request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)
        try:
            return render(request, "errors/error.html",
                          {"status": status, "title": _TITLES.get(status, "Error"), "message": message},
                          status=status, headers=headers)
        except Exception:  # the error page itself failed: still answer, in plain text
            log.exception("error page failed to render")
            return Response(f"{status} {_TITLES.get(status, 'Error')}: {message}\n", status_code=status,
                            media_type="text/plain; charset=utf-8", headers=headers)
    body: dict[str, Any] = {"error": {"code": code, "message": message, "field": field,
                                      "request_id": request_id}}
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def render(request: Request[Any, Any, Any], template: str, context: Mapping[str, Any], *,
           status: int = 200, headers: Mapping[str, str] | None = None) -> Response[str]:
    """Render a page with the globals base.html needs (see web/base.html)."""
    ctx = ctx_of(request)
    state = request.scope.get("state", {})
    identity = identity_of(request)
    access = state.get("workspace_access")
    role = access.role if access else None
    memberships: list[q.Membership] = state.get("memberships") or []
    csrf = identity.session.csrf_token if identity.session else request.cookies.get(ANON_CSRF_COOKIE, "")
    from signalcraft.web.nav import nav_for

    page: dict[str, Any] = {
        "csrf_token": csrf,
        "current_user": identity.user,
        "workspace": access.workspace if access else None,
        "role": role.value if role else None,
        "memberships": memberships,
        "can": (lambda perm: bool(role) and allows(role, Permission(perm))),  # type: ignore[arg-type]
        "request_path": request.url.path,
        "nav_items": nav_for(access.workspace.slug) if access else [],
        "active_nav": context.get("active_nav", ""),
        "password_min_length": ctx.settings.auth.password_min_length,  # for new-password hints
    }
    page.update(context)
    html = ctx.templates.render(template, page)
    return Response(html, status_code=status, media_type="text/html; charset=utf-8", headers=dict(headers or {}))
