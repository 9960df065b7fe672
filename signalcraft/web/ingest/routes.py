"""Ingest routes, one per wire format in WIRE-FORMATS.md, answering as the original does.

- ``POST /ingest/{token}``: Alertmanager webhook, Grafana, Datadog, generic webhook, Sentry
  integration webhooks (by the integration's type).
- ``POST /ingest/{token}/api/v2/alerts`` and ``POST /api/v2/alerts`` (bearer token):
  Alertmanager API v2, so Prometheus can point at SignalCraft.
- ``POST /v2/enqueue``, ``POST /v2/change/enqueue``: PagerDuty Events API v2.
- ``POST /v2/alerts``, ``POST /v2/alerts/{identifier}/close|acknowledge``,
  ``GET /v2/alerts/requests/{id}``, ``GET|POST /v2/heartbeats/{name}/ping``: Opsgenie.
- ``POST /api/{project_id}/envelope/`` and ``/store/``: the Sentry SDK.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from litestar import MediaType, Request, Response, get, post, route
from litestar.params import FromPath, FromQuery
from litestar.response.base import ASGIResponse

from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import integrations as iq
from signalcraft.errors import NotAuthenticated, PayloadTooLarge, RateLimited, SignalCraftError
from signalcraft.ingest import alertmanager, datadog, generic, grafana, opsgenie, pagerduty, sentry
from signalcraft.ingest.jsonload import load_json
from signalcraft.ingest.model import AlertStatus, ParseResult, PayloadError, RawAlert, Severity
from signalcraft.ingest.normalize import rfc3339
from signalcraft.integrations import mapping_from_settings
from signalcraft.uptime.sentry import store_check_ins
from signalcraft.web.context import ctx_of
from signalcraft.web.responses import error_response
from signalcraft.web.ingest.common import (
    INGEST,
    UnknownCredential,
    accept,
    gate_of,
    headers_of,
    new_request_id,
    read_body,
    read_json,
    reject,
)

NO_LIMIT: dict[str, Any] = {"request_max_body_size": None, "opt": INGEST, "include_in_schema": False}


def _utc(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


# --- token in the URL: Alertmanager, Grafana, Datadog, webhook, Sentry hooks ----------------

def _parse_by_type(integration: iq.Integration, payload: Any, headers: dict[str, str], body: bytes, now: float
                   ) -> ParseResult:
    kind = integration.type
    if kind == "alertmanager":
        return alertmanager.parse_webhook(payload, headers)
    if kind == "grafana":
        return grafana.parse_webhook(payload, headers)
    if kind == "datadog":
        return datadog.parse(payload, headers)
    if kind == "prometheus":
        return alertmanager.parse_api_v2(payload, headers, now=_utc(now))
    if kind == "webhook":
        mapping = integration.settings.get("mapping")
        if not isinstance(mapping, dict):
            raise PayloadError(
                "", "this webhook integration has no field mapping yet; set one in SignalCraft"
            )
        return generic.parse(payload, headers, mapping_from_settings(mapping))
    if kind == "sentry":
        secret = str(integration.settings.get("client_secret", ""))
        signature = headers.get("sentry-hook-signature", "")
        if not secret or not sentry.verify_hook_signature(body, signature, secret):
            raise NotAuthenticated("Sentry-Hook-Signature does not match the client secret")
        return sentry.parse_integration_webhook(payload, headers)
    raise UnknownCredential


@post("/ingest/{token:str}", **NO_LIMIT)
async def ingest_by_token(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    """Alertmanager webhook v4, Grafana, Datadog, generic webhook and Sentry integration hooks."""
    ctx = ctx_of(request)
    gate = gate_of(ctx)
    integration = await gate.integration(ctx, token, types=(
        "alertmanager", "grafana", "datadog", "webhook", "sentry", "prometheus"))
    gate.take(integration.id)
    try:
        body, payload = await read_json(request)
        result = _parse_by_type(integration, payload, dict(headers_of(request)), body, ctx.now())
    except PayloadError as exc:
        await reject(request, integration, exc)
        raise
    outcome = await accept(request, integration, result, body)
    return Response({"status": "success", "alerts": outcome.accepted_alerts, "ignored": outcome.ignored},
                    status_code=200)


# --- Alertmanager API v2 (Prometheus as a client) ---------------------------------------

# What ``Response(None)`` renders (200, ``null``, application/json), built once: Prometheus
# posts here every evaluation interval. Sharing it is safe: an ASGIResponse only reads its
# fields when sent (each send gets a fresh header list) and Litestar passes a returned
# ASGI app through untouched.
API_V2_OK = ASGIResponse(body=b"null", status_code=200, media_type=MediaType.JSON)


async def _api_v2(request: Request[Any, Any, Any], token: str) -> ASGIResponse:
    ctx = ctx_of(request)
    gate = gate_of(ctx)
    integration = await gate.integration(ctx, token, types=("prometheus", "alertmanager"))
    gate.take(integration.id)
    try:
        body = await read_body(request)
        result = alertmanager.parse_api_v2_body(body, headers_of(request), now=_utc(ctx.now()))
    except PayloadError as exc:
        await reject(request, integration, exc)
        raise
    await accept(request, integration, result, body)
    return API_V2_OK


@post("/ingest/{token:str}/api/v2/alerts", **NO_LIMIT)
async def api_v2_alerts_prefixed(request: Request[Any, Any, Any], token: FromPath[str]) -> ASGIResponse:
    """For Prometheus ``alertmanagers: [{path_prefix: /ingest/<token>, static_configs: ...}]``."""
    return await _api_v2(request, token)


@post("/api/v2/alerts", **NO_LIMIT)
async def api_v2_alerts(request: Request[Any, Any, Any]) -> ASGIResponse:
    """For Prometheus with ``authorization: {credentials: <token>}``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise UnknownCredential
    return await _api_v2(request, value.strip())


