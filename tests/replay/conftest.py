"""Replay fixtures: a workspace with its recorder set up, and chunks made from a session
recorded with rrweb in Chromium (tests/fixtures/replays/checkout.events.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from litestar.testing import TestClient

from signalcraft.db.queries import replays as rq
from signalcraft.replay import tasks as replay_tasks
from signalcraft.replay.ids import new_public_key
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "replays"
ORIGIN = "https://shop.example.com"
SESSION = "0123456789abcdef0123456789abcdef"


def recorded_events() -> list[dict[str, Any]]:
    """12 events: DomContentLoaded, Load, Meta, FullSnapshot, then typing and a click."""
    events: list[dict[str, Any]] = orjson.loads((FIXTURES / "checkout.events.json").read_bytes())
    return events


def error_event(timestamp: int, message: str) -> dict[str, Any]:
    return {"type": 5, "timestamp": timestamp, "data": {"tag": "error", "payload": {"message": message}}}


def body(seq: int, events: list[dict[str, Any]], **extra: Any) -> bytes:
    return orjson.dumps({"seq": seq, "events": events, **extra})


def chunk_url(key: str, session: str = SESSION) -> str:
    return f"/replay/{key}/sessions/{session}/chunks"


@pytest.fixture
def recorder(parts: Parts, owner: Member, clock: FakeClock) -> rq.Recorder:
    """acme's recorder: origin https://shop.example.com, default sampling."""
    return parts.ctx.db.write(
        lambda c: rq.save_recorder(c, owner.workspace.id, new_public_key(), (ORIGIN,), None, clock())
    )


class Browser:
    """What a page on the allowed origin sends (the Origin header a browser adds)."""

    def __init__(self, client: TestClient, key: str, origin: str = ORIGIN) -> None:  # type: ignore[type-arg]
        self.client, self.key, self.origin = client, key, origin

    def send(self, seq: int, events: list[dict[str, Any]], session: str = SESSION, **extra: Any):  # type: ignore[no-untyped-def]
        return self.client.post(
            chunk_url(self.key, session),
            content=body(seq, events, **extra),
            headers={"Origin": self.origin, "Content-Type": "text/plain;charset=UTF-8"},
        )


@pytest.fixture
def browser(client: TestClient, recorder: rq.Recorder) -> Browser:  # type: ignore[type-arg]
    return Browser(client, recorder.public_key)


@pytest.fixture
def tasks(parts: Parts) -> dict[str, Any]:
    """The replay tasks, registered by the runtime once it is wired, else here."""
    found: dict[str, Any] = parts.ctx.extras.get("tasks", {})
    if "replay_finalize" not in found:
        found = {**found, **replay_tasks.register(parts.ctx.huey, parts.ctx)}  # type: ignore[arg-type]
    return found
