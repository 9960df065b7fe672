"""Session ids, recorder keys and origins (what ends up in paths and the allow-list), and
chunk bodies -> validated chunks and session summaries. All pure: table-driven."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalcraft.errors import InvalidInput
from signalcraft.ingest.model import PayloadError
from signalcraft.replay.chunks import ChunkFacts, ErrorMark, parse_chunk, summarize
from signalcraft.replay.ids import check_session_id, is_public_key, new_public_key
from signalcraft.replay.origins import normalize_origin, origin_allowed, parse_origins
from tests.replay.conftest import body, error_event, recorded_events


@pytest.mark.parametrize("good", ["0123456789abcdef0123456789abcdef", "a" * 16, "A-b_C" * 12 + "abcd"])
def test_session_ids_of_16_to_64_url_safe_characters_are_accepted(good: str) -> None:
    assert check_session_id(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "..%2F..%2Fx" + "a" * 10,
        "a" * 15,
        "a" * 65,
        "abc/def/ghi/jkl/mn",
        "abcdefghijklmnop.",
        "abcdefghijklmnop\x00",
        "",
        "abcdefghijklmnop\n",
        "..........abcdefgh",
    ],
)
def test_anything_else_is_refused_before_it_reaches_a_path(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_session_id(bad)
    assert info.value.field == "session_id"


def test_a_new_public_key_has_the_checked_shape_and_is_random() -> None:
    keys = {new_public_key() for _ in range(50)}
    assert len(keys) == 50 and all(is_public_key(k) for k in keys)
    assert not is_public_key("scr_../../../../../../../../x") and not is_public_key("sck_" + "a" * 24)


@pytest.mark.parametrize(
    ("typed", "origin"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com:443/", "https://shop.example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:80", "http://localhost"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_normalized_as_browsers_send_them(typed: str, origin: str) -> None:
    assert normalize_origin(typed) == origin


@pytest.mark.parametrize(
    "bad",
    [
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/app",
        "https://user@shop.example.com",
        "https://shop.example.com?x=1",
        "https://",
        "https://shop_example.com",
        "https://shop.example.com:99999",
        "*",
    ],
)
def test_anything_that_is_not_an_origin_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_origin(bad)
    assert info.value.field == "allowed_origins"


def test_the_allow_list_is_parsed_from_lines_or_commas_without_duplicates() -> None:
    found = parse_origins("https://a.example.com\nhttps://A.example.com:443, http://localhost:3000\n\n")
    assert found == ("https://a.example.com", "http://localhost:3000")
    assert origin_allowed("http://localhost:3000", found)
    assert not origin_allowed("http://localhost:3001", found) and not origin_allowed("", found)
    assert not origin_allowed("null", found)


def test_a_recorded_chunk_keeps_its_events_and_yields_its_facts() -> None:
    events = recorded_events()
    events.append(error_event(events[-1]["timestamp"] + 5, "TypeError: cart is undefined"))
    chunk = parse_chunk(body(3, events, user_id="customer-42"))
    assert orjson.loads(chunk.events_json) == events
    facts = chunk.facts
    assert (facts.seq, facts.event_count, facts.user_id) == (3, 13, "customer-42")
    assert facts.first_ms == min(e["timestamp"] for e in events)
    assert facts.last_ms == events[-1]["timestamp"]
    assert facts.urls == (events[2]["data"]["href"],)  # the Meta event
    assert facts.errors == (ErrorMark(events[-1]["timestamp"], "TypeError: cart is undefined"),)
    assert ChunkFacts.from_header(facts.header()) == facts


def _event(**kw: Any) -> dict[str, Any]:
    return {"type": 3, "timestamp": 1_700_000_000_000, "data": {}, **kw}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", ""),
        (b"[]", ""),
        (orjson.dumps({"events": [_event()]}), "seq"),
        (orjson.dumps({"seq": -1, "events": [_event()]}), "seq"),
        (orjson.dumps({"seq": True, "events": [_event()]}), "seq"),
        (orjson.dumps({"seq": "1", "events": [_event()]}), "seq"),
        (orjson.dumps({"seq": 0}), "events"),
        (orjson.dumps({"seq": 0, "events": []}), "events"),
        (orjson.dumps({"seq": 0, "events": {"type": 3}}), "events"),
        (orjson.dumps({"seq": 0, "events": [_event(), 7]}), "events[1]"),
        (orjson.dumps({"seq": 0, "events": [_event(type=9)]}), "events[0].type"),
        (orjson.dumps({"seq": 0, "events": [_event(type="3")]}), "events[0].type"),
        (orjson.dumps({"seq": 0, "events": [{"type": 3}]}), "events[0].timestamp"),
        (orjson.dumps({"seq": 0, "events": [_event(timestamp="now")]}), "events[0].timestamp"),
        (orjson.dumps({"seq": 0, "events": [_event(timestamp=-5)]}), "events[0].timestamp"),
        (orjson.dumps({"seq": 0, "events": [_event()], "user_id": 42}), "user_id"),
        (orjson.dumps({"seq": 0, "events": [_event()], "user_id": "u" * 201}), "user_id"),
        (b'{"seq": 0, "events": [' + b'{"a": [' * 600 + b"]}" * 600 + b"]}", ""),
    ],
)
def test_a_bad_chunk_is_refused_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_chunk(raw)
    assert info.value.field == field


def test_a_session_summary_comes_from_its_chunks_in_order() -> None:
    first = ChunkFacts(0, 10, 1_000, 5_000, ("https://s.example/a",), (ErrorMark(4_000, "boom"),), "")
    second = ChunkFacts(
        1,
        5,
        6_000,
        61_000,
        ("https://s.example/a", "https://s.example/b"),
        (ErrorMark(60_000, "again"),),
        "u-1",
    )
    summary = summarize([first, second])
    assert (summary.client_start_ms, summary.duration_ms, summary.event_count) == (1_000, 60_000, 15)
    assert summary.urls == ("https://s.example/a", "https://s.example/b")
    assert [(e.offset_ms, e.message) for e in summary.errors] == [(3_000, "boom"), (59_000, "again")]
    assert (summary.error_count, summary.chunk_count, summary.user_id) == (2, 2, "u-1")
    assert summarize([]).event_count == 0
