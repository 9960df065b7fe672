"""PagerDuty Events API v2: PagerDuty's own validation, and its error wording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from signalcraft.ingest.model import AlertStatus, JSONValue, PayloadError
from signalcraft.ingest.pagerduty import parse_change_event, parse_event, pd_errors

Load = Callable[[str, str], JSONValue]
KEY = "R015ABCDEF0123456789ABCDEF012345"


def trigger(**payload: Any) -> dict[str, Any]:
    fields = {"summary": "Disk full", "source": "db-1", "severity": "error", **payload}
    return {"routing_key": KEY, "event_action": "trigger", "payload": fields}


def test_acknowledge_without_dedup_key_names_the_field() -> None:
    with pytest.raises(PayloadError) as err:
        parse_event({"routing_key": KEY, "event_action": "acknowledge"}, {}, generated_key="g")
    assert err.value.field == "dedup_key"
    assert pd_errors(err.value) == ["'dedup_key' is missing or blank"]


def test_trigger_without_dedup_key_uses_the_generated_key() -> None:
    alert = parse_event(trigger(), {}, generated_key="gen-1").alerts[0]
    assert alert.dedup_key == "gen-1"


def test_trigger_with_dedup_key_keeps_it() -> None:
    body = {**trigger(), "dedup_key": "srv01/HTTP"}
    assert parse_event(body, {}, generated_key="gen-1").alerts[0].dedup_key == "srv01/HTTP"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (trigger(summary=None), "'payload.summary' is missing or blank"),
        (trigger(source=""), "'payload.source' is missing or blank"),
        (trigger(severity=None), "'payload.severity' is missing or blank"),
        (trigger(severity="Critical"), "'payload.severity' is invalid"),
        ({**trigger(), "event_action": "snooze"}, "'event_action' is invalid"),
        ({**trigger(), "routing_key": ""}, "'routing_key' is missing or blank"),
        ({"routing_key": KEY, "event_action": "trigger"}, "'payload' is required"),
    ],
)
def test_trigger_is_validated_like_pagerduty(body: dict[str, Any], error: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse_event(body, {}, generated_key="g")
    assert pd_errors(err.value)[0].startswith(error)


def test_resolve_and_acknowledge_set_the_status(payload: Load) -> None:
    resolved = parse_event(payload("pagerduty", "002-resolve-from-alertmanager"), {}, generated_key="g")
    acked = parse_event(payload("pagerduty", "004-acknowledge"), {}, generated_key="g")
    assert resolved.alerts[0].status is AlertStatus.RESOLVED
    assert acked.alerts[0].status is AlertStatus.ACKNOWLEDGED


def test_custom_details_non_strings_are_json_encoded() -> None:
    body = trigger(custom_details={"n": 3, "list": [1, "a"], "s": "text"})
    notes = parse_event(body, {}, generated_key="g").alerts[0].annotations
    assert notes == {"n": "3", "list": '[1,"a"]', "s": "text"}


def test_custom_details_may_be_a_plain_string() -> None:
    notes = parse_event(trigger(custom_details="see logs"), {}, generated_key="g").alerts[0].annotations
    assert notes == {"details": "see logs"}


def test_routing_key_is_not_copied_into_labels_or_annotations() -> None:
    alert = parse_event(trigger(), {}, generated_key="g").alerts[0]
    assert KEY not in {*alert.labels.values(), *alert.annotations.values()}


def test_dedup_key_longer_than_255_is_refused() -> None:
    with pytest.raises(PayloadError) as err:
        parse_event({**trigger(), "dedup_key": "k" * 256}, {}, generated_key="g")
    assert err.value.field == "dedup_key"


def test_change_event_becomes_a_deploy(payload: Load) -> None:
    result = parse_change_event(payload("pagerduty", "005-change-event"), {})
    assert result.alerts == ()
    deploy = result.deploys[0]
    assert deploy.summary.startswith("Build #1432")
    assert deploy.custom_details["build_number"] == "1432"


def test_invalid_json_errors_have_no_field_quote() -> None:
    assert pd_errors(PayloadError("", "invalid JSON: unexpected end")) == ["invalid JSON: unexpected end"]
