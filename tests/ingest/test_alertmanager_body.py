"""``parse_api_v2_body`` (the typed decoder the API v2 route uses) answers exactly as
``parse_api_v2(load_json(body))`` does: the same alerts for every body it accepts, the same
field and words for every body it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalcraft.ingest.alertmanager import parse_api_v2, parse_api_v2_body
from signalcraft.ingest.jsonload import load_json
from signalcraft.ingest.model import ParseResult, PayloadError

from .conftest import FIXTURES

NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)


def outcome(parse: Any, body: bytes) -> ParseResult | tuple[str, str]:
    try:
        result: ParseResult = parse(body)
    except PayloadError as exc:
        return exc.field, exc.message
    return result


def by_body(body: bytes) -> ParseResult | tuple[str, str]:
    return outcome(lambda b: parse_api_v2_body(b, {}, now=NOW), body)


def by_document(body: bytes) -> ParseResult | tuple[str, str]:
    return outcome(lambda b: parse_api_v2(load_json(b), {}, now=NOW), body)


PROMETHEUS = sorted(p for p in (FIXTURES / "prometheus").glob("*.json") if p.name.count(".") == 1)

ALERT: dict[str, Any] = {
    "labels": {"alertname": "HighLoad", "instance": "host-1:9100", "severity": "critical"},
    "annotations": {"summary": "load above 4", "description": "for 5 minutes"},
    "startsAt": "2026-11-27T19:55:00.000Z",
    "endsAt": "2026-11-27T22:00:00.000Z",
    "generatorURL": "http://prometheus:9090/graph?g0.expr=node_load1",
}


def variant(**changes: Any) -> bytes:
    alert = {k: v for k, v in (ALERT | changes).items() if v is not ...}
    return json.dumps([alert]).encode()


BODIES = {
    "the common shape": variant(),
    "resolved (endsAt passed)": variant(endsAt="2026-11-27T19:59:00Z"),
    "only labels": json.dumps([{"labels": {"alertname": "A"}}]).encode(),
    "empty array": b"[]",
    "an extra field goes into annotations": variant(runbook="http://wiki/runbook"),
    "null annotations": variant(annotations=None),
    "empty generatorURL": variant(generatorURL=""),
    "a number as a label value": variant(labels={"alertname": "A", "port": 9100}),
    "missing alertname": variant(labels={"job": "node"}),
    "blank alertname": variant(labels={"alertname": "  "}),
    "labels missing": variant(labels=...),
    "labels not an object": variant(labels=["alertname"]),
    "an epoch as a string": variant(startsAt="1795800000"),
    "Go's zero time": variant(endsAt="0001-01-01T00:00:00Z"),
    "a bad time": variant(startsAt="yesterday"),
    "a nested annotation": variant(annotations={"summary": {"text": "x"}}),
    "a long label value is clipped": variant(labels={"alertname": "A", "note": "n" * 3000}),
    "257 labels": variant(labels={"alertname": "A"} | {f"l{i}": "v" for i in range(256)}),
    "1001 alerts": json.dumps([{"labels": {"alertname": "A"}}] * 1001).encode(),
    "not an array": json.dumps(ALERT).encode(),
    "invalid JSON": b'[{"labels": ',
    "invalid UTF-8": b'[{"labels": {"alertname": "\xff"}}]',
    "a lone surrogate": b'[{"labels": {"alertname": "\\ud800"}}]',
    "nested 65 deep": b"[" * 65 + b"]" * 65,
    "second alert bad": json.dumps([ALERT, {"labels": {"job": "x"}}]).encode(),
}


@pytest.mark.parametrize("body", [p.read_bytes() for p in PROMETHEUS], ids=[p.stem for p in PROMETHEUS])
def test_every_prometheus_fixture_parses_the_same_either_way(body: bytes) -> None:
    assert by_body(body) == by_document(body)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_each_shape_and_each_mistake_gets_the_same_answer_either_way(body: bytes) -> None:
    assert by_body(body) == by_document(body)


def test_the_common_shape_keeps_the_alert_as_sent_in_raw() -> None:
    result = parse_api_v2_body(variant(), {}, now=NOW)
    assert isinstance(result, ParseResult)
    assert result.alerts[0].raw == ALERT


def test_refusals_still_name_the_field() -> None:
    assert by_body(json.dumps([ALERT, {"labels": {"job": "x"}}]).encode()) == (
        "[1].labels.alertname",
        "is missing or blank",
    )
    assert by_body(b"[" * 65 + b"]" * 65) == ("", "JSON nested deeper than 64 levels")


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
TIMES = st.one_of(
    st.sampled_from(["2026-11-27T19:55:00Z", "2026-11-27T20:00:00+01:00", "0001-01-01T00:00:00Z", "", "x"]),
    st.integers(min_value=0, max_value=2_000_000_000_000).map(str),
    SCALARS,
)
NAMES = st.sampled_from(["alertname", "job", "severity", "summary", "a"])
STRINGS = st.dictionaries(NAMES, st.text(max_size=6))
ALERTS = st.fixed_dictionaries(
    {"labels": st.one_of(STRINGS, st.dictionaries(st.text(max_size=3), SCALARS, max_size=3), SCALARS)},
    optional={
        "annotations": st.one_of(STRINGS, SCALARS),
        "startsAt": TIMES,
        "endsAt": TIMES,
        "generatorURL": st.one_of(st.text(max_size=10), SCALARS),
        "fingerprint": st.text(max_size=4),
        "extra": SCALARS,
    },
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALERTS, max_size=4))
def test_random_postable_alerts_get_the_same_answer_either_way(alerts: list[dict[str, Any]]) -> None:
    body = json.dumps(alerts).encode()
    assert by_body(body) == by_document(body)
