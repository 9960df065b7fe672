"""Whatever arrives, parsers raise PayloadError or nothing: a 5xx would make senders retry.

Three kinds of input: random JSON-ish values (with keys the parsers look for), real
fixtures with one node replaced by random junk, and random or damaged bytes.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalcraft.ingest import alertmanager, datadog, generic, grafana, opsgenie, pagerduty, sentry
from signalcraft.ingest.jsonload import decode_body, load_json
from signalcraft.ingest.model import JSONValue, PayloadError

from .conftest import FIXTURES, fixture_inputs, read_input

NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,  # no .hypothesis/ in the checkout; failures print their example
    suppress_health_check=[HealthCheck.too_slow],
)
MAPPING = generic.FieldMapping(
    title="event.name",
    severity="event.level",
    dedup_key="id",
    status="state",
    description="details",
    labels="labels",
    alerts="alerts",
)
KEYS = [
    "alerts",
    "labels",
    "annotations",
    "status",
    "startsAt",
    "endsAt",
    "fingerprint",
    "alertname",
    "generatorURL",
    "groupLabels",
    "externalURL",
    "values",
    "title",
    "summary",
    "description",
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "source",
    "severity",
    "timestamp",
    "custom_details",
    "links",
    "images",
    "href",
    "src",
    "client_url",
    "message",
    "alias",
    "priority",
    "tags",
    "details",
    "user",
    "note",
    "exception",
    "stacktrace",
    "frames",
    "type",
    "value",
    "lineno",
    "in_app",
    "logentry",
    "level",
    "action",
    "data",
    "issue",
    "id",
    "event",
    "issue_id",
    "metric_alert",
    "alert_cycle_key",
    "transition",
    "date",
    "event.name",
    "state",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "P1",
            "trigger",
            "resolve",
            "firing",
            "0001-01-01T00:00:00Z",
            "2026-11-27T19:00:00Z",
            "{{ default }}",
            "critical",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=25,
)
Parser = Callable[[JSONValue], object]
PARSERS: dict[str, Parser] = {
    "alertmanager": lambda p: alertmanager.parse_webhook(p, {}),
    "prometheus": lambda p: alertmanager.parse_api_v2(p, {}, now=NOW),
    "grafana": lambda p: grafana.parse_webhook(p, {}),
    "pagerduty": lambda p: pagerduty.parse_event(p, {}, generated_key="g"),
    "pagerduty-change": lambda p: pagerduty.parse_change_event(p, {}),
    "opsgenie": lambda p: opsgenie.parse_create(p, {}),
    "opsgenie-action": lambda p: opsgenie.parse_action(p, {}, "close", "x", "alias"),
    "sentry-store": lambda p: sentry.parse_store(p, {}),
    "datadog": lambda p: datadog.parse(p, {}),
    "webhook": lambda p: generic.parse(p, {}, MAPPING),
    **{
        f"sentry-{resource}": (
            lambda r: lambda p: sentry.parse_integration_webhook(p, {"sentry-hook-resource": r})
        )(resource)
        for resource in ("issue", "event_alert", "error", "metric_alert")
    },
}
JSON_FIXTURES = [(path.parent.name, read_input(path)) for path in fixture_inputs() if path.suffix == ".json"]


def only_payload_errors(parse: Parser, payload: Any) -> None:
    """Run ``parse``; a PayloadError is fine, any other exception fails the test."""
    with contextlib.suppress(PayloadError):
        parse(payload)


@FUZZ
@given(st.sampled_from(sorted(PARSERS)), json_values)
def test_random_json_values_raise_only_payload_errors(name: str, payload: Any) -> None:
    only_payload_errors(PARSERS[name], payload)


def nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, child in children:
        found += nodes(child, (*path, key))
    return found


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def parsers_for(source: str) -> list[Parser]:
    if source == "sentry":
        return [PARSERS[n] for n in PARSERS if n.startswith("sentry-")]
    if source == "pagerduty":
        return [PARSERS["pagerduty"], PARSERS["pagerduty-change"]]
    if source == "opsgenie":
        return [PARSERS["opsgenie"], PARSERS["opsgenie-action"]]
    return [PARSERS[source]]


@FUZZ
@given(st.data())
def test_fixtures_with_one_node_replaced_raise_only_payload_errors(data: st.DataObject) -> None:
    source, doc = data.draw(st.sampled_from(JSON_FIXTURES))
    path = data.draw(st.sampled_from(nodes(doc)))
    mutated = replaced(doc, path, data.draw(json_values))
    for parse in parsers_for(source):
        only_payload_errors(parse, mutated)


ENVELOPES = [path.read_bytes() for path in sorted(FIXTURES.glob("sentry/*.envelope"))]


@FUZZ
@given(st.data())
def test_damaged_envelopes_raise_only_payload_errors(data: st.DataObject) -> None:
    body = bytearray(data.draw(st.sampled_from(ENVELOPES)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(body)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and pos < len(body):
            body[pos] = data.draw(st.sampled_from(b'\n{}[]":,0 x\xff'))
        elif action == "cut":
            del body[pos : pos + data.draw(st.integers(1, 50))]
        else:
            body[pos:pos] = data.draw(st.binary(max_size=8))
    only_payload_errors(lambda b: sentry.parse_envelope(b, {}), bytes(body))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_payload_errors(body: bytes) -> None:
    only_payload_errors(lambda b: sentry.parse_envelope(b, {}), body)
    only_payload_errors(load_json, body)
    for encoding in ("gzip", "deflate", "identity", "br"):
        only_payload_errors(lambda b, e=encoding: decode_body(b, e, max_bytes=1000), body)


@FUZZ
@given(st.lists(json_values, max_size=3))
def test_random_envelope_items_raise_only_payload_errors(items: list[Any]) -> None:
    lines = [b"{}"]
    for item in items:
        header = {"type": "event" if isinstance(item, dict) else "check_in"}
        lines += [json.dumps(header).encode(), json.dumps(item).encode()]
    only_payload_errors(lambda b: sentry.parse_envelope(b, {}), b"\n".join(lines))
