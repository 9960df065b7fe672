"""The Alertmanager API v2 alert posts answered inside uvicorn's HTTP protocol, when nothing
goes wrong.

:mod:`fast` already keeps Litestar out of these requests; what remained per request was the
ASGI machinery around them: the ``receive``/``send`` round trips, the outer layers'
wrappers, uvicorn's check of every response header. This subclass of uvicorn's httptools
protocol starts its own task instead of the ASGI application for a ``POST`` to one of the
two routes (:func:`fast.route_of`) and, while every step succeeds, does what the ASGI path
would: the same credential check, rate limit, body limit and parse (the functions of
:mod:`fast`), :func:`store_and_announce` (the answer is written after the commit), then the
same bytes on the wire (uvicorn's ``date`` header, :data:`fast.OK_HEADERS`, the headers of
:func:`observe.add_common_headers`), the same request metric and access log line
(:func:`observe.record_request`).

At the first step that does not succeed nothing has been written, and the request goes to
the ASGI application as uvicorn would have sent it (the body is still in the cycle, unread),
with the bucket's token given back: the 401, 413, 429 and 400 answers stay Litestar's. An
error while storing is answered by the app's one error mapping, through :mod:`observe`.
A request that expects ``100 Continue`` takes the ASGI path from the start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar

from litestar import Litestar
from litestar.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from signalcraft.errors import SignalCraftError
from signalcraft.ingest.model import PayloadError
from signalcraft.logs import reset_request_id, set_request_id
from signalcraft.web.context import AppContext
from signalcraft.web.ingest import fast
from signalcraft.web.ingest.common import gate_of, store_and_announce
from signalcraft.web.observe import add_common_headers, incoming_request_id, observe, record_request, wants_hsts

log = logging.getLogger("uvicorn.error")  # where uvicorn logs an application's exception


class IngestHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering accepted API v2 alert posts itself.
    Use :func:`ingest_protocol` to get one bound to an app."""

    litestar: ClassVar[Litestar]
    answered: ClassVar[int] = 0  # requests answered here, not by the ASGI app (tests read it)

    # uvicorn starts every request's task here (and a pipelined one when its turn comes). An
    # uvicorn without this method never calls it: every request then takes the ASGI path,
    # and tests/ingest_http/test_ingest_protocol.py fails on the counts it reads.
    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        scope: Any = cycle.scope
        found = fast.route_of(scope) if app is self.app and not cycle.waiting_for_100_continue else None
        if found is None or self.config.reset_contextvars:
            super()._start_asgi_task(cycle, app)
            return
        task = self.loop.create_task(self._ingest(cycle, app, *found))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _ingest(self, cycle: RequestResponseCycle, app: Any, token: str, template: str) -> None:
        started = time.perf_counter()
        scope: Any = cycle.scope
        request_id = incoming_request_id(scope)
        reset = set_request_id(request_id)
        try:
            handled = await self._answer(cycle, token, template, request_id, started)
        except Exception as exc:  # a bug: answered as uvicorn answers an application's exception
            log.error("Exception in ASGI application\n", exc_info=exc)
            if not cycle.response_started:
                await cycle.send_500_response()
            else:
                cycle.transport.close()
            record_request(self._ctx.metrics, template, "POST", scope["path"], 500, time.perf_counter() - started)
            handled = True
        finally:
            reset_request_id(reset)
        if not handled:
            cycle.message_event.set()  # what arrived is still in cycle.body for receive()
            await cycle.run_asgi(app)

    @property
    def _ctx(self) -> AppContext:
        ctx: AppContext = self.litestar.state.ctx
        return ctx

    async def _answer(
        self, cycle: RequestResponseCycle, token: str, template: str, request_id: str, started: float
    ) -> bool:
        """True once answered; False (nothing written, nothing taken) for the ASGI app to answer."""
        ctx = self._ctx
        scope: Any = cycle.scope
        limit = ctx.settings.ingest.max_body_bytes
        declared, encoding, content_type = fast.body_headers(scope["headers"])
        if fast.declared_too_large(declared, limit):
            return False
        gate = gate_of(ctx)
        try:
            integration = await gate.integration(ctx, token, types=fast.TYPES)
            gate.take(integration.id)
        except SignalCraftError:  # unknown credential, rate limited, storage: Litestar answers
            return False
        while cycle.more_body and not cycle.disconnected and len(cycle.body) <= limit:
            cycle.flow.resume_reading()  # as receive() does: the protocol pauses at 64 KiB
            await cycle.message_event.wait()
            cycle.message_event.clear()
        if cycle.more_body or cycle.disconnected or len(cycle.body) > limit:
            gate.give_back(integration.id)  # too large, or gone: Litestar's route says so
            return False
        try:
            body, result = fast.parse_body(ctx, bytes(cycle.body), encoding)
        except PayloadError:
            gate.give_back(integration.id)
            return False
        scope["path_template"] = template
        try:
            await store_and_announce(ctx, content_type, integration, result, body)
        except Exception as exc:  # answered by the app's one error mapping
            if not any(name == b"x-request-id" for name, _ in scope["headers"]):
                # observe takes the caller's id: the answer names the id this request logged under
                scope["headers"].append((b"x-request-id", request_id.encode()))
            await cycle.run_asgi(self._error_app(exc))
            return True
        # Counted before the answer is written, so a sender that has its answer sees it counted.
        type(self).answered += 1
        record_request(ctx.metrics, template, "POST", scope["path"], 200, time.perf_counter() - started)
        await self._write_ok(cycle, request_id, started, wants_hsts(scope, ctx.settings.server.trusted_proxies))
        return True

    async def _write_ok(self, cycle: RequestResponseCycle, request_id: str, started: float, hsts: bool) -> None:
        """What :meth:`RequestResponseCycle.send` writes for the ASGI path's two messages."""
        if cycle.flow.write_paused and not cycle.disconnected:
            await cycle.flow.drain()
        cycle.response_started = cycle.response_complete = True
        if not cycle.disconnected:
            headers = list(fast.OK_HEADERS)
            add_common_headers(headers, request_id, started, hsts)
            content = [STATUS_LINE[200]]
            for name, value in (*cycle.default_headers, *headers):
                content.extend((name, b": ", value, b"\r\n"))
            if not cycle.keep_alive:
                content.append(b"connection: close\r\n")
            content.extend((b"\r\n", fast.OK_BODY))
            if cycle.access_log:  # uvicorn's own access line, when its logger has a handler
                cycle.access_logger.info(
                    '%s - "%s %s HTTP/%s" %d',
                    get_client_addr(cycle.scope),
                    "POST",
                    get_path_with_query_string(cycle.scope),
                    cycle.scope["http_version"],
                    200,
                )
            cycle.transport.write(b"".join(content))
        cycle.message_event.set()
        if not cycle.keep_alive:
            cycle.transport.close()
        cycle.on_response()
        cycle.on_response = lambda: None

    def _error_app(self, exc: Exception) -> Any:
        """An ASGI app answering ``exc`` as the ASGI fast path does, inside :mod:`observe`."""
        litestar, ctx = self.litestar, self._ctx

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            scope["app"] = scope["litestar_app"] = litestar
            scope.setdefault("state", {})
            await fast.answer_error(scope, receive, send, exc)

        return observe(answer, ctx.metrics, ctx.settings.server.trusted_proxies)


def ingest_protocol(app: Litestar) -> type[asyncio.Protocol]:
    """The protocol class to give ``uvicorn.Config(http=...)`` for ``app``."""
    return type("BoundIngestHttpProtocol", (IngestHttpProtocol,), {"litestar": app, "answered": 0})
