"""API v2 bodies at the edges of the limits (``MAX_TEXT`` characters per label key or value,
``MAX_LABELS`` entries): the typed decoder and ``parse_api_v2`` give the same alerts, long
text is cut at ``MAX_TEXT`` characters (not bytes), and the same timestamp text parsed
again gives the same time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signalcraft.ingest.alertmanager import parse_api_v2_body
from signalcraft.ingest.fields import MAX_LABELS, MAX_TEXT

from .test_alertmanager_body import NOW, by_body, by_document


def body(labels: dict[str, Any], annotations: dict[str, Any] | None = None, **fields: str) -> bytes:
    alert: dict[str, Any] = {"labels": {"alertname": "A"} | labels, **fields}
    if annotations is not None:
        alert["annotations"] = annotations
    return json.dumps([alert]).encode()


EDGES = {
    "a value of exactly MAX_TEXT": body({"note": "n" * MAX_TEXT}),
    "a value one longer": body({"note": "n" * (MAX_TEXT + 1)}),
    "a key one longer": body({"k" * (MAX_TEXT + 1): "v"}),
    "MAX_TEXT two-byte characters": body({"note": "é" * MAX_TEXT}),
    "one more two-byte character": body({"note": "é" * (MAX_TEXT + 1)}),
    "an annotation one longer": body({}, {"summary": "s" * (MAX_TEXT + 1)}),
    "exactly MAX_LABELS labels": body({f"l{i}": "v" for i in range(MAX_LABELS - 1)}),
    "MAX_LABELS annotations and one more": body({}, {f"a{i}": "v" for i in range(MAX_LABELS + 1)}),
}


@pytest.mark.parametrize("sent", EDGES.values(), ids=EDGES.keys())
def test_bodies_at_the_limits_get_the_same_answer_either_way(sent: bytes) -> None:
    assert by_body(sent) == by_document(sent)


def test_long_label_values_and_annotations_are_cut_at_max_text_characters() -> None:
    [alert] = parse_api_v2_body(
        body({"note": "é" * (MAX_TEXT + 5)}, {"summary": "s" * 5000}), {}, now=NOW
    ).alerts
    assert alert.labels["note"] == "é" * MAX_TEXT
    assert alert.annotations["summary"] == "s" * MAX_TEXT
    [exact] = parse_api_v2_body(body({"note": "é" * MAX_TEXT}), {}, now=NOW).alerts
    assert exact.labels["note"] == "é" * MAX_TEXT


def test_a_timestamp_parsed_again_gives_the_same_time_and_a_bad_one_is_refused_each_time() -> None:
    sent = body({}, startsAt="2026-11-27T19:55:00.123Z", endsAt="2026-11-27T21:00:00+01:00")
    first, again = (parse_api_v2_body(sent, {}, now=NOW).alerts[0] for _ in range(2))
    assert (first.occurred_at, first.ended_at) == (again.occurred_at, again.ended_at)
    assert first.ended_at is not None and first.ended_at.isoformat() == "2026-11-27T20:00:00+00:00"
    bad = body({}, startsAt="yesterday")
    assert by_body(bad) == by_body(bad) == ("[0].startsAt", "is not an RFC 3339 timestamp: 'yesterday'")
