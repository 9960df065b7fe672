"""Opsgenie Alert API: create, and close/acknowledge by identifier."""

from __future__ import annotations

import pytest

from signalcraft.ingest.model import PayloadError, Severity
from signalcraft.ingest.opsgenie import AlertAction, parse_action, parse_create


def test_message_is_cut_to_130_characters_like_opsgenie() -> None:
    alert = parse_create({"message": "m" * 500}, {}).alerts[0]
    assert alert.title == "m" * 130


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        (None, Severity.WARNING),
        ("P1", Severity.CRITICAL),
        ("P2", Severity.ERROR),
        ("P3", Severity.WARNING),
        ("P4", Severity.INFO),
        ("P5", Severity.INFO),
    ],
)
def test_priority_maps_to_severity(priority: str | None, severity: Severity) -> None:
    assert parse_create({"message": "m", "priority": priority}, {}).alerts[0].severity is severity


@pytest.mark.parametrize("priority", ["P0", "p1", "high", 1])
def test_invalid_priority_names_the_field(priority: object) -> None:
    with pytest.raises(PayloadError) as err:
        parse_create({"message": "m", "priority": priority}, {})
    assert err.value.field == "priority"


def test_alias_is_the_dedup_key_and_too_long_an_alias_is_refused() -> None:
    assert parse_create({"message": "m", "alias": "a" * 512}, {}).alerts[0].dedup_key == "a" * 512
    with pytest.raises(PayloadError) as err:
        parse_create({"message": "m", "alias": "a" * 513}, {})
    assert err.value.field == "alias"


def test_without_alias_the_pipeline_fingerprints() -> None:
    assert parse_create({"message": "m"}, {}).alerts[0].dedup_key is None


def test_each_tag_becomes_its_own_label() -> None:
    labels = parse_create({"message": "m", "tags": ["db", "prod"]}, {}).alerts[0].labels
    assert labels == {"tag.db": "true", "tag.prod": "true"}


def test_a_non_string_tag_names_its_position() -> None:
    with pytest.raises(PayloadError) as err:
        parse_create({"message": "m", "tags": ["db", {"x": 1}]}, {})
    assert err.value.field == "tags[1]"


def test_close_with_an_empty_body() -> None:
    action = parse_action(None, {}, "close", "abc", "tiny")
    assert action == AlertAction(identifier="abc", identifier_type="tiny", action="close")


@pytest.mark.parametrize(
    ("action", "identifier", "identifier_type", "field"),
    [
        ("snooze", "abc", "id", "action"),
        ("close", "abc", "name", "identifierType"),
        ("close", " ", "id", "identifier"),
    ],
)
def test_bad_action_requests_name_the_part(
    action: str, identifier: str, identifier_type: str, field: str
) -> None:
    with pytest.raises(PayloadError) as err:
        parse_action({}, {}, action, identifier, identifier_type)
    assert err.value.field == field
