"""A real Alertmanager (Debian's ``prometheus-alertmanager``) notifying SignalCraft through
three receivers at once: ``webhook_configs``, ``pagerduty_configs`` (``url:`` pointed at
SignalCraft's ``/v2/enqueue``) and ``opsgenie_configs`` (``api_url:`` pointed at SignalCraft).

Alerts go into Alertmanager with its own CLI, ``amtool alert add``. Two alerts share their
summary and differ in one label: every receiver must keep them apart. Alertmanager
groups by ``alertname`` and ``instance``, so each alert is its own notification group
(PagerDuty ``dedup_key`` and Opsgenie ``alias`` are per notification group upstream),
and the PagerDuty description / Opsgenie message are templated to the shared summary.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
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

SUMMARY = "Disk almost full on the database host"
INSTANCES = ("db-1", "db-2")


@dataclass
class Receivers:
    webhook: Integration
    pagerduty: Integration
    opsgenie: Integration

    def all(self) -> tuple[Integration, Integration, Integration]:
        return self.webhook, self.pagerduty, self.opsgenie


@dataclass
class Alertmanager:
    url: str
    log: Path
    started: dt.datetime

    def add(self, alertname: str, instance: str, *, resolved: bool = False) -> None:
        """``amtool alert add``; ``resolved`` posts the same alert with ``endsAt`` in the past."""
        args = [
            "amtool",
            "alert",
            "add",
            f"alertname={alertname}",
            f"instance={instance}",
            "severity=warning",
            f"--annotation=summary={SUMMARY}",
            f"--annotation=description={instance} is at 97%",
            f"--start={_rfc3339(self.started)}",
            f"--alertmanager.url={self.url}",
            "--timeout=10s",
        ]
        if resolved:
            args.append(f"--end={_rfc3339(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))}")
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"amtool: {result.stderr}"

    def fingerprints(self, alertname: str) -> set[str]:
        """What Alertmanager itself calls these alerts (``GET /api/v2/alerts``)."""
        found = httpx.get(f"{self.url}/api/v2/alerts", params={"filter": f'alertname="{alertname}"'}).json()
        return {a["fingerprint"] for a in found}


def _rfc3339(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def am_config(receivers: Receivers, base_url: str) -> dict[str, Any]:
    """One route per receiver, ``continue: true`` so every alert reaches all three."""
    return {
        "route": {
            "receiver": "webhook",
            "group_by": ["alertname", "instance"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "2s",  # re-sends arrive while the test watches
            "routes": [
                {"receiver": "webhook", "continue": True},
                {"receiver": "pagerduty", "continue": True},
                {"receiver": "opsgenie"},
            ],
        },
        "receivers": [
            {
                "name": "webhook",
                "webhook_configs": [{"url": receivers.webhook.ingest_url, "send_resolved": True}],
            },
            {
                "name": "pagerduty",
                "pagerduty_configs": [
                    {
                        "routing_key": receivers.pagerduty.credential,
                        "url": receivers.pagerduty.ingest_url,
                        "send_resolved": True,
                        "description": "{{ .CommonAnnotations.summary }}",
                    }
                ],
            },
            {
                "name": "opsgenie",
                "opsgenie_configs": [
                    {
                        "api_key": receivers.opsgenie.credential,
                        "api_url": f"{base_url}/",
                        "send_resolved": True,
                        "message": "{{ .CommonAnnotations.summary }}",
                    }
                ],
            },
        ],
    }


@pytest.fixture
def receivers(appliance: Appliance, request: pytest.FixtureRequest) -> Receivers:
    """Three fresh integrations, so each test sees only what its own Alertmanager sent."""
    name = request.node.name[:60]
    return Receivers(
        appliance.create_integration("alertmanager", f"{name} webhook"),
        appliance.create_integration("pagerduty", f"{name} pagerduty"),
        appliance.create_integration("opsgenie", f"{name} opsgenie"),
    )


@pytest.fixture
def alertmanager(appliance: Appliance, receivers: Receivers, tmp_path: Path) -> Iterator[Alertmanager]:
    binary = require_binary("prometheus-alertmanager")
    require_binary("amtool")
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps(am_config(receivers, appliance.url), indent=2))  # JSON is YAML
    url = f"http://127.0.0.1:{free_port()}"
    log = tmp_path / "alertmanager.log"
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    with run_peer(args, log, f"{url}/-/ready"):
        yield Alertmanager(url, log, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))


def _by_receiver(appliance: Appliance, receivers: Receivers) -> dict[str, list[dict[str, Any]]]:
    return {i.type: appliance.alerts(i) for i in receivers.all()}


def _two_alerts_each(appliance: Appliance, receivers: Receivers) -> dict[str, list[dict[str, Any]]] | None:
    found = _by_receiver(appliance, receivers)
    for kind, alerts in found.items():
        assert len(alerts) <= 2, f"{kind}: more alerts than Alertmanager has: {alerts}"
    return found if all(len(alerts) == 2 for alerts in found.values()) else None


def _instance_of(alert: dict[str, Any]) -> str:
    """Which instance an alert is about, wherever its source put the label."""
    if "instance" in alert["labels"]:
        return str(alert["labels"]["instance"])  # webhook
    if "instance" in alert["annotations"]:
        return str(alert["annotations"]["instance"])  # Opsgenie details = the group's common labels
    details = alert["annotations"].get("firing", "")  # PagerDuty custom_details.firing, a text block
    return next((i for i in INSTANCES if f"instance = {i}" in details), "(none)")


def test_two_alerts_with_the_same_summary_stay_distinct_in_every_receiver(
    appliance: Appliance, receivers: Receivers, alertmanager: Alertmanager
) -> None:
    for instance in INSTANCES:
        alertmanager.add("DiskAlmostFull", instance)

    found = wait_for(
        lambda: _two_alerts_each(appliance, receivers),
        "two alerts in each of webhook, pagerduty and opsgenie",
    )

    for kind, alerts in found.items():
        assert {a["title"] for a in alerts} == {SUMMARY}, kind
        assert {a["status"] for a in alerts} == {"firing"}, kind
        assert len({a["fingerprint"] for a in alerts}) == 2, f"{kind}: both alerts share one fingerprint"
        assert sorted(_instance_of(a) for a in alerts) == list(INSTANCES), kind
        assert {a["_group"]["status"] for a in alerts} == {"triggered"}, kind
    # The webhook carries Alertmanager's own fingerprint: it is the dedup key, unchanged.
    assert {a["fingerprint"] for a in found["alertmanager"]} == alertmanager.fingerprints("DiskAlmostFull")
    assert {a["source"] for a in found["pagerduty"]} == {"pagerduty"}
    assert {a["severity"] for a in found["alertmanager"]} == {"warning"}


def test_alertmanager_re_sends_count_as_events_not_as_new_alerts(
    appliance: Appliance, receivers: Receivers, alertmanager: Alertmanager
) -> None:
    for instance in INSTANCES:
        alertmanager.add("DiskAlmostFull", instance)

    def resent_twice() -> dict[str, list[dict[str, Any]]] | None:
        found = _two_alerts_each(appliance, receivers)
        if found and all(a["event_count"] >= 3 for alerts in found.values() for a in alerts):
            return found
        return None

    wait_for(resent_twice, "every alert re-sent by Alertmanager at least twice (repeat_interval 2s)")

    for integration in receivers.all():
        kind = integration.type
        groups = appliance.groups(integration)
        assert [g["alert_count"] for g in groups] == [1, 1], f"{kind}: {groups}"
        assert all(g["event_count"] >= 3 and g["status"] == "triggered" for g in groups), f"{kind}: {groups}"
        log = appliance.ingest_log(integration)
        assert len(log) >= 6 and all(entry["accepted"] for entry in log), f"{kind}: {log}"
        assert any("deduplicated" in entry["message"] for entry in log), f"{kind}: {log}"


def test_alertmanager_delivers_firing_then_resolved_to_webhook_pagerduty_and_opsgenie(
    appliance: Appliance, receivers: Receivers, alertmanager: Alertmanager
) -> None:
    for instance in INSTANCES:
        alertmanager.add("ReplicationLag", instance)
    wait_for(lambda: _two_alerts_each(appliance, receivers), "two firing alerts in each receiver")

    for instance in INSTANCES:
        alertmanager.add("ReplicationLag", instance, resolved=True)

    def all_resolved() -> dict[str, list[dict[str, Any]]] | None:
        found = _by_receiver(appliance, receivers)
        done = all(
            a["status"] == "resolved" and a["_group"]["status"] == "resolved"
            for alerts in found.values()
            for a in alerts
        )
        return found if done else None

    found = wait_for(
        all_resolved,
        lambda: (
            "every alert and group resolved in webhook, pagerduty and opsgenie\n"
            f"--- alertmanager log ---\n{peer_log(alertmanager.log)}"
        ),
    )

    for kind, alerts in found.items():
        assert len(alerts) == 2, f"{kind}: resolving created alerts: {alerts}"
        for alert in alerts:
            assert alert["resolved_at"] is not None, kind
            group = appliance.group(alert["_group"]["id"])
            kinds = [event["kind"] for event in group["timeline"]]
            assert "resolved" in kinds and "group_resolved" in kinds, f"{kind}: {kinds}"
            assert group["group"]["resolved_by"] == f"source:{kind}", kind
