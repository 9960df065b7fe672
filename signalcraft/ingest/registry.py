"""Every integration type SignalCraft ingests: a plain dict of real imports.

``parse`` is set where one ``parse(payload, headers) -> ParseResult`` covers the
integration; the others need more from the route (a clock, a generated key, a mapping,
raw bytes) and the route calls their module directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from signalcraft.ingest import alertmanager, datadog, grafana
from signalcraft.ingest.model import JSONValue, ParseResult

CredentialKind = Literal["token-in-url", "routing_key", "genie_key", "sentry_dsn"]
Parser = Callable[[JSONValue, Mapping[str, str]], ParseResult]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    display_name: str
    credential: CredentialKind
    parse: Parser | None = None


SOURCES: dict[str, SourceSpec] = {
    # Alertmanager's webhook_configs: POST <url with token>.
    "alertmanager": SourceSpec("Prometheus Alertmanager", "token-in-url", alertmanager.parse_webhook),
    # Prometheus itself, as an Alertmanager: alertmanager.parse_api_v2(..., now=).
    "prometheus": SourceSpec("Prometheus (Alertmanager API v2)", "token-in-url"),
    "grafana": SourceSpec("Grafana alerting", "token-in-url", grafana.parse_webhook),
    # pagerduty.parse_event(..., generated_key=) and pagerduty.parse_change_event.
    "pagerduty": SourceSpec("PagerDuty Events API v2", "routing_key"),
    # opsgenie.parse_create and opsgenie.parse_action.
    "opsgenie": SourceSpec("Opsgenie Alert API", "genie_key"),
    # sentry.parse_envelope (bytes), sentry.parse_store, sentry.parse_integration_webhook.
    "sentry": SourceSpec("Sentry SDK", "sentry_dsn"),
    "datadog": SourceSpec("Datadog webhook", "token-in-url", datadog.parse),
    # generic.parse(..., mapping) with the integration's saved FieldMapping.
    "webhook": SourceSpec("Generic JSON webhook", "token-in-url"),
    # Internal: one per workspace, created by the uptime engine; never offered for creation.
    "uptime": SourceSpec("Uptime monitors", "token-in-url"),
}