# --- PagerDuty Events API v2 -------------------------------------------------------------

def _pd_invalid(errors: list[str], status: int = 400) -> Response[Any]:
    return Response({"status": "invalid event", "message": pagerduty.PD_INVALID_MESSAGE, "errors": errors},
                    status_code=status)


async def _pd(request: Request[Any, Any, Any], *, change: bool) -> Response[Any]:
    ctx = ctx_of(request)
    gate = gate_of(ctx)
    try:
        body, payload = await read_json(request)
    except PayloadError as exc:
        return _pd_invalid(pagerduty.pd_errors(exc))
    routing_key = payload.get("routing_key") if isinstance(payload, dict) else None
    if not isinstance(routing_key, str) or not routing_key:
        return _pd_invalid(["'routing_key' is missing or blank"])
    try:
        integration = await gate.integration(ctx, routing_key, types=("pagerduty",))
    except UnknownCredential:
        return _pd_invalid(["Invalid routing key"], status=401)
    gate.take(integration.id)
    try:
        if change:
            result = pagerduty.parse_change_event(payload, headers_of(request))
        else:
            result = pagerduty.parse_event(payload, headers_of(request), generated_key=uuid.uuid4().hex)
    except PayloadError as exc:
        await reject(request, integration, exc)
        return _pd_invalid(pagerduty.pd_errors(exc))
    await accept(request, integration, result, redact(body, routing_key, b"[routing_key]"))
    reply: dict[str, Any] = {"status": "success", "message": "Event processed"}
    if not change:
        reply["dedup_key"] = result.alerts[0].dedup_key
    return Response(reply, status_code=202)


def redact(body: bytes, credential: str, placeholder: bytes) -> bytes:
    """The stored raw payload must not hold the integration's credential."""
    return body.replace(credential.encode(), placeholder) if credential else body


@post("/v2/enqueue", **NO_LIMIT)
async def pagerduty_enqueue(request: Request[Any, Any, Any]) -> Response[Any]:
    """PagerDuty Events API v2: trigger, acknowledge, resolve."""
    return await _pd(request, change=False)


@post("/v2/change/enqueue", **NO_LIMIT)
async def pagerduty_change(request: Request[Any, Any, Any]) -> Response[Any]:
    """PagerDuty change events: stored as deploy events shown next to alerts."""
    return await _pd(request, change=True)


# --- Opsgenie Alert API ------------------------------------------------------------------

def _genie_key(request: Request[Any, Any, Any]) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "geniekey" and value.strip():
        return value.strip()
    return request.query_params.get("apiKey", "")


def _og_reply(request_id: str, started: float, status: int = 202) -> Response[Any]:
    return Response({"result": "Request will be processed", "took": round(time.perf_counter() - started, 3),
                     "requestId": request_id}, status_code=status)


