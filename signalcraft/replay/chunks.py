"""A chunk request body -> a validated :class:`Chunk`, and what a session's chunks add up to.

The wire format (what static/replay/recorder.js sends)::

    {"seq": 0, "events": [<rrweb event>, ...], "user_id": "optional"}

Each event must be an object with an integer ``type`` (rrweb's EventType, 0..6) and a
numeric ``timestamp`` (ms). The rest of an event is rrweb's business and is stored as sent.
While parsing, the few facts the metadata needs are taken out (first and last timestamp,
page URLs from Meta events, errors from Custom events tagged "error"), so finalizing a
session never parses its events again. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from signalcraft.ingest.model import PayloadError

MAX_EVENTS = 100_000
MAX_SEQ = 1_000_000_000
MAX_URL = 2000
MAX_MESSAGE = 500
MAX_USER_ID = 200
MAX_ERRORS_KEPT = 100
EVENT_META = 4
EVENT_CUSTOM = 5
ERROR_TAG = "error"


@dataclass(frozen=True, slots=True)
class ErrorMark:
    at_ms: int
    message: str


@dataclass(frozen=True, slots=True)
class ErrorOffset:
    """An error as the player shows it: milliseconds after the session's first event."""

    offset_ms: int
    message: str


@dataclass(frozen=True, slots=True)
class ChunkFacts:
    """What a chunk contributes to its session's metadata (kept in the spool line's header)."""

    seq: int
    event_count: int
    first_ms: int
    last_ms: int
    urls: tuple[str, ...] = ()
    errors: tuple[ErrorMark, ...] = ()
    user_id: str = ""

    def header(self) -> bytes:
        return orjson.dumps(
            {
                "seq": self.seq,
                "n": self.event_count,
                "t0": self.first_ms,
                "t1": self.last_ms,
                "urls": self.urls,
                "errors": [[e.at_ms, e.message] for e in self.errors],
                "user_id": self.user_id,
            }
        )

    @classmethod
    def from_header(cls, raw: bytes) -> ChunkFacts:
        d = orjson.loads(raw)
        return cls(
            int(d["seq"]),
            int(d["n"]),
            int(d["t0"]),
            int(d["t1"]),
            tuple(d["urls"]),
            tuple(ErrorMark(int(at), str(msg)) for at, msg in d["errors"]),
            str(d["user_id"]),
        )


@dataclass(frozen=True, slots=True)
class Chunk:
    facts: ChunkFacts
    events_json: bytes  # the events array as one line of JSON


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A whole session's metadata, from its chunks' facts in sequence order."""

    client_start_ms: int = 0
    duration_ms: int = 0
    event_count: int = 0
    chunk_count: int = 0
    urls: tuple[str, ...] = ()
    errors: tuple[ErrorOffset, ...] = ()
    error_count: int = 0
    user_id: str = ""


def parse_chunk(body: bytes) -> Chunk:
    """Validate a request body; PayloadError (400) names the first bad field."""
    doc = _load(body)
    if not isinstance(doc, dict):
        raise PayloadError("", "must be a JSON object with seq and events")
    seq = doc.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        raise PayloadError("seq", f"must be an integer from 0 to {MAX_SEQ}")
    events = doc.get("events")
    if not isinstance(events, list) or not events:
        raise PayloadError("events", "must be a non-empty list of rrweb events")
    if len(events) > MAX_EVENTS:
        raise PayloadError("events", f"at most {MAX_EVENTS} events a chunk")
    user_id = doc.get("user_id", "")
    if not isinstance(user_id, str) or len(user_id) > MAX_USER_ID:
        raise PayloadError("user_id", f"must be a string of at most {MAX_USER_ID} characters")
    stamps = [_timestamp(event, i) for i, event in enumerate(events)]
    facts = ChunkFacts(seq, len(events), min(stamps), max(stamps), _urls(events), _errors(events), user_id)
    return Chunk(facts, orjson.dumps(events))


def _load(body: bytes) -> Any:
    """orjson, without ingest.jsonload's depth walk: that limit guards the alert parsers'
    recursive walks, while events are never walked here (rrweb nests two levels per DOM level,
    so deep pages are normal), and orjson itself refuses documents nested over 1024 levels.
    The walk would cost three times the parse (measured on a 70 KB snapshot chunk)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("", f"invalid JSON: {exc}") from None


def _timestamp(event: Any, index: int) -> int:
    if not isinstance(event, dict):
        raise PayloadError(f"events[{index}]", "must be an object")
    kind = event.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool) or not 0 <= kind <= 6:
        raise PayloadError(f"events[{index}].type", "must be an rrweb event type (0 to 6)")
    stamp = event.get("timestamp")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool) or not 0 < stamp < 1e14:
        raise PayloadError(f"events[{index}].timestamp", "must be a time in milliseconds since 1970")
    return int(stamp)


def _urls(events: list[Any]) -> tuple[str, ...]:
    found: list[str] = []
    for event in events:
        data = event.get("data")
        if event["type"] == EVENT_META and isinstance(data, dict) and isinstance(data.get("href"), str):
            href = data["href"][:MAX_URL]
            if href not in found:
                found.append(href)
    return tuple(found)


def _errors(events: list[Any]) -> tuple[ErrorMark, ...]:
    found: list[ErrorMark] = []
    for event in events:
        data = event.get("data")
        if event["type"] != EVENT_CUSTOM or not isinstance(data, dict) or data.get("tag") != ERROR_TAG:
            continue
        payload = data.get("payload")
        message = payload.get("message") if isinstance(payload, dict) else payload
        found.append(ErrorMark(int(event["timestamp"]), str(message or "error")[:MAX_MESSAGE]))
    return tuple(found)


def summarize(facts: Iterable[ChunkFacts]) -> SessionSummary:
    """Chunks' facts (in sequence order, duplicates already dropped) -> session metadata."""
    ordered = list(facts)
    if not ordered:
        return SessionSummary()
    start = min(f.first_ms for f in ordered)
    end = max(f.last_ms for f in ordered)
    urls: list[str] = []
    errors: list[ErrorMark] = []
    user_id = ""
    for f in ordered:
        urls.extend(u for u in f.urls if u not in urls)
        errors.extend(f.errors)
        user_id = f.user_id or user_id
    errors.sort(key=lambda e: e.at_ms)
    kept = tuple(ErrorOffset(e.at_ms - start, e.message) for e in errors[:MAX_ERRORS_KEPT])
    return SessionSummary(
        start,
        end - start,
        sum(f.event_count for f in ordered),
        len(ordered),
        tuple(urls),
        kept,
        len(errors),
        user_id,
    )
