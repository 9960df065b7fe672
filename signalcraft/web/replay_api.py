"""The recorder's endpoints: its settings, and one chunk endpoint per session (with CORS).

These routes are public in the guard's sense: a visitor's browser has no SignalCraft
session. They authenticate with the workspace's *public* replay key (it is in the page)
plus the ``Origin`` allow-list, which is what keeps other sites from sending into a
workspace. A request without an allowed ``Origin`` is refused (403), preflight included.

Checks run cheapest first, so a bad request costs no database write and no disk:
enabled (404) -> session id (400) -> key (404) -> origin (403) -> size (413) -> JSON (400)
-> rate limit per key and client address (429, [limits] replay_per_minute_per_ip) -> session
state, quota and disk (409 / 507). Error answers carry the CORS headers when the
origin is allowed, so the recorder can read the status (409: start a new session; 507:
stop recording).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post, route
from litestar.params import FromPath

from signalcraft.db.queries import replays as rq
from signalcraft.errors import PayloadTooLarge
from signalcraft.replay import ids
from signalcraft.replay.chunks import parse_chunk
from signalcraft.replay.errors import OriginNotAllowed, ReplaysDisabled, UnknownRecorderKey
from signalcraft.replay.origins import origin_allowed
from signalcraft.replay.service import accept_chunk
from signalcraft.web.access import OWN_BODY_LIMIT, client_ip
from signalcraft.web.context import ctx_of
from signalcraft.web.ratelimit import public_limits_of
from signalcraft.web.responses import error_response

CHUNKS_PATH = "/replay/{key:str}/sessions/{session_id:str}/chunks"
PREFLIGHT_MAX_AGE = "600"
FLUSH_MS = 5000  # how often the recorder sends what it has


def _cors_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    origin: str = request.scope.get("state", {}).get("replay_origin", "")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {"Vary": "Origin"}


def cors_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The one error mapping, plus CORS headers once the origin is known to be allowed."""
    response = error_response(request, exc)
    response.headers.update(_cors_headers(request))
    return response


_PUBLIC: dict[str, Any] = {
    "opt": {"public": True},
    "include_in_schema": False,
    "exception_handlers": {Exception: cors_error_response},
}


async def _recorder(request: Request[Any, Any, Any], key: str) -> rq.Recorder:
    """The key's recorder settings if replays are on and the Origin is allowed."""
    ctx = ctx_of(request)
    if not ctx.settings.replay.enabled:
        raise ReplaysDisabled
    if not ids.is_public_key(key):
        raise UnknownRecorderKey
    recorder = await ctx.db.aread(lambda c: rq.recorder_by_key(c, key))
    if recorder is None:
        raise UnknownRecorderKey
    origin = request.headers.get("origin", "")
    if not origin_allowed(origin, recorder.allowed_origins):
        raise OriginNotAllowed(origin)
    request.scope.setdefault("state", {})["replay_origin"] = origin
    return recorder


def _take(request: Request[Any, Any, Any], key: str) -> None:
    """One request from the key's bucket for this client address ([limits] replay_per_minute_per_ip).
    After the origin check, so a 429 carries the CORS headers the recorder needs to read it."""
    ctx = ctx_of(request)
    public_limits_of(ctx).take_replay(key, client_ip(request), ctx.now())


async def _read_bounded(request: Request[Any, Any, Any], limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"chunk larger than {limit} bytes ([replay] max_chunk_bytes)", field="body")
    body, size = [], 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise PayloadTooLarge(f"chunk larger than {limit} bytes ([replay] max_chunk_bytes)", field="body")
        body.append(piece)
    return b"".join(body)


@get("/replay/{key:str}/config", **_PUBLIC)
async def recorder_config(request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
    """What the recorder needs before it starts: the sampling rate and the limits."""
    recorder = await _recorder(request, key)
    _take(request, key)
    config = ctx_of(request).settings.replay
    rate = config.sample_rate if recorder.sample_rate is None else recorder.sample_rate
    body = {"sample_rate": rate, "max_chunk_bytes": config.max_chunk_bytes,
            "inactivity_minutes": config.inactivity_minutes, "flush_ms": FLUSH_MS}
    return Response(body, headers={**_cors_headers(request), "Cache-Control": "max-age=60"})


@route(CHUNKS_PATH, http_method=["OPTIONS"], **_PUBLIC)
async def chunk_preflight(request: Request[Any, Any, Any], key: FromPath[str],
                          session_id: FromPath[str]) -> Response[None]:
    """CORS preflight: allowed only for the workspace's origins."""
    ids.check_session_id(session_id)
    await _recorder(request, key)
    headers = {**_cors_headers(request), "Access-Control-Allow-Methods": "POST",
               "Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": PREFLIGHT_MAX_AGE}
    return Response(None, status_code=204, headers=headers)


@post(CHUNKS_PATH, request_max_body_size=None, status_code=202,
      **{**_PUBLIC, "opt": {"public": True, OWN_BODY_LIMIT: True}})  # 413 by _read_bounded, with CORS
async def post_chunk(request: Request[Any, Any, Any], key: FromPath[str],
                     session_id: FromPath[str]) -> Response[Any]:
    """Store one chunk of a session's events; 202 once it is on disk (fsynced)."""
    ctx = ctx_of(request)
    if not ctx.settings.replay.enabled:
        raise ReplaysDisabled
    sid = ids.check_session_id(session_id)
    recorder = await _recorder(request, key)
    _take(request, key)
    chunk = parse_chunk(await _read_bounded(request, ctx.settings.replay.max_chunk_bytes))
    await accept_chunk(ctx, recorder, sid, chunk, request.headers.get("user-agent", ""))
    body = {"accepted": True, "seq": chunk.facts.seq}
    return Response(body, status_code=202, headers=_cors_headers(request))


HANDLERS = [recorder_config, chunk_preflight, post_chunk]
