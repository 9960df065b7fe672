"""What to paste into each monitoring tool so that it sends to SignalCraft: pure text builders.

One function per snippet; :data:`SNIPPETS` says which ones an integration type shows, in
order. The integration page only lays them out. Every value is quoted for the language the
snippet claims (JSON strings are valid YAML and Python string literals; shell words are
single-quoted), and ``tests/test_snippets.py`` parses each snippet as that language.

Upstream contracts the snippets follow:
- Alertmanager receivers (webhook_configs, pagerduty_configs ``url``, opsgenie_configs
  ``api_url``): https://prometheus.io/docs/alerting/latest/configuration/
- Prometheus ``alerting.alertmanagers`` (``path_prefix``, ``authorization``):
  https://prometheus.io/docs/prometheus/latest/configuration/configuration/#alertmanager_config
- Grafana contact point provisioning:
  https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/file-provisioning/
- Sentry DSN: https://docs.sentry.io/concepts/key-terms/dsn-explainer/
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from signalcraft.db.queries.integrations import Integration
from signalcraft.ingest import datadog, generic
from signalcraft.integrations import credential_for, mapping_from_settings

URL_LABELS = {
    "prometheus": "Alertmanager API URL",
    "pagerduty": "Events API v2 URL",
    "opsgenie": "API URL (api_url)",
    "sentry": "Envelope endpoint",
}
CREDENTIAL_LABELS = {
    "token": "Token",
    "routing_key": "Routing key",
    "genie_key": "API key (GenieKey)",
    "dsn": "DSN",
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a tool sends to, and with which credential."""

    type: str
    base_url: str  # this instance's public URL, without a trailing slash
    ingest_url: str
    credential_name: str  # token, routing_key, genie_key, dsn
    credential: str  # as the tool wants it (for Sentry, the whole DSN)
    token: str  # the raw credential
    mapping: generic.FieldMapping | None = None

    @property
    def credential_label(self) -> str:
        return CREDENTIAL_LABELS.get(self.credential_name, self.credential_name)

    @property
    def url_label(self) -> str:
        return url_label(self.type)


def url_label(type_: str) -> str:
    """What the tool calls the URL it sends to."""
    return URL_LABELS.get(type_, "Webhook URL")


@dataclass(frozen=True, slots=True)
class Snippet:
    key: str  # unique on a page: element ids derive from it
    title: str
    language: str  # yaml, json, python, javascript, shell, text
    text: str
    where: str  # where it goes, in one sentence


def target_for(integration: Integration, token: str, base_url: str) -> Target:
    cred = credential_for(integration, token, base_url)
    raw_mapping = integration.settings.get("mapping")
    mapping = mapping_from_settings(raw_mapping) if isinstance(raw_mapping, dict) else None
    return Target(
        integration.type,
        base_url.rstrip("/"),
        cred.ingest_url,
        cred.credential_name,
        cred.credential,
        token,
        mapping,
    )


def _q(value: str) -> str:
    """A double-quoted string that YAML, JSON, Python and JavaScript all read back as ``value``."""
    return json.dumps(value)


def _sh(word: str) -> str:
    """One single-quoted shell word."""
    return "'" + word.replace("'", "'\\''") + "'"


