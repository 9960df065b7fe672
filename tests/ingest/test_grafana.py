"""Grafana alerting webhook: the Alertmanager shape plus Grafana's fields."""

from __future__ import annotations

from collections.abc import Callable

from signalcraft.ingest.grafana import parse_webhook
from signalcraft.ingest.model import JSONValue

Load = Callable[[str, str], JSONValue]


def test_values_become_value_annotations(payload: Load) -> None:
    alert = parse_webhook(payload("grafana", "001-firing-with-values"), {}).alerts[0]
    assert alert.annotations["value.B"] == "93.5"
    assert alert.annotations["value.C"] == "1"


def test_grafana_urls_become_links_not_annotations(payload: Load) -> None:
    alert = parse_webhook(payload("grafana", "001-firing-with-values"), {}).alerts[0]
    assert {link.text for link in alert.links} >= {"Dashboard", "Panel", "Silence", "Grafana"}
    assert "dashboardURL" not in alert.annotations


def test_alert_without_summary_or_alertname_takes_the_notification_title(payload: Load) -> None:
    alert = parse_webhook(payload("grafana", "001-firing-with-values"), {}).alerts[1]
    assert alert.title == "[FIRING:1, RESOLVED:1] CPU high (Infra)"
    assert alert.dedup_key == "9a0b1c2d3e4f5a6b"
