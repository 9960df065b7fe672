"""The Alertmanager API v2 routes without the framework in the way, when nothing goes wrong.

Prometheus posts to ``POST /api/v2/alerts`` (bearer token) or
``POST /ingest/<token>/api/v2/alerts`` every evaluation interval, so these two routes carry
most of the ingest load. Litestar's routing, request and response objects cost more than
the rest of such a request put together, so this ASGI layer (inside :mod:`observe`, which
keeps the request id, security headers, metrics and access log) answers them itself while
every step succeeds: a known credential of the right type, a token from the integration's
bucket, a body within ``ingest.max_body_bytes``, a payload that parses. It uses the same
functions as the Litestar routes in :mod:`routes` (:class:`IngestGate`, :func:`decode_body`,
:func:`parse_api_v2_body`, :func:`store_and_announce`) and answers with the same response
(:data:`API_V2_OK`'s status, headers and body), after the commit.

At the first step that does not succeed, the request is handed to Litestar as it came,
the body read so far replayed in front of the rest, and the bucket's token given back:
Litestar's route then runs every step again and answers the 401, 413, 429 or 400 exactly
as it always has (and keeps the refused-payload line). Those routes stay in Litestar for
that, and for the OpenAPI schema.

Under ``signalcraft serve`` an accepted request does not even get here: :mod:`protocol`
answers it inside uvicorn's HTTP protocol with the functions below. This layer answers it
under any other ASGI server (and the in-process tests' client).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from signalcraft.errors import SignalCraftError
from signalcraft.ingest.alertmanager import parse_api_v2_body
from signalcraft.ingest.jsonload import decode_body
from signalcraft.ingest.model import ParseResult, PayloadError
from signalcraft.web.context import AppContext
from signalcraft.web.ingest.common import gate_of, store_and_announce
from signalcraft.web.responses import error_response

_PREFIX, _SUFFIX = "/ingest/", "/api/v2/alerts"
# What Litestar puts in scope["path_template"] for these routes: the metrics label.
_PREFIXED_TEMPLATE = "/ingest/{token}/api/v2/alerts"
_BEARER_TEMPLATE = "/api/v2/alerts"
TYPES = ("prometheus", "alertmanager")


class _HandOver(Exception):
    """This request is Litestar's to answer; ``rest`` is what to replay after the body read so
    far: ``None`` when more body is still to come from the client."""

    def __init__(self, rest: ReceiveMessage | None) -> None:
        super().__init__()
        self.rest = rest


_BODY_DONE: HTTPRequestEvent = {"type": "http.request", "body": b"", "more_body": False}


def route_of(scope: Scope) -> tuple[str, str] | None:
    """(token, path template) of an API v2 alerts POST, or None for any other request."""
    if scope["type"] != "http" or scope.get("method") != "POST":
        return None
    path: str = scope["path"]
    if path == _BEARER_TEMPLATE:
        for name, value in scope["headers"]:
            if name.lower() == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return token.strip(), _BEARER_TEMPLATE
                return None
        return None
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        token = path[len(_PREFIX) : -len(_SUFFIX)]
        if token and "/" not in token:
            return token, _PREFIXED_TEMPLATE
    return None


def ingest_fast_path(app: ASGIApp) -> ASGIApp:
    """Wrap Litestar's ASGI handler (``scope["app"]`` is the Litestar app by then)."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        found = route_of(scope)
        if found is None:
            await app(scope, receive, send)
            return
        token, template = found
        ctx: AppContext = scope["app"].state.ctx
        gate = gate_of(ctx)
        try:
            integration = await gate.integration(ctx, token, types=TYPES)
            gate.take(integration.id)
        except SignalCraftError:  # unknown credential, rate limited, storage: Litestar answers
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            body, result, content_type = await _read_and_parse(scope, receive, ctx, chunks)
        except _HandOver as handover:
            gate.give_back(integration.id)
            await app(scope, _replay(b"".join(chunks), handover.rest, receive), send)
            return
        scope["path_template"] = template  # the metrics label Litestar would have set
        try:
            await store_and_announce(ctx, content_type, integration, result, body)
        except Exception as exc:  # answered by the app's one error mapping
            await answer_error(scope, receive, send, exc)
            return
        await _answer_ok(send)

    return handler