def _host_port(url: str) -> tuple[str, str, str]:
    """(scheme, host:port, path) of ``url``; the port is explicit (Prometheus targets want one)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    return parts.scheme or "http", f"{host}:{port}", parts.path.rstrip("/")


# --- Alertmanager receivers ---------------------------------------------------------------

_AM_WHERE = (
    "alertmanager.yml: add the receiver and point a route at it "
    "(this minimal file sends everything to SignalCraft)."
)


def _alertmanager(config_key: str, fields: list[tuple[str, str]]) -> str:
    lines = ["route:", "  receiver: signalcraft", "receivers:", "  - name: signalcraft", f"    {config_key}:"]
    for i, (name, value) in enumerate(fields):
        lines.append(f"      {'- ' if i == 0 else '  '}{name}: {value}")
    lines.append("        send_resolved: true")
    return "\n".join(lines) + "\n"


def alertmanager_webhook(t: Target) -> Snippet:
    text = _alertmanager("webhook_configs", [("url", _q(t.ingest_url))])
    return Snippet("alertmanager", "Alertmanager webhook receiver", "yaml", text, _AM_WHERE)


def alertmanager_pagerduty(t: Target) -> Snippet:
    text = _alertmanager("pagerduty_configs", [("routing_key", _q(t.credential)), ("url", _q(t.ingest_url))])
    return Snippet(
        "alertmanager-pagerduty",
        "Alertmanager pagerduty_configs",
        "yaml",
        text,
        "alertmanager.yml: keep your PagerDuty receiver, set its url and routing_key to these.",
    )


def alertmanager_opsgenie(t: Target) -> Snippet:
    text = _alertmanager("opsgenie_configs", [("api_key", _q(t.credential)), ("api_url", _q(t.ingest_url))])
    return Snippet(
        "alertmanager-opsgenie",
        "Alertmanager opsgenie_configs",
        "yaml",
        text,
        "alertmanager.yml: keep your Opsgenie receiver, set its api_url and api_key to these.",
    )


# --- Prometheus as an Alertmanager client ------------------------------------------------


def _prometheus(scheme: str, target: str, extra: list[str]) -> str:
    lines = [
        "alerting:",
        "  alertmanagers:",
        f"    - scheme: {scheme}",
        "      api_version: v2",
        *(f"      {line}" for line in extra),
        "      static_configs:",
        f"        - targets: [{_q(target)}]",
    ]
    return "\n".join(lines) + "\n"


def prometheus_path_prefix(t: Target) -> Snippet:
    scheme, target, _ = _host_port(t.ingest_url)
    prefix = urlsplit(t.ingest_url).path.removesuffix("/api/v2/alerts")
    text = _prometheus(scheme, target, [f"path_prefix: {_q(prefix)}"])
    return Snippet(
        "prometheus",
        "Prometheus alerting (token in the path)",
        "yaml",
        text,
        "prometheus.yml: Prometheus posts to <target><path_prefix>/api/v2/alerts.",
    )


def prometheus_bearer(t: Target) -> Snippet:
    scheme, target, base_path = _host_port(t.base_url)
    extra = [f"path_prefix: {_q(base_path)}"] if base_path else []
    extra += ["authorization:", "  type: Bearer", f"  credentials: {_q(t.token)}"]
    text = _prometheus(scheme, target, extra)
    return Snippet(
        "prometheus-bearer",
        "Prometheus alerting (bearer token)",
        "yaml",
        text,
        "prometheus.yml: the same, with the token in an Authorization header instead of the path.",
    )


# --- Grafana -------------------------------------------------------------------------------


def grafana_contact_point(t: Target) -> Snippet:
    text = f"Integration: Webhook\nURL: {t.ingest_url}\nHTTP method: POST\n"
    return Snippet(
        "grafana",
        "Grafana contact point",
        "text",
        text,
        "Grafana → Alerting → Contact points → Add; then use it in a notification policy.",
    )


def grafana_provisioning(t: Target) -> Snippet:
    text = (
        "\n".join(
            [
                "apiVersion: 1",
                "contactPoints:",
                "  - orgId: 1",
                "    name: SignalCraft",
                "    receivers:",
                "      - uid: signalcraft",
                "        type: webhook",
                "        settings:",
                f"          url: {_q(t.ingest_url)}",
                "          httpMethod: POST",
            ]
        )
        + "\n"
    )
    return Snippet(
        "grafana-provisioning",
        "Grafana provisioning file",
        "yaml",
        text,
        "Or as code: a file under provisioning/alerting/ (restart Grafana to load it).",
    )


# --- Sentry --------------------------------------------------------------------------------


def sentry_python(t: Target) -> Snippet:
    text = f"import sentry_sdk\n\nsentry_sdk.init(dsn={_q(t.credential)})\n"
    return Snippet(
        "sentry-python",
        "Sentry SDK for Python",
        "python",
        text,
        "Where your application starts; errors and cron check-ins arrive as alerts.",
    )


def sentry_javascript(t: Target) -> Snippet:
    text = f"Sentry.init({{ dsn: {_q(t.credential)} }});\n"
    return Snippet(
        "sentry-javascript",
        "Sentry SDK for JavaScript",
        "javascript",
        text,
        "Browser or Node: the same DSN works with every Sentry SDK.",
    )


def sentry_hook(t: Target) -> Snippet:
    text = f"Webhook URL: {t.base_url}/ingest/{t.token}\n"
    return Snippet(
        "sentry-hook",
        "Sentry integration webhooks (optional)",
        "text",
        text,
        "Sentry → Settings → Developer Settings → Custom Integration; copy its Client Secret "
        "into this integration's settings so signatures can be checked.",
    )


# --- Datadog -------------------------------------------------------------------------------


def datadog_setup(t: Target) -> Snippet:
    text = f"Name: signalcraft\nURL: {t.ingest_url}\n"
    return Snippet(
        "datadog",
        "Datadog webhook",
        "text",
        text,
        "Datadog → Integrations → Webhooks → New; then mention @webhook-signalcraft in monitors.",
    )


def datadog_payload(t: Target) -> Snippet:
    return Snippet(
        "datadog-payload",
        "Datadog payload template",
        "json",
        datadog.TEMPLATE,
        "Paste as the webhook's Payload; $ALERT_CYCLE_KEY links each trigger to its recovery.",
    )


# --- curl: one test request per type --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleRequest:
    url: str
    headers: tuple[str, ...]
    body: Any


_TEST_TITLE = "Test alert from curl"


def _webhook_sample(mapping: generic.FieldMapping | None) -> Any:
    """A body the generic webhook's mapping turns into one firing alert."""
    if mapping is None:
        return {"title": _TEST_TITLE}
    values = {
        "labels": {"host": "db-1"},
        "severity": "critical",
        "description": "Sent to test the mapping",
        "dedup_key": "signalcraft-test",
        "status": "firing",
        "title": _TEST_TITLE,
    }
    item: Any = {}
    for name, value in values.items():
        path = mapping.path(name)
        if path is not None:
            item = _with(item, path.steps, value)
    alerts = mapping.path("alerts")
    return item if alerts is None else _with({}, alerts.steps, [item])


