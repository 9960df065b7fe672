"""A real Prometheus (Debian's ``prometheus``) pointed straight at SignalCraft as its Alertmanager.

Two ``alerting.alertmanagers`` entries, one per documented way to configure it:

- ``path_prefix: /ingest/<token>``: Prometheus posts to ``/ingest/<token>/api/v2/alerts``;
- ``authorization: {credentials: <token>}``: Prometheus posts to ``/api/v2/alerts`` with
  ``Authorization: Bearer <token>``.

Prometheus sends every alert to every Alertmanager, so each of the two ``prometheus``
integrations must end up with the same one alert per rule. One Prometheus serves the
module (it finds its Alertmanagers only ~5 s after start: its service discovery sends
updates at most every 5 s); each test watches its own alert name. Rules always fire
(``vector(1) > 0``, evaluated every second, re-sent every evaluation).

- Stopping a rule: the rules file is rewritten with the same alert and labels but an
  expression that never matches, then ``POST /-/reload``; Prometheus keeps the alert's
  state over the reload and sends it with ``endsAt`` in the past.
- Deleting a rule: Prometheus just stops sending the alert. Its last ``endsAt`` (a few
  evaluation intervals ahead) is its expiry: Alertmanager resolves an alert whose
  ``endsAt`` passes without a re-send (https://prometheus.io/docs/alerting/latest/clients/,
  prometheus/alertmanager#2770), so SignalCraft must too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port
from tests.realclients.conftest import (
    Appliance,
    Integration,
    peer_log,
    require_binary,
    run_peer,
    wait_for,
)

pytestmark = [pytest.mark.external, pytest.mark.slow]

RULE_LABELS = {"severity": "critical", "team": "storage"}
SUMMARY = "A replica of the orders database is down"
ALWAYS = "ReplicaDown"  # fires for the whole module
STOPPING = "QueueStuck"  # fires until its test makes the expression come back empty
DELETED = "CacheCold"  # fires until its test deletes the rule
FIRES, NEVER = "vector(1) > 0", "vector(1) < 0"


def rules_file_content(exprs: dict[str, str]) -> dict[str, Any]:
    rules = [
        {
            "alert": alert,
            "expr": expr,
            "for": "0s",
            "labels": RULE_LABELS,
            "annotations": {"summary": SUMMARY if alert == ALWAYS else f"{alert} fires"},
        }
        for alert, expr in exprs.items()
    ]
    return {"groups": [{"name": "signalcraft-test", "interval": "1s", "rules": rules}]}


@dataclass
class Prometheus:
    url: str
    rules_file: Path
    log: Path
    exprs: dict[str, str]  # alert name -> expression, as loaded

    def write_rules(self) -> None:
        self.rules_file.write_text(json.dumps(rules_file_content(self.exprs), indent=2))  # JSON is YAML

    def set_rule(self, alert: str, expr: str | None) -> None:
        """Change (or with ``None`` delete) one rule and reload Prometheus."""
        if expr is None:
            del self.exprs[alert]
        else:
            self.exprs[alert] = expr
        self.write_rules()
        response = httpx.post(f"{self.url}/-/reload", timeout=10)
        assert response.status_code == 200, f"reload: {response.status_code} {response.text}"


@dataclass
class Targets:
    by_path_prefix: Integration
    by_bearer_token: Integration

    def all(self) -> tuple[Integration, Integration]:
        return self.by_path_prefix, self.by_bearer_token


@pytest.fixture(scope="module")
def targets(appliance: Appliance) -> Targets:
    return Targets(
        appliance.create_integration("prometheus", "prometheus by path_prefix"),
        appliance.create_integration("prometheus", "prometheus by bearer token"),
    )


def prometheus_config(appliance: Appliance, targets: Targets, rules_file: Path) -> dict[str, Any]:
    server = f"127.0.0.1:{appliance.port}"
    prefixed = targets.by_path_prefix
    assert prefixed.ingest_url == f"{appliance.url}/ingest/{prefixed.credential}/api/v2/alerts"
    return {
        "global": {"evaluation_interval": "1s", "scrape_interval": "1m"},
        "rule_files": [str(rules_file)],
        "alerting": {
            "alertmanagers": [
                {
                    "static_configs": [{"targets": [server]}],
                    "path_prefix": f"/ingest/{prefixed.credential}",
                    "api_version": "v2",
                    "timeout": "5s",
                },
                {
                    "static_configs": [{"targets": [server]}],
                    "api_version": "v2",
                    "timeout": "5s",
                    "authorization": {"credentials": targets.by_bearer_token.credential},
                },
            ]
        },
    }


@pytest.fixture(scope="module")
def prometheus(
    appliance: Appliance, targets: Targets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """One Prometheus for the module, with one rule per test that changes rules."""
    binary = require_binary("prometheus")
    tmp_path = tmp_path_factory.mktemp("prometheus")
    rules_file = tmp_path / "rules.yml"
    url = f"http://127.0.0.1:{free_port()}"
    peer = Prometheus(
        url, rules_file, tmp_path / "prometheus.log", {ALWAYS: FIRES, STOPPING: FIRES, DELETED: FIRES}
    )
    peer.write_rules()
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(appliance, targets, rules_file), indent=2))
    # A resend delay under the evaluation interval: every evaluation re-sends the firing alerts.
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address={url.removeprefix('http://')}",
        "--web.enable-lifecycle",
        "--rules.alert.resend-delay=500ms",
    ]
    with run_peer(args, peer.log, f"{url}/-/ready"):
        yield peer


def _alerts_named(appliance: Appliance, targets: Targets, alertname: str) -> list[tuple[int, dict[str, Any]]]:
    return [
        (integration.id, alert)
        for integration in targets.all()
        for alert in appliance.alerts(integration)
        if alert["labels"].get("alertname") == alertname
    ]


def _one_alert_each(
    appliance: Appliance, targets: Targets, alertname: str, min_events: int = 1
) -> dict[int, dict[str, Any]] | None:
    """The alert named ``alertname`` in each integration, once each has it ``min_events`` times."""
    found: dict[int, dict[str, Any]] = {}
    for integration_id, alert in _alerts_named(appliance, targets, alertname):
        assert integration_id not in found, f"integration {integration_id}: re-sends made new alerts"
        found[integration_id] = alert
    enough = len(found) == len(targets.all()) and all(a["event_count"] >= min_events for a in found.values())
    return found if enough else None


def _waiting(appliance: Appliance, prometheus: Prometheus, what: str) -> Callable[[], str]:
    """``what``, and on failure the end of Prometheus's log and of the server's alert requests."""

    def described() -> str:
        requests = "".join(line for line in appliance.server_log[-30:] if "alerts" in line)
        return f"{what}\n--- prometheus log ---\n{peer_log(prometheus.log)}\n--- server ---\n{requests}"

    return described


def test_prometheus_alert_reaches_signalcraft_by_path_prefix_and_by_bearer_token(
    appliance: Appliance, targets: Targets, prometheus: Prometheus
) -> None:
    found = wait_for(
        lambda: _one_alert_each(appliance, targets, ALWAYS),
        _waiting(appliance, prometheus, "the alert in both prometheus integrations"),
    )

    for alert in found.values():
        assert alert["title"] == SUMMARY
        assert alert["labels"] == {"alertname": ALWAYS, **RULE_LABELS}
        assert alert["source"] == "prometheus"
        assert alert["severity"] == "critical"
        assert alert["status"] == "firing"
        # generatorURL, a link back to the rule's expression
        assert any("/graph?g0.expr=" in link["url"] for link in alert["links"]), alert["links"]
        assert alert["_group"]["status"] == "triggered"
    # The same label set reached both integrations: the same dedup key in each.
    assert len({a["fingerprint"] for a in found.values()}) == 1


def test_prometheus_re_sends_every_evaluation_and_signalcraft_keeps_one_alert(
    appliance: Appliance, targets: Targets, prometheus: Prometheus
) -> None:
    found = wait_for(
        lambda: _one_alert_each(appliance, targets, ALWAYS, min_events=4),
        _waiting(appliance, prometheus, "four deliveries of the alert to each integration"),
    )

    for integration in targets.all():
        alert = found[integration.id]
        assert alert["status"] == "firing"
        assert alert["_group"]["alert_count"] == 1 and alert["_group"]["event_count"] >= 4
        log = appliance.ingest_log(integration)
        assert len(log) >= 4 and all(entry["accepted"] for entry in log), log
        assert any("deduplicated" in entry["message"] for entry in log), log


def test_prometheus_alert_resolves_when_the_rule_stops_firing(
    appliance: Appliance, targets: Targets, prometheus: Prometheus
) -> None:
    wait_for(
        lambda: _one_alert_each(appliance, targets, STOPPING),
        _waiting(appliance, prometheus, f"{STOPPING} in both prometheus integrations"),
    )

    prometheus.set_rule(STOPPING, NEVER)  # same name and labels: the alert's state carries over

    def resolved() -> dict[int, dict[str, Any]] | None:
        found = _one_alert_each(appliance, targets, STOPPING)
        if found and all(
            a["status"] == "resolved" and a["_group"]["status"] == "resolved" for a in found.values()
        ):
            return found
        return None

    found = wait_for(resolved, _waiting(appliance, prometheus, f"{STOPPING} resolved in both integrations"))
    for alert in found.values():
        assert alert["resolved_at"] is not None
        assert alert["_group"]["alert_count"] == 1
        assert alert["_group"]["resolved_by"] == "source:prometheus"
    # The other rule still fires: only the silenced alert was resolved.
    still = _one_alert_each(appliance, targets, ALWAYS)
    assert still and {a["status"] for a in still.values()} == {"firing"}


def test_an_alert_whose_rule_is_deleted_resolves_once_its_ends_at_passes(
    appliance: Appliance, targets: Targets, prometheus: Prometheus
) -> None:
    wait_for(
        lambda: _one_alert_each(appliance, targets, DELETED),
        _waiting(appliance, prometheus, f"{DELETED} in both prometheus integrations"),
    )

    prometheus.set_rule(DELETED, None)  # Prometheus sends nothing more about it, not even a resolve

    def expired() -> dict[int, dict[str, Any]] | None:
        found = _one_alert_each(appliance, targets, DELETED)
        return found if found and all(a["status"] == "resolved" for a in found.values()) else None

    def now_stored() -> str:
        statuses = {
            i: (a["status"], a["_group"]["status"]) for i, a in _alerts_named(appliance, targets, DELETED)
        }
        return f"{DELETED} resolved after its endsAt passed with no re-send; (alert, group) now: {statuses}"

    # endsAt is 4 evaluation intervals (4 s) after the last send; the expiry sweep runs once a
    # minute (Huey periodic tasks have minute granularity), so allow a full minute past it.
    found = wait_for(expired, now_stored, timeout=75)
    for alert in found.values():
        assert alert["_group"]["status"] == "resolved"
        assert alert["_group"]["alert_count"] == 1
