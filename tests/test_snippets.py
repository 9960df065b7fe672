"""The copy-paste snippets: each is valid in the language it claims, and carries the ingest URL
and credential exactly where the tool reads them. Where the real tool is installed
(amtool, promtool, sentry-sdk), the tool itself checks the snippet."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from signalcraft import snippets
from signalcraft.db.queries.integrations import Integration
from signalcraft.ingest import alertmanager, datadog, generic, grafana, opsgenie, pagerduty, sentry
from signalcraft.ingest.model import ParseResult
from signalcraft.integrations import USER_TYPES as SOURCES  # the types people create

BASE = "http://127.0.0.1:8080"
# All digits: unquoted, YAML would read it as a number and the tool would get the wrong key.
TOKEN = "12345678901234567890123456789012"
MAPPING = {
    "title": "check",
    "severity": "status",
    "dedup_key": "key",
    "labels": "meta",
    "alerts": "data.items",
}


def target(type_: str, base: str = BASE, settings: dict[str, Any] | None = None) -> snippets.Target:
    if settings is None:
        settings = {"mapping": MAPPING} if type_ == "webhook" else {}
    return snippets.target_for(Integration(7, 1, type_, "n", TOKEN[:6], settings), TOKEN, base)


def snippet(type_: str, key: str, base: str = BASE) -> snippets.Snippet:
    found = {s.key: s for s in snippets.snippets_for(target(type_, base))}
    return found[key]


def receiver(text: str, config_key: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    assert doc["route"]["receiver"] == "signalcraft"
    (rcv,) = doc["receivers"]
    assert rcv["name"] == "signalcraft"
    (config,) = rcv[config_key]
    assert config["send_resolved"] is True
    return config  # type: ignore[no-any-return]


def alertmanagers(text: str) -> dict[str, Any]:
    (am,) = yaml.safe_load(text)["alerting"]["alertmanagers"]
    assert am["api_version"] == "v2"
    return am  # type: ignore[no-any-return]


# ------------------------------------------------------------------ every type


def test_every_integration_type_has_snippets_ending_with_a_curl_test() -> None:
    assert set(snippets.SNIPPETS) == set(SOURCES)
    for type_ in SOURCES:
        found = snippets.snippets_for(target(type_))
        assert found[-1].key == "curl"
        assert len({s.key for s in found}) == len(found), type_
        for s in found:
            assert s.language in {"yaml", "json", "python", "javascript", "shell", "text"}
            assert s.title and s.where and s.text.endswith("\n")


@pytest.mark.parametrize("type_", sorted(SOURCES))
def test_every_snippet_parses_in_its_language_and_names_this_instance(type_: str) -> None:
    for s in snippets.snippets_for(target(type_)):
        if s.language == "yaml":
            assert isinstance(yaml.safe_load(s.text), dict)
        elif s.language == "json":
            assert isinstance(json.loads(s.text), dict)
        elif s.language == "python":
            ast.parse(s.text)
        elif s.language == "shell":
            assert shlex.split(s.text)[0] == "curl"
        if s.key != "datadog-payload":
            assert TOKEN in s.text, (type_, s.key)
            assert "127.0.0.1" in s.text, (type_, s.key)


# ------------------------------------------------------------------ per tool


def test_alertmanager_webhook_receiver_posts_to_the_ingest_url() -> None:
    config = receiver(snippet("alertmanager", "alertmanager").text, "webhook_configs")
    assert config["url"] == f"{BASE}/ingest/{TOKEN}"


def test_alertmanager_pagerduty_receiver_points_url_and_routing_key_at_signalcraft() -> None:
    config = receiver(snippet("pagerduty", "alertmanager-pagerduty").text, "pagerduty_configs")
    assert config == {"routing_key": TOKEN, "url": f"{BASE}/v2/enqueue", "send_resolved": True}


def test_alertmanager_opsgenie_receiver_points_api_url_at_signalcraft() -> None:
    config = receiver(snippet("opsgenie", "alertmanager-opsgenie").text, "opsgenie_configs")
    # Alertmanager appends "v2/alerts" to api_url: it must end with a slash.
    assert config == {"api_key": TOKEN, "api_url": f"{BASE}/", "send_resolved": True}


@pytest.mark.parametrize(
    ("base", "scheme", "host", "prefix"),
    [
        (BASE, "http", "127.0.0.1:8080", ""),
        ("https://alerts.example.com/sc", "https", "alerts.example.com:443", "/sc"),
        ("http://[::1]:9000", "http", "[::1]:9000", ""),
    ],
)
def test_prometheus_alertmanagers_by_path_prefix_and_by_bearer_token(
    base: str, scheme: str, host: str, prefix: str
) -> None:
    by_path = alertmanagers(snippet("prometheus", "prometheus", base).text)
    assert by_path["scheme"] == scheme
    assert by_path["static_configs"] == [{"targets": [host]}]
    # Prometheus posts to <scheme>://<target><path_prefix>/api/v2/alerts
    assert by_path["path_prefix"] + "/api/v2/alerts" == f"{prefix}/ingest/{TOKEN}/api/v2/alerts"
    assert "authorization" not in by_path
    bearer = alertmanagers(snippet("prometheus", "prometheus-bearer", base).text)
    assert bearer["scheme"] == scheme and bearer["static_configs"] == [{"targets": [host]}]
    assert bearer["authorization"] == {"type": "Bearer", "credentials": TOKEN}
    assert bearer.get("path_prefix", "") == prefix


def test_grafana_contact_point_and_provisioning_file_use_the_webhook_url() -> None:
    assert f"URL: {BASE}/ingest/{TOKEN}\n" in snippet("grafana", "grafana").text
    (point,) = yaml.safe_load(snippet("grafana", "grafana-provisioning").text)["contactPoints"]
    (rcv,) = point["receivers"]
    assert rcv["type"] == "webhook" and rcv["settings"]["url"] == f"{BASE}/ingest/{TOKEN}"


def test_sentry_python_dsn_is_read_by_the_real_sdk_as_this_project_and_key() -> None:
    from sentry_sdk.utils import Dsn

    tree = ast.parse(snippet("sentry", "sentry-python").text)
    (call,) = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert ast.unparse(call.func) == "sentry_sdk.init"
    (kw,) = call.keywords
    assert kw.arg == "dsn"
    dsn = Dsn(ast.literal_eval(kw.value))
    assert (dsn.public_key, dsn.project_id, dsn.netloc) == (TOKEN, "7", "127.0.0.1:8080")
    assert dsn.to_auth().get_api_url() == f"{BASE}/api/7/envelope/"


def test_sentry_javascript_init_carries_the_same_dsn() -> None:
    text = snippet("sentry", "sentry-javascript").text
    found = re.fullmatch(r'Sentry\.init\(\{ dsn: ("[^"]*") \}\);\n', text)
    assert found and json.loads(found.group(1)) == f"http://{TOKEN}@127.0.0.1:8080/7"
    assert snippet("sentry", "sentry-hook").text == f"Webhook URL: {BASE}/ingest/{TOKEN}\n"


def test_datadog_payload_is_the_shipped_template_and_valid_json() -> None:
    s = snippet("datadog", "datadog-payload")
    assert s.text == datadog.TEMPLATE
    assert json.loads(s.text)["alert_cycle_key"] == "$ALERT_CYCLE_KEY"
    assert f"URL: {BASE}/ingest/{TOKEN}\n" in snippet("datadog", "datadog").text


# ------------------------------------------------------------------ curl


NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
PARSERS: dict[str, Callable[[Any], ParseResult]] = {
    "alertmanager": lambda body: alertmanager.parse_webhook(body, {}),
    "prometheus": lambda body: alertmanager.parse_api_v2(body, {}, now=NOW),
    "grafana": lambda body: grafana.parse_webhook(body, {}),
    "pagerduty": lambda body: pagerduty.parse_event(body, {}, generated_key="g"),
    "opsgenie": lambda body: opsgenie.parse_create(body, {}),
    "sentry": lambda body: sentry.parse_store(body, {}),
    "datadog": lambda body: datadog.parse(body, {}),
    "webhook": lambda body: generic.parse(body, {}, generic.FieldMapping(**MAPPING)),
}
CURL_URLS = {
    "alertmanager": f"{BASE}/ingest/{TOKEN}",
    "prometheus": f"{BASE}/ingest/{TOKEN}/api/v2/alerts",
    "grafana": f"{BASE}/ingest/{TOKEN}",
    "pagerduty": f"{BASE}/v2/enqueue",
    "opsgenie": f"{BASE}/v2/alerts",
    "sentry": f"{BASE}/api/7/store/",
    "datadog": f"{BASE}/ingest/{TOKEN}",
    "webhook": f"{BASE}/ingest/{TOKEN}",
}
CURL_AUTH = {
    "opsgenie": f"Authorization: GenieKey {TOKEN}",
    "sentry": f"X-Sentry-Auth: Sentry sentry_version=7, sentry_key={TOKEN}",
}


def curl_parts(text: str) -> tuple[str, list[str], Any]:
    words = shlex.split(text)
    assert words[:4] == ["curl", "-sS", "-X", "POST"]
    headers = [words[i + 1] for i, w in enumerate(words) if w == "-H"]
    assert words[-2] == "--data"
    return words[4], headers, json.loads(words[-1])


@pytest.mark.parametrize("type_", sorted(SOURCES))
def test_curl_sends_a_body_the_type_accepts_to_its_url_with_its_credential(type_: str) -> None:
    url, headers, body = curl_parts(snippet(type_, "curl").text)
    assert url == CURL_URLS[type_]
    assert "Content-Type: application/json" in headers
    if type_ in CURL_AUTH:
        assert CURL_AUTH[type_] in headers
    if type_ == "pagerduty":
        assert body["routing_key"] == TOKEN
    (alert,) = PARSERS[type_](body).alerts
    assert alert.title.endswith("Test alert from curl")


@pytest.mark.parametrize(
    "mapping",
    [
        {"title": "event.name", "severity": "event.level", "status": "event.state", "labels": "host.tags"},
        {"title": "[0].msg", "dedup_key": "[0].id"},
        {"title": "msg", "labels": "tags", "alerts": "batch[1].alerts"},
    ],
)
def test_webhook_curl_body_follows_the_saved_mapping(mapping: dict[str, str]) -> None:
    t = target("webhook", settings={"mapping": mapping})
    _, _, body = curl_parts(snippets.curl(t).text)
    (alert,) = [a for a in generic.parse(body, {}, generic.FieldMapping(**mapping)).alerts if a.title]
    assert alert.title == "Test alert from curl"


def test_shell_quoting_survives_hostile_text() -> None:
    hostile = 'it\'s $(rm -rf /) `x` "q" \\ \n'
    assert shlex.split(snippets._sh(hostile)) == [hostile]


# ------------------------------------------------------------------ the real tools


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=30)


@pytest.mark.external
@pytest.mark.parametrize(
    ("type_", "key"),
    [
        ("alertmanager", "alertmanager"),
        ("pagerduty", "alertmanager-pagerduty"),
        ("opsgenie", "alertmanager-opsgenie"),
    ],
)
def test_amtool_accepts_the_alertmanager_snippets(tmp_path: Path, type_: str, key: str) -> None:
    assert shutil.which("amtool"), "amtool is not installed (scripts/test installs prometheus-alertmanager)"
    path = tmp_path / "alertmanager.yml"
    path.write_text(snippet(type_, key).text)
    result = _run("amtool", "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.external
@pytest.mark.parametrize("key", ["prometheus", "prometheus-bearer"])
def test_promtool_accepts_the_prometheus_snippets(tmp_path: Path, key: str) -> None:
    assert shutil.which("promtool"), "promtool is not installed (scripts/test installs prometheus)"
    path = tmp_path / "prometheus.yml"
    path.write_text(snippet("prometheus", key, "https://alerts.example.com/sc").text)
    result = _run("promtool", "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
