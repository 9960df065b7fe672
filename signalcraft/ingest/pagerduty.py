"""PagerDuty Events API v2: alert events (`/v2/enqueue`) and change events (`/v2/change/enqueue`).

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
https://developer.pagerduty.com/docs/events-api-v2/acknowledge-events/
https://developer.pagerduty.com/docs/events-api-v2/send-change-events/

Validation follows PagerDuty's: a ``trigger`` needs ``payload.summary``,
``payload.source`` and ``payload.severity`` (critical|error|warning|info);
``acknowledge``/``resolve`` need ``dedup_key``. Error messages read like PagerDuty's
(``'payload.summary' is missing or blank``) once passed through :func:`pd_errors`.
"""

from __future__ import annotations

from collections.abc import Mapping

from signalcraft.ingest.fields import (
    MAX_LABELS,
    JSONObject,
    as_dict,
    check_count,
    clip,
    join,
    json_text,
    opt_dict,
    opt_list,
    opt_str,
    parse_time,
    req_dict,
    req_str,
)
from signalcraft.ingest.model import (
    AlertStatus,
    DeployEvent,
    JSONValue,
    Link,
    ParseResult,
    PayloadError,
    RawAlert,
    Severity,
)

_ACTIONS = {
    "trigger": AlertStatus.FIRING,
    "acknowledge": AlertStatus.ACKNOWLEDGED,
    "resolve": AlertStatus.RESOLVED,
}
_SEVERITIES = {
    "critical": Severity.CRITICAL,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
}
_LABEL_FIELDS = ("source", "component", "group", "class")
MAX_DEDUP_KEY = 255  # PagerDuty's documented limit
MAX_LINKS = 50


def parse_event(payload: JSONValue, headers: Mapping[str, str], *, generated_key: str) -> ParseResult:
    """Parse one alert event into a ParseResult with exactly one RawAlert.

    A ``trigger`` without ``dedup_key`` gets ``generated_key``: the route makes one up
    and returns it in its 202 answer, as PagerDuty does. ``routing_key`` must be present
    (the route authenticates with it); it stays out of labels and annotations,
    but ``raw`` is the body unchanged, routing_key included.
    """
    body = as_dict(payload, "")
    req_str(body, "routing_key")
    action = _event_action(body)
    dedup_key = _dedup_key(body, action)
    if action is AlertStatus.FIRING:
        return ParseResult(alerts=(_trigger(body, dedup_key or generated_key),))
    return ParseResult(alerts=(_follow_up(body, action, dedup_key),))


def _event_action(body: JSONObject) -> AlertStatus:
    action = req_str(body, "event_action")
    if action not in _ACTIONS:
        raise PayloadError("event_action", "is invalid (must be trigger, acknowledge or resolve)")
    return _ACTIONS[action]


def _dedup_key(body: JSONObject, action: AlertStatus) -> str:
    key = opt_str(body, "dedup_key")
    if action is not AlertStatus.FIRING and not key.strip():
        raise PayloadError("dedup_key", "is missing or blank")
    if len(key) > MAX_DEDUP_KEY:
        raise PayloadError("dedup_key", f"is too long (at most {MAX_DEDUP_KEY} characters)")
    return key


def _trigger(body: JSONObject, dedup_key: str) -> RawAlert:
    event = req_dict(body, "payload")
    summary = req_str(event, "summary", "payload")
    req_str(event, "source", "payload")
    severity_text = req_str(event, "severity", "payload")
    if severity_text not in _SEVERITIES:
        raise PayloadError("payload.severity", "is invalid (must be critical, error, warning or info)")
    return RawAlert(
        source="pagerduty",
        title=clip(summary),
        status=AlertStatus.FIRING,
        severity=_SEVERITIES[severity_text],
        labels=_labels(event),
        annotations=custom_details_notes(event.get("custom_details")),
        links=_links(body),
        occurred_at=parse_time(event.get("timestamp"), "payload.timestamp"),
        dedup_key=dedup_key,
        raw=body,
    )


def _follow_up(body: JSONObject, status: AlertStatus, dedup_key: str) -> RawAlert:
    """An acknowledge/resolve: only ``dedup_key`` matters; PagerDuty ignores ``payload``.

    The title is the key itself; the pipeline keeps the open alert's title.
    """
    event = opt_dict(body, "payload")
    return RawAlert(
        source="pagerduty",
        title=clip(opt_str(event, "summary", "payload") or dedup_key),
        status=status,
        severity=_SEVERITIES.get(opt_str(event, "severity", "payload"), Severity.INFO),
        dedup_key=dedup_key,
        raw=body,
    )


def _labels(event: JSONObject) -> dict[str, str]:
    return {k: clip(v) for k in _LABEL_FIELDS if (v := opt_str(event, k, "payload"))}


def custom_details_notes(details: JSONValue) -> dict[str, str]:
    """``custom_details`` as annotations: an object's values JSON-encoded unless strings;
    a bare string (PagerDuty accepts one) under ``details``."""
    if details is None or details == "":
        return {}
    if not isinstance(details, dict):
        return {"details": json_text(details)}
    check_count(details, MAX_LABELS, "payload.custom_details")
    return {clip(k): json_text(v) for k, v in details.items()}


def _links(body: JSONObject) -> tuple[Link, ...]:
    links = opt_list(body, "links")
    images = opt_list(body, "images")
    check_count(links + images, MAX_LINKS, "links")
    found = [_link(item, join("links", i), "href", "text") for i, item in enumerate(links)]
    found += [_link(item, join("images", i), "href", "alt", "src") for i, item in enumerate(images)]
    client_url = opt_str(body, "client_url")
    if client_url:
        found.append(Link(client_url, opt_str(body, "client")))
    return tuple(link for link in found if link.url)


def _link(item: JSONValue, path: str, url_key: str, text_key: str, alt_url: str = "") -> Link:
    obj = as_dict(item, path)
    url = opt_str(obj, url_key, path) or (opt_str(obj, alt_url, path) if alt_url else "")
    return Link(url, clip(opt_str(obj, text_key, path)))


def parse_change_event(payload: JSONValue, headers: Mapping[str, str]) -> ParseResult:
    """Parse a change event into a ParseResult holding one DeployEvent.

    ``payload.summary`` is required; ``payload.source`` becomes the component.
    """
    body = as_dict(payload, "")
    req_str(body, "routing_key")
    event = req_dict(body, "payload")
    deploy = DeployEvent(
        source="pagerduty",
        summary=clip(req_str(event, "summary", "payload")),
        occurred_at=parse_time(event.get("timestamp"), "payload.timestamp"),
        component=clip(opt_str(event, "source", "payload")),
        custom_details=opt_dict(event, "custom_details", "payload"),
        links=tuple(
            link
            for i, item in enumerate(opt_list(body, "links"))
            if (link := _link(item, join("links", i), "href", "text")).url
        ),
        raw=body,
    )
    return ParseResult(deploys=(deploy,))


def pd_errors(error: PayloadError) -> list[str]:
    """The ``errors`` list of PagerDuty's 400 answer for ``error``.

    PagerDuty answers ``{"status": "invalid event", "message": "Event object is
    invalid", "errors": ["'payload.summary' is missing or blank"]}``.
    """
    if not error.field:
        return [error.message]
    return [f"'{error.field}' {error.message}"]


PD_INVALID_MESSAGE = "Event object is invalid"
