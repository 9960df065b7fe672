"""Generic JSON webhook: field paths and per-integration mappings."""

from __future__ import annotations

import json

import pytest

from signalcraft.ingest.generic import FieldMapping, parse, parse_path, preview
from signalcraft.ingest.model import PayloadError


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("title", ("title",)),
        ("data.items[0].name", ("data", "items", 0, "name")),
        ("[2].labels", (2, "labels")),
        ("matrix[1][0]", ("matrix", 1, 0)),
        ("@timestamp.alert-name", ("@timestamp", "alert-name")),
    ],
)
def test_valid_paths(text: str, steps: tuple[object, ...]) -> None:
    assert parse_path(text).steps == steps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot be empty"),
        (".title", "character 1"),
        ("a..b", "character 2"),
        ("a.", "character 2"),
        ("a[x]", "character 2"),
        ("a[-1]", "character 2"),
        ("a b", "character 2"),
        ("a" + ".b" * 40, "more than 32 steps"),
    ],
)
def test_invalid_paths_say_where(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_path(text)


def test_validate_names_the_mapping_field() -> None:
    with pytest.raises(ValueError, match=r"^labels: invalid path"):
        FieldMapping(title="t", labels="a..b").validate()
    FieldMapping(title="t", labels="meta").validate()


def test_missing_steps_resolve_to_nothing() -> None:
    assert parse_path("a[3].b").resolve({"a": [1]}) is None
    assert parse_path("a.b").resolve({"a": "text"}) is None


def test_missing_title_names_the_path_inside_the_list() -> None:
    mapping = FieldMapping(title="check", alerts="items")
    with pytest.raises(PayloadError) as err:
        parse({"items": [{"check": "a"}, {"check": None}]}, {}, mapping)
    assert err.value.field == "items[1].check"


def test_status_values_are_matched_case_insensitively() -> None:
    mapping = FieldMapping(title="t", status="s")
    assert parse({"t": "x", "s": "RESOLVED"}, {}, mapping).alerts[0].status.value == "resolved"


def test_preview_is_json_safe() -> None:
    rows = preview({"t": "Disk full", "sev": "crit"}, FieldMapping(title="t", severity="sev"))
    assert json.loads(json.dumps(rows))[0]["severity"] == "critical"
