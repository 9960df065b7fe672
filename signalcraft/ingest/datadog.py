"""Datadog webhooks: the payload template SignalCraft ships, and its parser.

https://docs.datadoghq.com/integrations/webhooks/#variables

Datadog has no fixed payload: the user pastes :data:`TEMPLATE` into the webhook
integration and Datadog fills the ``$VARIABLES`` in (JSON-escaped, always as strings
here). Datadog retries only on 5xx, so a bad payload must be a 4xx: only PayloadError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from signalcraft.ingest.fields import (
    MAX_LABELS,
    JSONObject,
    as_dict,
    check_count,
    clip,
    extras,
    opt_str,
    parse_time,
    severity_from,
)
from signalcraft.ingest.model import (
    AlertStatus,
    JSONValue,
    Link,
    ParseResult,
    PayloadError,
    RawAlert,
)

TEMPLATE = """\
{
  "id": "$ID",
  "alert_id": "$ALERT_ID",
  "alert_cycle_key": "$ALERT_CYCLE_KEY",
  "aggregation_key": "$AGGREG_KEY",
  "transition": "$ALERT_TRANSITION",
  "alert_type": "$ALERT_TYPE",
  "alert_status": "$ALERT_STATUS",
  "title": "$ALERT_TITLE",
  "priority": "$ALERT_PRIORITY",
  "scope": "$ALERT_SCOPE",
  "tags": "$TAGS",
  "hostname": "$HOSTNAME",
  "link": "$LINK",
  "message": "$EVENT_MSG",
  "date": "$DATE"
}
"""

_KNOWN = frozenset(
    (
        "id",
        "alert_id",
        "alert_cycle_key",
        "aggregation_key",
        "transition",
        "alert_type",
        "alert_status",
        "title",
        "priority",
        "scope",
        "tags",
        "hostname",
        "link",
        "message",
        "date",
    )
)
# $ALERT_TRANSITION values (lower-cased); anything else, including "Null", is firing.
_RESOLVED_TRANSITIONS = frozenset(("recovered",))
_UNFILLED = re.compile(r"\$[A-Z_]+")
_NOTE_FIELDS = ("id", "alert_id", "transition", "alert_type", "alert_status", "scope")


def parse(payload: JSONValue, headers: Mapping[str, str]) -> ParseResult:
    """Parse a notification sent with :data:`TEMPLATE` (extra fields become annotations).

    - dedup key: ``alert_cycle_key`` (links a trigger to its recovery), else
      ``aggregation_key``, else none (the pipeline fingerprints).
    - status: ``Recovered`` (or alert type ``success``) resolves; Triggered, Re-Triggered,
      Warn, No Data, Renotify... fire.
    - severity: ``priority`` P1..P5 when set, else the alert type (error, warning, info).
    - labels: ``tags`` then ``scope`` (``key:value`` comma lists; a bare tag gets ``""``),
      plus ``host``. ``date`` is epoch milliseconds.
    """
    body = as_dict(payload, "")
    title = _value(body, "title")
    if not title.strip():
        raise PayloadError("title", "is missing or blank")
    labels = _labels(body)
    priority = _value(body, "priority")
    link = _value(body, "link")
    alert = RawAlert(
        source="datadog",
        title=clip(title),
        status=_status(body),
        severity=severity_from(priority or _value(body, "alert_type")),
        description=_value(body, "message"),
        labels=labels,
        annotations=_annotations(body),
        links=(Link(link, "Datadog"),) if link else (),
        occurred_at=parse_time(_value(body, "date") or None, "date"),
        dedup_key=_value(body, "alert_cycle_key") or _value(body, "aggregation_key") or None,
        service=labels.get("service", ""),
        raw=body,
    )
    return ParseResult(alerts=(alert,))


def _value(body: JSONObject, key: str) -> str:
    """A template field; a variable Datadog left unfilled (``"$ALERT_PRIORITY"``) is empty."""
    value = opt_str(body, key).strip()
    return "" if _UNFILLED.fullmatch(value) else value


def _status(body: JSONObject) -> AlertStatus:
    transition = _value(body, "transition").lower()
    if transition in _RESOLVED_TRANSITIONS:
        return AlertStatus.RESOLVED
    if not transition and _value(body, "alert_type").lower() == "success":
        return AlertStatus.RESOLVED
    return AlertStatus.FIRING


def _labels(body: JSONObject) -> dict[str, str]:
    labels = tag_labels(_value(body, "tags")) | tag_labels(_value(body, "scope"))
    if host := _value(body, "hostname"):
        labels["host"] = clip(host)
    check_count(labels, MAX_LABELS, "tags")
    return labels


def tag_labels(text: str) -> dict[str, str]:
    """``"env:prod, role:db,canary"`` -> ``{"env": "prod", "role": "db", "canary": ""}``."""
    labels = {}
    for tag in text.split(","):
        key, _, value = tag.strip().partition(":")
        if key:
            labels[clip(key)] = clip(value)
    return labels


def _annotations(body: JSONObject) -> dict[str, str]:
    notes = {key: clip(v) for key in _NOTE_FIELDS if (v := _value(body, key))}
    return extras(body, _KNOWN) | notes