def _og_error(message: str, started: float, status: int) -> Response[Any]:
    return Response({"message": message, "took": round(time.perf_counter() - started, 3),
                     "requestId": str(uuid.uuid4())}, status_code=status)


def _og_refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Opsgenie routes answer a refused credential, a body over the limit and the rate limit
    in Opsgenie's own error shape, as its clients expect; anything else as every route does."""
    if not isinstance(exc, SignalCraftError) or exc.status >= 500:
        return error_response(request, exc)
    message = "Could not authenticate" if isinstance(exc, NotAuthenticated) else exc.message
    response = _og_error(message, time.perf_counter(), exc.status)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


OPSGENIE: dict[str, Any] = {**NO_LIMIT, "exception_handlers": {Exception: _og_refused}}


async def _og_integration(request: Request[Any, Any, Any]) -> iq.Integration:
    ctx = ctx_of(request)
    gate = gate_of(ctx)
    integration = await gate.integration(ctx, _genie_key(request), types=("opsgenie",))
    gate.take(integration.id)
    return integration


@post("/v2/alerts", **OPSGENIE)
async def opsgenie_create(request: Request[Any, Any, Any]) -> Response[Any]:
    """Opsgenie create alert: one open alert per ``alias``."""
    started = time.perf_counter()
    integration = await _og_integration(request)
    try:
        body, payload = await read_json(request)
        result = opsgenie.parse_create(payload, headers_of(request))
    except PayloadError as exc:
        await reject(request, integration, exc, action="Create")
        return _og_error(f"{exc.field}: {exc.message}" if exc.field else exc.message, started, 400)
    request_id = str(uuid.uuid4())
    await accept(request, integration, result, body, action="Create", request_id=request_id)
    return _og_reply(request_id, started)


@post("/v2/alerts/{identifier:str}/{action:str}", **OPSGENIE)
async def opsgenie_action(request: Request[Any, Any, Any], identifier: FromPath[str], action: FromPath[str],
                          identifier_type: FromQuery[str] = "id") -> Response[Any]:
    """Opsgenie close / acknowledge by ``identifierType`` alias, id or tiny."""
    started = time.perf_counter()
    integration = await _og_integration(request)
    ctx = ctx_of(request)
    identifier_type = request.query_params.get("identifierType", identifier_type)
    try:
        body = await read_body(request)
        payload = load_json(body) if body.strip() else None
        parsed = opsgenie.parse_action(payload, headers_of(request), action, identifier, identifier_type)
    except PayloadError as exc:
        await reject(request, integration, exc, action=action.capitalize()[:20])
        return _og_error(f"{exc.field}: {exc.message}" if exc.field else exc.message, started, 400)
    fingerprint = identifier if parsed.identifier_type == "alias" else await _fingerprint_by_id(
        ctx, integration, parsed.identifier)
    status = AlertStatus.RESOLVED if parsed.action == "close" else AlertStatus.ACKNOWLEDGED
    event = RawAlert(source="opsgenie", title=fingerprint or identifier, status=status,
                     severity=Severity.INFO, dedup_key=fingerprint or f"missing:{identifier}",
                     annotations={k: v for k, v in (("user", parsed.user), ("note", parsed.note)) if v})
    request_id = str(uuid.uuid4())
    await accept(request, integration, ParseResult(alerts=(event,)), body, action=parsed.action.capitalize(),
                 request_id=request_id)
    return _og_reply(request_id, started)


async def _fingerprint_by_id(ctx: Any, integration: iq.Integration, identifier: str) -> str | None:
    if not identifier.isdigit():
        return None
    found = await ctx.db.aread(lambda c: aq.alert_fingerprint(c, integration.id, int(identifier)))
    return str(found) if found else None


