"""Every payload fixture, parsed by its parser, must give its ``.expected.json``.

Which parser: the directory's default below, or ``parser`` in ``NNN-name.meta.json``
(with ``kwargs`` and ``headers``). Errors are expected as ``{"error": {field, message}}``.
``SIGNALCRAFT_REGEN_FIXTURES=1`` rewrites the expected files: review the diff by eye.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from signalcraft.ingest.generic import FieldMapping
from signalcraft.ingest.model import ParseResult, PayloadError
from signalcraft.ingest.normalize import result_to_dict, rfc3339
from signalcraft.ingest.opsgenie import AlertAction
from signalcraft.ingest.sentry import EnvelopeHeader

from .conftest import FIXTURES, fixture_inputs, input_suffix, read_input

REGEN = os.environ.get("SIGNALCRAFT_REGEN_FIXTURES") == "1"
DEFAULT_PARSERS = {
    "alertmanager": "alertmanager.parse_webhook",
    "prometheus": "alertmanager.parse_api_v2",
    "grafana": "grafana.parse_webhook",
    "pagerduty": "pagerduty.parse_event",
    "opsgenie": "opsgenie.parse_create",
    "sentry": "sentry.parse_envelope",
    "datadog": "datadog.parse",
    "webhook": "generic.parse",
}
DEFAULT_KWARGS: dict[str, dict[str, Any]] = {
    "pagerduty.parse_event": {"generated_key": "generated-key"},
}


def _parser(name: str) -> Callable[..., object]:
    module, function = name.split(".")
    return getattr(importlib.import_module(f"signalcraft.ingest.{module}"), function)  # type: ignore[no-any-return]


def _kwargs(parser: str, meta: dict[str, Any]) -> dict[str, Any]:
    kwargs = {**DEFAULT_KWARGS.get(parser, {}), **meta.get("kwargs", {})}
    if "now" in kwargs:
        kwargs["now"] = datetime.fromisoformat(kwargs["now"])
    if "mapping" in kwargs:
        kwargs["mapping"] = FieldMapping(**kwargs["mapping"])
    return kwargs


def render(result: object) -> Any:
    if isinstance(result, ParseResult):
        return result_to_dict(result)
    if isinstance(result, AlertAction):
        return {"alert_action": dataclasses.asdict(result)}
    if isinstance(result, tuple) and isinstance(result[0], EnvelopeHeader):
        header: EnvelopeHeader = result[0]
        summary = {
            "event_id": header.event_id,
            "dsn": header.dsn,
            "sent_at": rfc3339(header.sent_at),
        }
        return {"envelope_header": summary, **result_to_dict(result[1])}
    raise TypeError(f"unexpected parser result {result!r}")


def parse_fixture(path: Path) -> Any:
    meta_path = path.with_name(path.name.removesuffix(input_suffix(path)) + ".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    parser = meta.get("parser", DEFAULT_PARSERS[path.parent.name])
    try:
        result = _parser(parser)(read_input(path), meta.get("headers", {}), **_kwargs(parser, meta))
    except PayloadError as exc:
        return {"error": {"field": exc.field, "message": exc.message}}
    # Round-trip so tuples and lists compare equal to what the expected file holds.
    return json.loads(json.dumps(render(result)))


@pytest.mark.parametrize("path", fixture_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_parses_to_its_expected_result(path: Path) -> None:
    expected_path = path.with_name(path.name.removesuffix(input_suffix(path)) + ".expected.json")
    actual = parse_fixture(path)
    if REGEN:
        expected_path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert expected_path.exists(), f"missing {expected_path.relative_to(FIXTURES)}"
    assert actual == json.loads(expected_path.read_text())


def test_every_source_directory_has_fixtures() -> None:
    assert {p.parent.name for p in fixture_inputs()} == set(DEFAULT_PARSERS)
