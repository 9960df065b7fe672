"""Typed accessors: each mistake is a PayloadError naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signalcraft.ingest.fields import parse_time, severity_from, str_map
from signalcraft.ingest.model import PayloadError, Severity


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-27T19:31:44.834229618Z", datetime(2026, 11, 27, 19, 31, 44, 834229, UTC)),
        ("2026-11-27T20:31:44+01:00", datetime(2026, 11, 27, 19, 31, 44, tzinfo=UTC)),
        ("2026-11-27T19:31:44", datetime(2026, 11, 27, 19, 31, 44, tzinfo=UTC)),
        (1795795200, datetime(2026, 11, 27, 16, 0, tzinfo=UTC)),
        (1795795200.5, datetime(2026, 11, 27, 16, 0, 0, 500000, UTC)),
        (1795795200000, datetime(2026, 11, 27, 16, 0, tzinfo=UTC)),
        ("1795795200000", datetime(2026, 11, 27, 16, 0, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time_gives_aware_utc(value: object, expected: datetime | None) -> None:
    assert parse_time(value, "t") == expected


@pytest.mark.parametrize("value", [True, "soon", [], {}, float("nan"), 1e300, "9" * 400])
def test_parse_time_refuses_non_times(value: object) -> None:
    with pytest.raises(PayloadError) as err:
        parse_time(value, "alerts[0].startsAt")
    assert err.value.field == "alerts[0].startsAt"


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("critical", Severity.CRITICAL),
        ("FATAL", Severity.CRITICAL),
        ("page", Severity.CRITICAL),
        ("P1", Severity.CRITICAL),
        ("emergency", Severity.CRITICAL),
        ("alert", Severity.CRITICAL),
        ("error", Severity.ERROR),
        ("high", Severity.ERROR),
        ("major", Severity.ERROR),
        ("p2", Severity.ERROR),
        ("err", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("warn", Severity.WARNING),
        ("medium", Severity.WARNING),
        ("p3", Severity.WARNING),
        ("minor", Severity.WARNING),
        ("info", Severity.INFO),
        ("low", Severity.INFO),
        ("p4", Severity.INFO),
        ("p5", Severity.INFO),
        ("none", Severity.INFO),
        ("debug", Severity.INFO),
        ("ok", Severity.INFO),
        ("whatever", Severity.WARNING),
        ("", Severity.WARNING),
    ],
)
def test_severity_words(word: str, severity: Severity) -> None:
    assert severity_from(word) is severity


def test_str_map_coerces_scalars() -> None:
    assert str_map({"a": 1, "b": True, "c": None, "d": 1.5, "e": "x"}, "labels") == {
        "a": "1",
        "b": "true",
        "c": "",
        "d": "1.5",
        "e": "x",
    }


def test_str_map_refuses_nested_values_naming_the_key() -> None:
    with pytest.raises(PayloadError) as err:
        str_map({"team": {"name": "db"}}, "alerts[0].labels")
    assert err.value.field == "alerts[0].labels.team"


def test_str_map_clips_keys_and_values_to_1024() -> None:
    labels = str_map({"k" * 2000: "v" * 5000}, "labels")
    assert [(len(k), len(v)) for k, v in labels.items()] == [(1024, 1024)]


def test_more_than_256_labels_are_refused() -> None:
    str_map({str(i): "x" for i in range(256)}, "labels")
    with pytest.raises(PayloadError, match="at most 256") as err:
        str_map({str(i): "x" for i in range(257)}, "alerts[3].labels")
    assert err.value.field == "alerts[3].labels"