@get("/v2/alerts/requests/{request_id:str}", **OPSGENIE)
async def opsgenie_request_status(
    request: Request[Any, Any, Any], request_id: FromPath[str]
) -> Response[Any]:
    """What became of an earlier request (Opsgenie processes asynchronously; we do not, so
    a request that answered 202 is already done)."""
    started = time.perf_counter()
    integration = await _og_integration(request)
    ctx = ctx_of(request)
    found = await ctx.db.aread(lambda c: aq.ingest_request(c, integration.workspace_id, request_id[:64]))
    if found is None or found.integration_id != integration.id:
        return _og_error("Request not found. It might not be processed, yet.", started, 404)
    data = {"success": found.accepted, "action": found.action or "Create",
            "processedAt": rfc3339(_utc(found.received_at)), "integrationId": str(integration.id),
            "isSuccess": found.accepted, "status": found.message,
            "alertId": str(found.alert_id) if found.alert_id else "", "alias": ""}
    return Response({"data": data, "took": round(time.perf_counter() - started, 3), "requestId": request_id},
                    status_code=200)


@route("/v2/heartbeats/{name:str}/ping", http_method=["GET", "POST", "PUT"], **OPSGENIE)
async def opsgenie_heartbeat(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[Any]:
    """Opsgenie heartbeat ping: records the time of the last ping per name."""
    started = time.perf_counter()
    integration = await _og_integration(request)
    ctx = ctx_of(request)
    name = name.strip()[:200]
    if not name:
        return _og_error("name: is missing or blank", started, 400)
    try:
        await read_body(request)  # bounded like every ingest body, then ignored (Opsgenie sends none)
    except PayloadError as exc:
        return _og_error(f"{exc.field}: {exc.message}" if exc.field else exc.message, started, 400)
    now = ctx.now()
    await ctx.db.awrite(lambda c: aq.record_heartbeat(c, integration.workspace_id, integration.id, name, now))
    return _og_reply(new_request_id(), started)


# --- Sentry SDK ------------------------------------------------------------------------

def _sentry_error(message: str, status: int) -> Response[Any]:
    return Response({"detail": message}, status_code=status)


async def _sentry(request: Request[Any, Any, Any], project_id: int, *, envelope: bool) -> Response[Any]:
    ctx = ctx_of(request)
    gate = gate_of(ctx)
    try:
        key = sentry.parse_auth(headers_of(request), dict(request.query_params))
        integration = await gate.integration(ctx, key, types=("sentry",))
    except (PayloadError, UnknownCredential):
        return _sentry_error("invalid api key", 401)
    if integration.id != project_id:
        return _sentry_error("invalid project for this key", 401)
    try:
        gate.take(integration.id)
    except RateLimited as exc:
        return Response({"detail": "event rejected due to rate limit"}, status_code=429,
                        headers={"Retry-After": str(exc.retry_after),
                                 "X-Sentry-Rate-Limits": f"{exc.retry_after}::organization"})
    try:
        body = await read_body(request)
        if envelope:
            header, result = sentry.parse_envelope(body, headers_of(request))
            event_id = header.event_id
        else:
            payload = load_json(body)
            result = sentry.parse_store(payload, headers_of(request))
            event_id = str(payload.get("event_id", "")) if isinstance(payload, dict) else ""
    except PayloadTooLarge:
        raise
    except PayloadError as exc:
        await reject(request, integration, exc)
        return _sentry_error(f"{exc.field}: {exc.message}" if exc.field else exc.message, 400)
    # The envelope header repeats the DSN (and trace.public_key): keep the key out of storage.
    await accept(request, integration, result, redact(body, key, b"[sentry_key]") if result.alerts else b"")
    if result.check_ins:
        await store_check_ins(ctx, integration, result.check_ins)
    return Response({"id": event_id or uuid.uuid4().hex}, status_code=200)


@post("/api/{project_id:int}/envelope", **NO_LIMIT)
async def sentry_envelope(request: Request[Any, Any, Any], project_id: FromPath[int]) -> Response[Any]:
    """``sentry_sdk.init(dsn="http://<key>@<host>/<project_id>")`` sends envelopes here."""
    return await _sentry(request, project_id, envelope=True)


@post("/api/{project_id:int}/store", **NO_LIMIT)
async def sentry_store(request: Request[Any, Any, Any], project_id: FromPath[int]) -> Response[Any]:
    """The legacy store endpoint (one JSON event)."""
    return await _sentry(request, project_id, envelope=False)


HANDLERS = [ingest_by_token, api_v2_alerts_prefixed, api_v2_alerts, pagerduty_enqueue, pagerduty_change,
            opsgenie_create, opsgenie_action, opsgenie_request_status, opsgenie_heartbeat, sentry_envelope,
            sentry_store]
