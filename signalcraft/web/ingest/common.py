"""What every ingest route shares: the credential check, the rate limit, the bounded body,
and :func:`accept`, which answers only after the alerts are committed.

Ingest routes are public in the guard's sense (the monitoring tool has no session); each
authenticates with its integration's credential here. An unknown and a revoked credential
get the same answer, so a caller learns nothing about which tokens exist.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import apsw
from litestar import Request

from signalcraft.auth.secrets import token_hash
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import integrations as iq
from signalcraft.errors import NotAuthenticated, PayloadTooLarge, RateLimited
from signalcraft.ingest.jsonload import BodyTooLarge, decode_body, load_json
from signalcraft.ingest.model import JSONValue, ParseResult, PayloadError
from signalcraft.routing import tasks as routing
from signalcraft.pipeline.process import IngestOutcome, RawBody, apply, prepare
from signalcraft.web.context import AppContext, ctx_of

INGEST = {"public": True, "ingest": True}
CACHE_SECONDS = 5.0  # an integration revoked from another process stops working within this


class UnknownCredential(NotAuthenticated):
    def __init__(self) -> None:
        super().__init__("unknown or revoked credential")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class IngestGate:
    """Per-process state of the ingest edge: a short cache of integrations by credential
    and one token bucket per integration (``ingest.rate_limit_per_minute``)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._cache: dict[str, tuple[iq.Integration | None, float]] = {}
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop cached integrations (after a rotate or revoke in this process)."""
        with self._lock:
            self._cache.clear()

    async def integration(
        self, ctx: AppContext, token: str, *, types: tuple[str, ...] = ()
    ) -> iq.Integration:
        if not token or len(token) > 200:
            raise UnknownCredential
        key, mono = token_hash(token), time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > mono:
            found = cached[0]
        else:
            found = await ctx.db.aread(lambda c: iq.by_token(c, token))
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (found, mono + CACHE_SECONDS)
        if found is None or (types and found.type not in types):
            raise UnknownCredential
        return found

    def give_back(self, integration_id: int) -> None:
        """Return a token :meth:`take` took, for a request handed on to be answered elsewhere."""
        with self._lock:
            bucket = self._buckets.get(integration_id)
            if bucket is not None:
                bucket.tokens = min(float(self.per_minute), bucket.tokens + 1.0)

    def take(self, integration_id: int) -> None:
        """One request from the integration's bucket; RateLimited with Retry-After when empty."""
        capacity, mono = float(self.per_minute), time.monotonic()
        rate = capacity / 60.0
        with self._lock:
            bucket = self._buckets.setdefault(integration_id, _Bucket(capacity, mono))
            bucket.tokens = min(capacity, bucket.tokens + (mono - bucket.updated) * rate)
            bucket.updated = mono
            if bucket.tokens < 1.0:
                raise RateLimited(
                    "rate limit for this integration exceeded",
                    retry_after=int((1.0 - bucket.tokens) / rate) + 1,
                )
            bucket.tokens -= 1.0


def gate_of(ctx: AppContext) -> IngestGate:
    gate = ctx.extras.get("ingest_gate")
    if gate is None:
        gate = ctx.extras["ingest_gate"] = IngestGate(ctx.settings.ingest.rate_limit_per_minute)
    assert isinstance(gate, IngestGate)
    return gate


async def read_body(request: Request[Any, Any, Any]) -> bytes:
    """The request body, decompressed, at most ``ingest.max_body_bytes`` (else 413)."""
    limit = ctx_of(request).settings.ingest.max_body_bytes
    declared = header(request, b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        chunks.append(chunk)
    try:
        return decode_body(b"".join(chunks), header(request, b"content-encoding"), max_bytes=limit)
    except BodyTooLarge:
        raise PayloadTooLarge(f"body larger than {limit} bytes once decompressed") from None


async def read_json(request: Request[Any, Any, Any]) -> tuple[bytes, JSONValue]:
    body = await read_body(request)
    return body, load_json(body)


def header(request: Request[Any, Any, Any], name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), read from the ASGI scope: cheaper on
    the ingest path than building Litestar's case-insensitive multidict for two lookups."""
    raw: Iterable[tuple[bytes, bytes]] = request.scope["headers"]
    for key, value in raw:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def headers_of(request: Request[Any, Any, Any]) -> Mapping[str, str]:
    """Every header, names in lower case; of repeated headers the last value."""
    return scope_headers(request.scope["headers"])


def scope_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """:func:`headers_of` from an ASGI scope's header list."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


def new_request_id() -> str:
    """32 hex digits: the time in nanoseconds, then 64 random bits. Unique like a random id,
    but ``ingest_log``'s UNIQUE index on it grows at its right edge instead of taking each
    insert at a random leaf: about 1 WAL page per request less on a large log."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


async def accept(
    request: Request[Any, Any, Any],
    integration: iq.Integration,
    result: ParseResult,
    body: bytes,
    *,
    action: str = "",
    request_id: str | None = None,
) -> IngestOutcome:
    """Store the parse result and return after the commit (a 2xx promises durability)."""
    return await store_and_announce(
        ctx_of(request),
        header(request, b"content-type") or "",
        integration,
        result,
        body,
        action=action,
        request_id=request_id,
    )


async def store_and_announce(
    ctx: AppContext,
    content_type: str,
    integration: iq.Integration,
    result: ParseResult,
    body: bytes,
    *,
    action: str = "",
    request_id: str | None = None,
) -> IngestOutcome:
    """:func:`accept` without a Litestar request (for :mod:`signalcraft.web.ingest.fast`)."""
    now = ctx.now()
    prepared = prepare(result, integration)
    window = ctx.settings.ingest.group_window_minutes * 60.0

    def store(conn: apsw.Connection) -> IngestOutcome:
        # Compressing and drawing the id here, in the writer thread, keeps the event loop
        # thread from letting go of the GIL (zstd and os.urandom do) and then waiting to
        # get it back from the writer.
        raw = RawBody(content_type, len(body), aq.compress(body)) if body else None
        return apply(
            conn,
            integration,
            prepared,
            result.deploys,
            raw,
            request_id=request_id or new_request_id(),
            now=now,
            window_seconds=window,
            action=action,
        )

    outcome = await ctx.db.awrite(store)
    ctx.metrics.count_ingested(integration.type, len(prepared))
    bus = ctx.extras.get("alert_bus")
    if bus is not None and outcome.event_ids:
        bus.publish(integration.workspace_id, outcome)
    # Routing runs in the router thread (batched), so the sender never waits for it.
    routing.announce(ctx, integration.workspace_id, outcome.event_ids)
    return outcome


async def reject(
    request: Request[Any, Any, Any], integration: iq.Integration, error: PayloadError, *, action: str = ""
) -> None:
    """Keep a line about a refused payload for the integration page (not the payload itself)."""
    ctx = ctx_of(request)
    now = ctx.now()
    message = f"{error.field}: {error.message}" if error.field else error.message
    await ctx.db.awrite(
        lambda c: aq.log_ingest(
            c, new_request_id(), integration.workspace_id, integration.id, now, False, message, 0, action
        )
    )
