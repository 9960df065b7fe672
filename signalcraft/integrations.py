"""Integrations as users see them: create, rotate, revoke, settings, and what to paste where.

The credential (URL token, routing key, GenieKey, Sentry DSN key) is 32 hex characters,
shown once at creation and at rotation, and stored only as a SHA-256 hash.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import apsw

from signalcraft.db.queries import audit
from signalcraft.db.queries import integrations as iq
from signalcraft.errors import InvalidInput
from signalcraft.ingest import generic
from signalcraft.ingest.registry import SOURCES

MAX_SETTING_NAMES = 32
_SETTING_KEYS = {"group_by", "fingerprint_fields", "mapping", "client_secret"}


def new_credential() -> str:
    return secrets.token_hex(16)


def mapping_from_settings(raw: dict[str, Any]) -> generic.FieldMapping:
    """A generic webhook's field mapping from its saved JSON; InvalidInput naming the field."""
    allowed = {
        "title",
        "severity",
        "dedup_key",
        "status",
        "description",
        "labels",
        "alerts",
        "resolved_values",
        "acknowledged_values",
    }
    unknown = set(raw) - allowed
    if unknown:
        raise InvalidInput(f"unknown keys: {', '.join(sorted(unknown))}", field="settings.mapping")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key.endswith("_values"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput("must be a list of strings", field=f"settings.mapping.{key}")
            values[key] = tuple(v.lower() for v in value)
        elif value is not None and not isinstance(value, str):
            raise InvalidInput("must be a path string", field=f"settings.mapping.{key}")
        else:
            values[key] = value
    if not values.get("title"):
        raise InvalidInput("is required: the path of the alert's title", field="settings.mapping.title")
    mapping = generic.FieldMapping(**values)
    try:
        mapping.validate()
    except ValueError as exc:
        raise InvalidInput(str(exc), field="settings.mapping") from None
    return mapping


def _names(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value):
        raise InvalidInput("must be a list of label names", field=field)
    if len(value) > MAX_SETTING_NAMES:
        raise InvalidInput(f"at most {MAX_SETTING_NAMES} names", field=field)
    return list(value)


def check_settings(type_: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Validate an integration's settings at save time (never at 3 a.m. when an alert arrives)."""
    unknown = set(settings) - _SETTING_KEYS
    if unknown:
        raise InvalidInput(f"unknown keys: {', '.join(sorted(unknown))}", field="settings")
    clean: dict[str, Any] = {}
    for key in ("group_by", "fingerprint_fields"):
        if settings.get(key):
            clean[key] = _names(settings[key], f"settings.{key}")
    if "mapping" in settings:
        if type_ != "webhook":
            raise InvalidInput(
                "only generic webhook integrations have a field mapping", field="settings.mapping"
            )
        if not isinstance(settings["mapping"], dict):
            raise InvalidInput("must be an object", field="settings.mapping")
        mapping_from_settings(settings["mapping"])
        clean["mapping"] = settings["mapping"]
    if "client_secret" in settings:
        if type_ != "sentry" or not isinstance(settings["client_secret"], str):
            raise InvalidInput(
                "a client secret string, for Sentry integrations", field="settings.client_secret"
            )
        clean["client_secret"] = settings["client_secret"]
    if type_ == "webhook" and "mapping" not in clean:
        raise InvalidInput(
            "a generic webhook needs a field mapping (at least the title's path)", field="settings.mapping"
        )
    return clean


INTERNAL_TYPES = frozenset({"uptime"})  # made by SignalCraft itself, never by users
USER_TYPES = tuple(t for t in SOURCES if t not in INTERNAL_TYPES)


def check_type(type_: str) -> str:
    if type_ not in USER_TYPES:
        raise InvalidInput(f"choose one of: {', '.join(USER_TYPES)}", field="type")
    return type_


@dataclass(frozen=True, slots=True)
class Credential:
    """What a monitoring tool needs, shown once."""

    ingest_url: str
    credential_name: str
    credential: str

    def as_dict(self) -> dict[str, str]:
        return {"ingest_url": self.ingest_url, self.credential_name: self.credential}


def credential_for(integration: iq.Integration, token: str, base_url: str) -> Credential:
    kind = integration.type
    if kind == "pagerduty":
        return Credential(f"{base_url}/v2/enqueue", "routing_key", token)
    if kind == "opsgenie":
        return Credential(f"{base_url}/", "genie_key", token)
    if kind == "sentry":
        parts = urlsplit(base_url)
        return Credential(
            f"{base_url}/api/{integration.id}/envelope/",
            "dsn",
            f"{parts.scheme}://{token}@{parts.netloc}{parts.path}/{integration.id}",
        )
    if kind == "prometheus":
        return Credential(f"{base_url}/ingest/{token}/api/v2/alerts", "token", token)
    return Credential(f"{base_url}/ingest/{token}", "token", token)


@dataclass(frozen=True, slots=True)
class Created:
    integration: iq.Integration
    token: str


def create(
    conn: apsw.Connection,
    workspace_id: int,
    type_: str,
    name: str,
    settings: dict[str, Any],
    actor: audit.Actor,
    now: float,
) -> Created:
    type_ = check_type(type_)
    clean = check_settings(type_, settings)
    token = new_credential()
    integration = iq.create(conn, workspace_id, type_, name, token, clean, now)
    audit.record(
        conn,
        actor,
        "integration.create",
        now,
        workspace_id=workspace_id,
        target=str(integration.id),
        detail={"after": {"type": type_, "name": integration.name, "settings": _masked(clean)}},
    )
    return Created(integration, token)


def rotate(
    conn: apsw.Connection, workspace_id: int, integration_id: int, actor: audit.Actor, now: float
) -> Created:
    token = new_credential()
    integration = iq.rotate(conn, workspace_id, integration_id, token, now)
    audit.record(
        conn, actor, "integration.rotate", now, workspace_id=workspace_id, target=str(integration_id)
    )
    return Created(integration, token)


def revoke(
    conn: apsw.Connection, workspace_id: int, integration_id: int, actor: audit.Actor, now: float
) -> iq.Integration:
    integration = iq.revoke(conn, workspace_id, integration_id, now)
    audit.record(
        conn, actor, "integration.revoke", now, workspace_id=workspace_id, target=str(integration_id)
    )
    return integration


def update(
    conn: apsw.Connection,
    workspace_id: int,
    integration_id: int,
    name: str | None,
    settings: dict[str, Any] | None,
    actor: audit.Actor,
    now: float,
) -> iq.Integration:
    before = iq.get(conn, workspace_id, integration_id)
    if name is not None:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("give the integration a name of 1 to 100 characters", field="name")
        conn.execute("UPDATE integrations SET name = ? WHERE id = ?", (name, integration_id))
    if settings is not None:
        iq.update_settings(conn, workspace_id, integration_id, check_settings(before.type, settings))
    after = iq.get(conn, workspace_id, integration_id)
    audit.record(
        conn,
        actor,
        "integration.update",
        now,
        workspace_id=workspace_id,
        target=str(integration_id),
        detail={
            "before": {"name": before.name, "settings": _masked(before.settings)},
            "after": {"name": after.name, "settings": _masked(after.settings)},
        },
    )
    return after


def _masked(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: ("********" if k == "client_secret" else v) for k, v in settings.items()}


def public_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API and UI show them: secrets masked."""
    return _masked(settings)
