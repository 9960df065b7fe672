"""Shared helpers for the ingest tests: where the payload fixtures live and how to load them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalcraft.ingest.jsonload import decode_body, load_json
from signalcraft.ingest.model import JSONValue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
INPUT_SUFFIXES = (".envelope.gz", ".envelope", ".json")
SIDE_FILES = (".expected.json", ".meta.json")


def input_suffix(path: Path) -> str:
    return next(s for s in INPUT_SUFFIXES if path.name.endswith(s))


def fixture_inputs() -> list[Path]:
    """Every payload fixture (not the ``.expected.json`` / ``.meta.json`` beside it)."""
    return sorted(
        p for p in FIXTURES.glob("*/*") if p.name.endswith(INPUT_SUFFIXES) and not p.name.endswith(SIDE_FILES)
    )


def read_input(path: Path) -> JSONValue | bytes:
    """A fixture's body as a parser receives it: decoded JSON, or envelope bytes."""
    body = path.read_bytes()
    if path.name.endswith(".gz"):
        body = decode_body(body, "gzip", max_bytes=10 * 1024 * 1024)
    if ".envelope" in path.name:
        return body
    return load_json(body)


@pytest.fixture
def payload() -> Callable[[str, str], JSONValue | bytes]:
    """``payload("pagerduty", "003-trigger-generated-key-links-images")``: a fixture's body."""

    def load(source: str, stem: str) -> JSONValue | bytes:
        for suffix in INPUT_SUFFIXES:
            path = FIXTURES / source / f"{stem}{suffix}"
            if path.exists():
                return read_input(path)
        raise FileNotFoundError(f"no fixture {source}/{stem}")

    return load
