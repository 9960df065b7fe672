"""Opsgenie Alert API: create (``POST /v2/alerts``) and close/acknowledge by identifier.

https://docs.opsgenie.com/docs/alert-api#create-alert
https://docs.opsgenie.com/docs/alert-api#close-alert

Mapping of a create request:

- ``message`` (required) is the title, cut to 130 characters as Opsgenie does.
- ``alias`` (at most 512 characters, longer is refused) is the dedup key: Opsgenie keeps
  one open alert per alias. Without one, the pipeline fingerprints the alert.
- ``tags`` become one label each, ``tag.<tag>="true"``, so routing rules can match a
  single tag exactly (a comma-joined label could only be matched by substring).
- ``details`` (a string map) become annotations, as do ``user`` and ``note``.
- ``entity`` and ``source`` become labels.
- ``priority`` ``P1``..``P5`` (default ``P3``): P1 critical, P2 error, P3 warning,
  P4/P5 info. Anything else is refused.
- ``responders``, ``visibleTo``, ``actions`` are kept in ``raw`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from signalcraft.ingest.fields import (
    MAX_LABELS,
    JSONObject,
    as_dict,
    check_count,
    clip,
    join,
    opt_list,
    opt_str,
    req_str,
    severity_from,
    str_map,
)
from signalcraft.ingest.model import AlertStatus, JSONValue, ParseResult, PayloadError, RawAlert

MAX_MESSAGE = 130
MAX_ALIAS = 512
MAX_DESCRIPTION = 15000
MAX_NOTE = 25000
MAX_ACTOR = 100  # user and source
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")

Action = Literal["close", "acknowledge"]
IdentifierType = Literal["id", "alias", "tiny"]
# str -> Literal lookups: validation and narrowing in one step.
_ACTIONS: dict[str, Action] = {"close": "close", "acknowledge": "acknowledge"}
_IDENTIFIER_TYPES: dict[str, IdentifierType] = {"id": "id", "alias": "alias", "tiny": "tiny"}


@dataclass(frozen=True, slots=True)
class AlertAction:
    """A close or acknowledge request: the route finds the alert and changes its state."""

    identifier: str
    identifier_type: IdentifierType
    action: Action
    user: str = ""
    source: str = ""
    note: str = ""


def parse_create(payload: JSONValue, headers: Mapping[str, str]) -> ParseResult:
    """Parse a create-alert request into a ParseResult with one firing RawAlert."""
    body = as_dict(payload, "")
    alias = opt_str(body, "alias")
    if len(alias) > MAX_ALIAS:
        raise PayloadError("alias", f"is longer than {MAX_ALIAS} characters")
    priority = opt_str(body, "priority", default="P3")
    if priority not in PRIORITIES:
        raise PayloadError("priority", "must be one of P1, P2, P3, P4, P5")
    alert = RawAlert(
        source="opsgenie",
        title=clip(req_str(body, "message"), MAX_MESSAGE),
        status=AlertStatus.FIRING,
        severity=severity_from(priority),
        description=clip(opt_str(body, "description"), MAX_DESCRIPTION),
        labels=_labels(body),
        annotations=_annotations(body),
        dedup_key=alias or None,
        raw=body,
    )
    return ParseResult(alerts=(alert,))


def _labels(body: JSONObject) -> dict[str, str]:
    tags = opt_list(body, "tags")
    check_count(tags, MAX_LABELS - 2, "tags")
    labels = {clip(f"tag.{_tag(tag, join('tags', i))}"): "true" for i, tag in enumerate(tags)}
    for key in ("entity", "source"):
        if value := opt_str(body, key):
            labels[key] = clip(value)
    return labels


def _tag(value: JSONValue, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(path, "must be a non-blank string")
    return value.strip()


def _annotations(body: JSONObject) -> dict[str, str]:
    notes = str_map(body.get("details"), "details")
    if user := opt_str(body, "user"):
        notes["user"] = clip(user, MAX_ACTOR)
    if note := opt_str(body, "note"):
        notes["note"] = clip(note, MAX_NOTE)
    return notes


def parse_action(
    payload: JSONValue,
    headers: Mapping[str, str],
    action: str,
    identifier: str,
    identifier_type: str,
) -> AlertAction:
    """Parse ``POST /v2/alerts/{identifier}/{action}?identifierType=...``.

    ``payload`` is the optional body ``{user, source, note}`` (null for an empty body).
    The route passes ``identifier_type="id"`` when the query omits it (Opsgenie's default).
    """
    body = {} if payload is None else as_dict(payload, "")
    known_action = _ACTIONS.get(action)
    if known_action is None:
        raise PayloadError("action", "must be close or acknowledge")
    known_type = _IDENTIFIER_TYPES.get(identifier_type)
    if known_type is None:
        raise PayloadError("identifierType", "must be id, alias or tiny")
    if not identifier.strip():
        raise PayloadError("identifier", "is missing or blank")
    return AlertAction(
        identifier=identifier,
        identifier_type=known_type,
        action=known_action,
        user=clip(opt_str(body, "user"), MAX_ACTOR),
        source=clip(opt_str(body, "source"), MAX_ACTOR),
        note=clip(opt_str(body, "note"), MAX_NOTE),
    )