def _with(node: Any, steps: tuple[str | int, ...], value: Any) -> Any:
    """``node`` with ``value`` placed at ``steps`` (objects and lists made on the way)."""
    if not steps:
        return value
    head, rest = steps[0], steps[1:]
    if isinstance(head, int):
        items = list(node) if isinstance(node, list) else []
        items.extend({} for _ in range(head + 1 - len(items)))
        items[head] = _with(items[head], rest, value)
        return items
    obj = dict(node) if isinstance(node, dict) else {}
    obj[head] = _with(obj.get(head), rest, value)
    return obj


def _am_alert() -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "SignalCraftTest", "severity": "warning"},
        "annotations": {"summary": _TEST_TITLE},
        "fingerprint": "signalcraft-test",
    }


_JSON = "Content-Type: application/json"


def _sample_alertmanager(t: Target) -> SampleRequest:
    body = {"version": "4", "status": "firing", "receiver": "signalcraft", "alerts": [_am_alert()]}
    return SampleRequest(t.ingest_url, (_JSON,), body)


def _sample_prometheus(t: Target) -> SampleRequest:
    body = [
        {
            "labels": {"alertname": "SignalCraftTest", "severity": "warning"},
            "annotations": {"summary": _TEST_TITLE},
        }
    ]
    return SampleRequest(t.ingest_url, (_JSON,), body)


