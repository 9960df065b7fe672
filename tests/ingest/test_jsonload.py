"""Bodies to JSON: content decoding with a bomb guard, and a depth-checked parse."""

from __future__ import annotations

import gzip
import zlib

import pytest

from signalcraft.ingest.jsonload import BodyTooLarge, decode_body, json_depth, load_json
from signalcraft.ingest.model import PayloadError


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_json_nested_64_levels_is_accepted() -> None:
    assert json_depth(load_json(nested(64))) == 64


def test_json_nested_65_levels_is_refused() -> None:
    with pytest.raises(PayloadError, match="nested deeper than 64 levels") as err:
        load_json(nested(65))
    assert err.value.field == ""


def test_objects_count_towards_the_depth_too() -> None:
    body = b'{"a":' * 65 + b"1" + b"}" * 65
    with pytest.raises(PayloadError, match="deeper"):
        load_json(body)


def test_absurd_nesting_is_a_payload_error_not_a_recursion_error() -> None:
    with pytest.raises(PayloadError):
        load_json(nested(200_000))


def test_wide_documents_are_fine() -> None:
    assert json_depth(load_json(b"[" + b",".join([b"[1]"] * 50_000) + b"]")) == 2


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1,}', b'"\xff"', b"NaN"])
def test_invalid_json_or_utf8_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadError, match="invalid JSON"):
        load_json(body)


def test_gzip_body_is_decoded() -> None:
    assert decode_body(gzip.compress(b'{"a": 1}'), "gzip", max_bytes=100) == b'{"a": 1}'


def test_concatenated_gzip_members_are_all_decoded() -> None:
    body = gzip.compress(b"abc") + gzip.compress(b"def")
    assert decode_body(body, "x-gzip", max_bytes=100) == b"abcdef"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_accepts_zlib_wrapped_and_raw_streams(wbits: int) -> None:
    compressor = zlib.compressobj(wbits=wbits)
    body = compressor.compress(b"hello deflate") + compressor.flush()
    assert decode_body(body, "Deflate", max_bytes=100) == b"hello deflate"


def test_identity_and_no_encoding_pass_through() -> None:
    assert decode_body(b"x", None, max_bytes=1) == b"x"
    assert decode_body(b"x", "identity", max_bytes=1) == b"x"


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # about 20 KB on the wire
    with pytest.raises(BodyTooLarge) as err:
        decode_body(bomb, "gzip", max_bytes=1024 * 1024)
    assert isinstance(err.value, PayloadError)


def test_body_exactly_at_the_limit_is_accepted() -> None:
    assert len(decode_body(gzip.compress(b"a" * 1000), "gzip", max_bytes=1000)) == 1000


def test_plain_body_over_the_limit_is_refused() -> None:
    with pytest.raises(BodyTooLarge):
        decode_body(b"x" * 11, None, max_bytes=10)


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (b"not gzip", "gzip", "corrupt"),
        (gzip.compress(b"a" * 100, mtime=0)[:-12], "gzip", "truncated"),
        (b"x", "zstd", "unsupported"),
    ],
)
def test_bad_encodings_name_the_header(body: bytes, encoding: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message) as err:
        decode_body(body, encoding, max_bytes=1000)
    assert err.value.field == "content-encoding"


def test_brotli_bodies_are_decoded_as_sentry_sdk_sends_them() -> None:
    import brotli

    body = b'{"hello": "world"}' * 100
    assert decode_body(brotli.compress(body), "br", max_bytes=10_000) == body


def test_a_brotli_bomb_stops_at_the_limit() -> None:
    import brotli

    bomb = brotli.compress(b"\0" * 5_000_000)
    with pytest.raises(BodyTooLarge):
        decode_body(bomb, "br", max_bytes=100_000)


def test_corrupt_or_truncated_brotli_is_a_400_not_a_crash() -> None:
    import brotli

    good = brotli.compress(b"x" * 10_000)
    for broken in (b"not brotli at all", good[: len(good) // 2]):
        with pytest.raises(PayloadError) as info:
            decode_body(broken, "br", max_bytes=100_000)
        assert info.value.field == "content-encoding"
