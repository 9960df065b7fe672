"""Outermost HTTP layer: request id, latency metrics by route template, access log,
security headers. Wraps the app's ASGI handler, so it sees every request, 404s included."""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from signalcraft.logs import reset_request_id, set_request_id
from signalcraft.metrics import Metrics
from signalcraft.web.proxies import is_https

log = logging.getLogger("signalcraft.access")
_random_bits = random.Random().getrandbits  # seeded from os.urandom once, at import

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{8,64}$")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def incoming_request_id(scope: Scope) -> str:
    """The caller's ``X-Request-Id`` when it looks like one, else a fresh one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _REQUEST_ID.match(value):
            return value.decode()
    # A correlation id, not a secret: the process-wide PRNG (seeded from the OS at start)
    # gives 64 bits without a system call per request.
    return f"{_random_bits(64):016x}"


def wants_hsts(scope: Scope, trusted_proxies: tuple[str, ...]) -> bool:
    # Without trusted proxies only the scheme can say https: skip parsing the peer address.
    return scope.get("scheme") == "https" or (bool(trusted_proxies) and is_https(scope, trusted_proxies))


def add_common_headers(
    headers: list[tuple[bytes, bytes]], request_id: str, started: float, hsts: bool
) -> None:
    """What every answer carries, appended to the response's own ``headers``."""
    present = {h[0].lower() for h in headers}
    headers.append((b"x-request-id", request_id.encode()))
    # Handler time up to the first byte (the body is rendered by then): what the page
    # benchmark reads, and what browsers' dev tools show per request.
    took = (time.perf_counter() - started) * 1000
    headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
    headers.extend(h for h in _BASE_HEADERS if h[0] not in present)
    if hsts:
        headers.append(_HSTS)


def record_request(
    metrics: Metrics, route: str, method: str, path: str, status: int, elapsed: float
) -> None:
    """The latency metric and the access log line of one answered request."""
    metrics.observe_request(route, method, status, elapsed)
    if log.isEnabledFor(logging.INFO):  # the extra dict costs even when the line is dropped
        log.info(
            "%s %s %d %.1fms",
            method,
            path,
            status,
            elapsed * 1000,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )


def observe(app: ASGIApp, metrics: Metrics, trusted_proxies: tuple[str, ...]) -> ASGIApp:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request_id = incoming_request_id(scope)
        token = set_request_id(request_id)
        started = time.perf_counter()
        status_holder = [500]
        hsts = wants_hsts(scope, trusted_proxies)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers: list[Any] = list(message.get("headers", []))
                add_common_headers(headers, request_id, started, hsts)
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "(unmatched)"
            method = str(scope.get("method", ""))
            record_request(metrics, route, method, scope.get("path", ""), status_holder[0], elapsed)
            reset_request_id(token)

    return handler