# API_V2_OK's two messages, built once (its ``__call__`` renders the headers per request);
# tests/ingest_http/test_fast_path.py checks they are the same.
OK_HEADERS = ((b"content-type", b"application/json"), (b"content-length", b"4"))
OK_BODY = b"null"
_OK_BODY: HTTPResponseBodyEvent = {"type": "http.response.body", "body": OK_BODY, "more_body": False}


async def _answer_ok(send: Send) -> None:
    # Fresh start message and header list: layers outside (observe) add to them.
    await send({"type": "http.response.start", "status": 200, "headers": list(OK_HEADERS)})
    await send(_OK_BODY)


async def _read_and_parse(
    scope: Scope, receive: Receive, ctx: AppContext, chunks: list[bytes]
) -> tuple[bytes, ParseResult, str]:
    """The decoded body, what it says, its content type; :class:`_HandOver` at any step
    that would not end in a 200 (``chunks`` holds the bytes read by then)."""
    limit = ctx.settings.ingest.max_body_bytes
    declared, encoding, content_type = body_headers(scope["headers"])
    if declared_too_large(declared, limit):
        raise _HandOver(None)
    size = 0
    while True:
        message: ReceiveMessage = await receive()
        if message["type"] != "http.request":
            raise _HandOver(message)  # a disconnect: Litestar's route sees it next
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if size > limit:
            raise _HandOver(None if more else _BODY_DONE)
        if not more:
            break
    try:
        body, result = parse_body(ctx, b"".join(chunks), encoding)
    except PayloadError:
        raise _HandOver(_BODY_DONE) from None
    return body, result, content_type


def body_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes | None, str | None, str]:
    """Content-Length (as sent), Content-Encoding and Content-Type of a request."""
    declared = encoding = None
    content_type = ""
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            declared = value
        elif lowered == b"content-encoding":
            encoding = value.decode("latin-1")
        elif lowered == b"content-type":
            content_type = value.decode("latin-1")
    return declared, encoding, content_type


def declared_too_large(declared: bytes | None, limit: int) -> bool:
    return declared is not None and declared.isdigit() and int(declared) > limit


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


def parse_body(ctx: AppContext, raw: bytes, encoding: str | None) -> tuple[bytes, ParseResult]:
    """The decoded body and its alerts; :class:`PayloadError` for anything the route refuses."""
    body = decode_body(raw, encoding, max_bytes=ctx.settings.ingest.max_body_bytes)
    now = dt.datetime.fromtimestamp(ctx.now(), dt.UTC)
    # API v2 parsing reads no header (the parameter is every parser's signature): no dict of them.
    return body, parse_api_v2_body(body, _NO_HEADERS, now=now)


def _replay(read: bytes, rest: ReceiveMessage | None, receive: Receive) -> Receive:
    """``receive`` with the body already read in front (and the message that ended it)."""
    pending: list[ReceiveMessage] = [{"type": "http.request", "body": read, "more_body": True}]
    if rest is not None:
        pending.append(rest)
    pending.reverse()

    async def replaying() -> ReceiveMessage:
        if pending:
            return pending.pop()
        return await receive()

    return replaying


async def answer_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """As Litestar's exception middleware does for a route: the app's handler for ``exc``
    (:func:`error_response`, the one mapping) renders the answer."""
    litestar_app = scope["litestar_app"]
    request = litestar_app.request_class(scope=scope, receive=receive, send=send)
    response = error_response(request, exc)
    asgi = response.to_asgi_response(app=None, request=request, type_encoders=litestar_app.type_encoders)
    await asgi(scope, receive, send)