def _sample_grafana(t: Target) -> SampleRequest:
    body = {
        "receiver": "signalcraft",
        "status": "firing",
        "orgId": 1,
        "alerts": [_am_alert()],
        "title": f"[FIRING:1] {_TEST_TITLE}",
        "state": "alerting",
    }
    return SampleRequest(t.ingest_url, (_JSON,), body)


def _sample_pagerduty(t: Target) -> SampleRequest:
    body = {
        "routing_key": t.credential,
        "event_action": "trigger",
        "dedup_key": "signalcraft-test",
        "payload": {"summary": _TEST_TITLE, "source": "curl", "severity": "warning"},
    }
    return SampleRequest(t.ingest_url, (_JSON,), body)


def _sample_opsgenie(t: Target) -> SampleRequest:
    body = {"message": _TEST_TITLE, "alias": "signalcraft-test", "priority": "P3"}
    return SampleRequest(f"{t.ingest_url}v2/alerts", (_JSON, f"Authorization: GenieKey {t.token}"), body)


def _sample_sentry(t: Target) -> SampleRequest:
    # The legacy store endpoint takes plain JSON, which is easier to type than an envelope.
    url = t.ingest_url.removesuffix("/envelope/") + "/store/"
    auth = f"X-Sentry-Auth: Sentry sentry_version=7, sentry_key={t.token}"
    return SampleRequest(url, (_JSON, auth), {"message": _TEST_TITLE, "level": "warning"})


def _sample_datadog(t: Target) -> SampleRequest:
    body = {
        "id": "1",
        "alert_cycle_key": "signalcraft-test",
        "transition": "Triggered",
        "alert_type": "error",
        "title": f"[Triggered] {_TEST_TITLE}",
        "priority": "P2",
        "tags": "env:test",
        "message": "Sent with curl",
    }
    return SampleRequest(t.ingest_url, (_JSON,), body)


def _sample_webhook(t: Target) -> SampleRequest:
    return SampleRequest(t.ingest_url, (_JSON,), _webhook_sample(t.mapping))


SAMPLE_REQUESTS: dict[str, Callable[[Target], SampleRequest]] = {
    "alertmanager": _sample_alertmanager,
    "prometheus": _sample_prometheus,
    "grafana": _sample_grafana,
    "pagerduty": _sample_pagerduty,
    "opsgenie": _sample_opsgenie,
    "sentry": _sample_sentry,
    "datadog": _sample_datadog,
    "webhook": _sample_webhook,
}


def curl(t: Target) -> Snippet:
    request = SAMPLE_REQUESTS[t.type](t)
    lines = [f"curl -sS -X POST {_sh(request.url)}"]
    lines += [f"  -H {_sh(header)}" for header in request.headers]
    body = json.dumps(request.body, indent=2).replace("\n", "\n  ")  # nested under --data
    lines.append(f"  --data {_sh(body)}")
    return Snippet(
        "curl",
        "Test with curl",
        "shell",
        " \\\n".join(lines) + "\n",
        "Sends one test alert; it shows up in the inbox and under “Last payloads received”.",
    )


SnippetFn = Callable[[Target], Snippet]

SNIPPETS: dict[str, tuple[SnippetFn, ...]] = {
    "alertmanager": (alertmanager_webhook, curl),
    "prometheus": (prometheus_path_prefix, prometheus_bearer, curl),
    "grafana": (grafana_contact_point, grafana_provisioning, curl),
    "pagerduty": (alertmanager_pagerduty, curl),
    "opsgenie": (alertmanager_opsgenie, curl),
    "sentry": (sentry_python, sentry_javascript, sentry_hook, curl),
    "datadog": (datadog_setup, datadog_payload, curl),
    "webhook": (curl,),
}


def snippets_for(t: Target) -> list[Snippet]:
    return [make(t) for make in SNIPPETS.get(t.type, (curl,))]
