"""Sentry: envelopes, grouping, auth and integration webhooks."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest

from signalcraft.ingest.model import AlertStatus, JSONValue, PayloadError, Severity
from signalcraft.ingest.sentry import (
    event_to_alert,
    parse_auth,
    parse_envelope,
    parse_integration_webhook,
    parse_store,
    verify_hook_signature,
)

Load = Callable[[str, str], Any]
HEADER = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n'


def event_item(event: dict[str, Any], *, length: bool = True) -> bytes:
    body = json.dumps(event).encode()
    header = {"type": "event", **({"length": len(body)} if length else {})}
    return json.dumps(header).encode() + b"\n" + body + b"\n"


def error_event(
    frames: list[dict[str, Any]], exc_type: str = "KeyError", value: str = "'x'"
) -> dict[str, Any]:
    return {"exception": {"values": [{"type": exc_type, "value": value, "stacktrace": {"frames": frames}}]}}


def frame(function: str, *, in_app: bool = True, lineno: int = 1, module: str = "app.core") -> dict[str, Any]:
    return {
        "function": function,
        "module": module,
        "filename": "app/core.py",
        "lineno": lineno,
        "in_app": in_app,
    }


def key_of(event: dict[str, Any]) -> str | None:
    return event_to_alert(event).dedup_key


# --- envelope format ------------------------------------------------------------------


def test_envelope_item_without_length_reads_to_newline() -> None:
    body = HEADER + event_item({"message": "one"}, length=False) + event_item({"message": "two"})
    _, result = parse_envelope(body, {})
    assert [a.title for a in result.alerts] == ["one", "two"]


def test_envelope_item_with_length_may_hold_newlines_and_binary() -> None:
    blob = b"\x00\xff\n\n{" * 10
    attachment = b'{"type":"attachment","length":%d}\n' % len(blob) + blob + b"\n"
    body = HEADER + attachment + event_item({"message": "after"})
    _, result = parse_envelope(body, {})
    assert [a.title for a in result.alerts] == ["after"]
    assert result.ignored_items == 1


def test_trailing_newline_is_optional() -> None:
    body = HEADER + event_item({"message": "last"})
    assert parse_envelope(body.rstrip(b"\n"), {})[1].alerts[0].title == "last"


def test_empty_payloads_are_accepted() -> None:
    body = HEADER + b'{"type":"session","length":0}\n\n{"type":"client_report"}\n\n'
    assert parse_envelope(body, {})[1].ignored_items == 2


def test_header_only_envelope_is_empty() -> None:
    header, result = parse_envelope(HEADER, {})
    assert header.event_id == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert result.alerts == () and result.ignored_items == 0


def test_payload_not_followed_by_newline_is_refused() -> None:
    with pytest.raises(PayloadError) as err:
        parse_envelope(HEADER + b'{"type":"event","length":2}\n{}X\n', {})
    assert err.value.field == "items[0].length"


@pytest.mark.parametrize("length", [-1, "2", 1.5, True])
def test_length_must_be_a_non_negative_integer(length: object) -> None:
    body = HEADER + json.dumps({"type": "event", "length": length}).encode() + b"\n{}\n"
    with pytest.raises(PayloadError) as err:
        parse_envelope(body, {})
    assert err.value.field == "items[0].length"


def test_invalid_event_json_names_the_item() -> None:
    with pytest.raises(PayloadError) as err:
        parse_envelope(HEADER + b'{"type":"event"}\n{"oops"\n', {})
    assert err.value.field == "items[0]"


def test_check_in_item_becomes_a_check_in(payload: Load) -> None:
    _, result = parse_envelope(payload("sentry", "004-check-in-and-other-items"), {})
    check_in = result.check_ins[0]
    assert (check_in.monitor_slug, check_in.status, check_in.duration) == (
        "nightly-backup",
        "error",
        12.5,
    )
    assert check_in.monitor_config["schedule"] == {"type": "crontab", "value": "0 3 * * *"}


# --- events ----------------------------------------------------------------------------


def test_title_is_type_and_first_line_of_value() -> None:
    alert = event_to_alert(error_event([], "ValueError", "bad input\nmore detail"))
    assert alert.title == "ValueError: bad input"
    assert alert.description == "bad input\nmore detail"


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("fatal", Severity.CRITICAL),
        ("error", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("info", Severity.INFO),
        ("debug", Severity.INFO),
        (None, Severity.ERROR),
    ],
)
def test_level_maps_to_severity(level: str | None, severity: Severity) -> None:
    assert event_to_alert({"message": "m", "level": level}).severity is severity


def test_tags_as_pairs_or_object_become_labels() -> None:
    assert event_to_alert({"tags": [["a", "1"], ["b", 2]]}).labels == {"a": "1", "b": "2"}
    assert event_to_alert({"tags": {"a": "1"}}).labels == {"a": "1"}


def test_user_ip_is_not_kept_in_annotations() -> None:
    alert = event_to_alert({"user": {"id": 7, "email": "a@b.c", "ip_address": "203.0.113.7"}})
    assert alert.annotations == {"user.id": "7", "user.email": "a@b.c"}


def test_store_ignores_transactions() -> None:
    assert parse_store({"type": "transaction", "spans": []}, {}).ignored_items == 1


# --- grouping --------------------------------------------------------------------------


def test_sentry_groups_by_exception_type_and_in_app_frames() -> None:
    base = error_event([frame("lib", in_app=False), frame("handler", lineno=10)], value="'a'")
    moved = error_event([frame("lib2", in_app=False), frame("handler", lineno=99)], value="'b'")
    other_function = error_event([frame("lib", in_app=False), frame("other")])
    other_type = error_event([frame("lib", in_app=False), frame("handler")], exc_type="TypeError")
    assert key_of(base) == key_of(moved)
    assert len({key_of(base), key_of(other_function), key_of(other_type)}) == 3
    assert (key_of(base) or "").startswith("sentry:") and len(key_of(base) or "") == 39


def test_without_in_app_frames_all_frames_count() -> None:
    one = error_event([frame("a", in_app=False), frame("b", in_app=False)])
    two = error_event([frame("a", in_app=False), frame("c", in_app=False)])
    assert key_of(one) != key_of(two)


def test_fingerprint_replaces_default_grouping() -> None:
    one = {**error_event([frame("a")]), "fingerprint": ["payments-down"]}
    two = {**error_event([frame("b")], exc_type="TypeError"), "fingerprint": ["payments-down"]}
    assert key_of(one) == key_of(two)


def test_default_placeholder_alone_is_default_grouping() -> None:
    event = error_event([frame("a")])
    assert key_of({**event, "fingerprint": ["{{ default }}"]}) == key_of(event)


def test_default_placeholder_extends_default_grouping() -> None:
    event = error_event([frame("a")])
    tenant_1 = key_of({**event, "fingerprint": ["{{ default }}", "tenant-1"]})
    tenant_2 = key_of({**event, "fingerprint": ["{{ default }}", "tenant-2"]})
    assert len({key_of(event), tenant_1, tenant_2}) == 3


def test_message_events_group_by_template_not_formatted_text() -> None:
    one = {"logentry": {"message": "user %s not found", "formatted": "user 1 not found"}}
    two = {"logentry": {"message": "user %s not found", "formatted": "user 2 not found"}}
    assert key_of(one) == key_of(two)
    assert event_to_alert(one).title == "user 1 not found"


def test_parsing_does_not_modify_the_event() -> None:
    event = {**error_event([frame("a")]), "fingerprint": ["{{ default }}", "x"]}
    original = copy.deepcopy(event)
    assert event_to_alert(event).raw == original == event


# --- auth --------------------------------------------------------------------------------


def test_auth_from_the_x_sentry_auth_header() -> None:
    header = "Sentry sentry_key=abc123, sentry_version=7, sentry_client=sentry.python/2.75.0"
    assert parse_auth({"x-sentry-auth": header}, {}) == "abc123"


def test_auth_from_the_query_string() -> None:
    assert parse_auth({}, {"sentry_key": "abc123", "sentry_version": "7"}) == "abc123"


def test_missing_auth_names_sentry_key() -> None:
    with pytest.raises(PayloadError) as err:
        parse_auth({"x-sentry-auth": "Sentry sentry_version=7"}, {})
    assert err.value.field == "sentry_key"


def test_hook_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"action":"created"}'
    good = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert verify_hook_signature(body, good, "secret")
    assert not verify_hook_signature(body, good, "other")
    assert not verify_hook_signature(body + b" ", good, "secret")
    assert not verify_hook_signature(body, "é" * 64, "secret")


# --- integration webhooks -------------------------------------------------------------------


def hook(resource: str, body: JSONValue) -> Any:
    return parse_integration_webhook(body, {"sentry-hook-resource": resource})


def test_issue_alert_and_issue_resolution_share_the_issue_key(payload: Load) -> None:
    fired = hook("event_alert", payload("sentry", "008-event-alert-webhook")).alerts[0]
    resolved = hook("issue", payload("sentry", "006-issue-resolved-webhook")).alerts[0]
    assert fired.dedup_key == resolved.dedup_key == "sentry-issue:1170820242"
    assert (fired.status, resolved.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)


def test_issue_created_fires() -> None:
    body = {"action": "created", "data": {"issue": {"id": 5, "title": "Boom"}}}
    alert = hook("issue", body).alerts[0]
    assert (alert.status, alert.dedup_key, alert.title) == (
        AlertStatus.FIRING,
        "sentry-issue:5",
        "Boom",
    )


def test_issue_assignment_is_ignored() -> None:
    body = {"action": "assigned", "data": {"issue": {"id": 5}}}
    assert hook("issue", body).ignored_items == 1


def test_metric_alert_resolution_resolves_the_incident(payload: Load) -> None:
    body = payload("sentry", "007-metric-alert-critical-webhook")
    resolved = hook("metric_alert", {**body, "action": "resolved"}).alerts[0]
    fired = hook("metric_alert", body).alerts[0]
    assert fired.dedup_key == resolved.dedup_key == "sentry-metric-alert:7"
    assert resolved.status is AlertStatus.RESOLVED


def test_issue_without_id_names_the_field() -> None:
    with pytest.raises(PayloadError) as err:
        hook("issue", {"action": "created", "data": {"issue": {"title": "x"}}})
    assert err.value.field == "data.issue.id"
