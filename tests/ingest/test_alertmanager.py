"""Alertmanager webhook v4 and the API v2 Prometheus posts to."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from signalcraft.ingest.alertmanager import label_set_key, parse_api_v2, parse_webhook
from signalcraft.ingest.model import AlertStatus, JSONValue, PayloadError

NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
Load = Callable[[str, str], JSONValue]


def test_distinct_alerts_with_the_same_summary_keep_distinct_keys(payload: Load) -> None:
    alerts = parse_webhook(payload("alertmanager", "001-firing-two-alerts-same-summary"), {}).alerts
    assert alerts[0].title == alerts[1].title
    assert [a.dedup_key for a in alerts] == ["f610cb232c824378", "69c2e62f0b0aec37"]


def test_resolved_notification_resolves_the_same_keys(payload: Load) -> None:
    firing = parse_webhook(payload("alertmanager", "001-firing-two-alerts-same-summary"), {})
    resolved = parse_webhook(payload("alertmanager", "002-resolved-group"), {})
    assert [a.dedup_key for a in resolved.alerts] == [a.dedup_key for a in firing.alerts]
    assert {a.status for a in resolved.alerts} == {AlertStatus.RESOLVED}


def test_firing_alert_has_no_end_time(payload: Load) -> None:
    alert = parse_webhook(payload("alertmanager", "001-firing-two-alerts-same-summary"), {}).alerts[0]
    assert alert.ended_at is None
    assert alert.occurred_at == datetime(2026, 11, 27, 19, 31, 44, 834229, UTC)


def test_raw_is_the_alert_entry_unchanged(payload: Load) -> None:
    body = payload("alertmanager", "001-firing-two-alerts-same-summary")
    original = copy.deepcopy(body)
    alert = parse_webhook(body, {}).alerts[1]
    assert alert.raw == original["alerts"][1]  # type: ignore[index]
    assert body == original


def test_missing_alert_status_falls_back_to_the_group_status() -> None:
    body = {"status": "resolved", "alerts": [{"labels": {"alertname": "A"}, "fingerprint": "f"}]}
    assert parse_webhook(body, {}).alerts[0].status is AlertStatus.RESOLVED


def test_more_than_1000_alerts_are_refused() -> None:
    alert = {"labels": {"alertname": "A"}}
    with pytest.raises(PayloadError, match="at most 1000") as err:
        parse_webhook({"alerts": [alert] * 1001}, {})
    assert err.value.field == "alerts"
    assert len(parse_webhook({"alerts": [alert] * 1000}, {}).alerts) == 1000


def test_more_than_256_labels_name_the_alert() -> None:
    labels = {f"l{i}": "v" for i in range(257)}
    with pytest.raises(PayloadError) as err:
        parse_webhook({"alerts": [{"labels": {"alertname": "A"}}, {"labels": labels}]}, {})
    assert err.value.field == "alerts[1].labels"


def test_long_summary_is_clipped_to_1024() -> None:
    body = {"alerts": [{"labels": {"alertname": "A"}, "annotations": {"summary": "s" * 5000}}]}
    assert len(parse_webhook(body, {}).alerts[0].title) == 1024


def test_api_v2_resolves_only_when_ends_at_has_passed() -> None:
    def status(ends_at: str | None) -> AlertStatus:
        item = {"labels": {"alertname": "A"}, "endsAt": ends_at}
        return parse_api_v2([item], {}, now=NOW).alerts[0].status

    assert status(None) is AlertStatus.FIRING
    assert status("2026-11-27T20:04:00Z") is AlertStatus.FIRING
    assert status("2026-11-27T20:00:00Z") is AlertStatus.RESOLVED
    assert status("2026-11-27T19:59:00Z") is AlertStatus.RESOLVED


def test_api_v2_resends_land_on_the_same_key_whatever_the_label_order() -> None:
    first = [{"labels": {"alertname": "A", "job": "api"}, "annotations": {"summary": "one"}}]
    again = [{"labels": {"job": "api", "alertname": "A"}, "annotations": {"summary": "two"}}]
    key = parse_api_v2(first, {}, now=NOW).alerts[0].dedup_key
    assert key == parse_api_v2(again, {}, now=NOW).alerts[0].dedup_key
    assert key == label_set_key({"alertname": "A", "job": "api"})
    assert len(key) == 16


def test_api_v2_label_values_are_not_confused_with_names() -> None:
    assert label_set_key({"a": "b", "c": ""}) != label_set_key({"a": "bc"})


def test_api_v2_without_alertname_names_the_field() -> None:
    with pytest.raises(PayloadError) as err:
        parse_api_v2([{"labels": {"alertname": "A"}}, {"labels": {"job": "x"}}], {}, now=NOW)
    assert err.value.field == "[1].labels.alertname"
