"""Request bodies to JSON: content decoding with a bomb guard, then a depth-checked parse.

Both functions raise only :class:`PayloadError` (or its subclass :class:`BodyTooLarge`),
so a route can map every client mistake to a 4xx in one place.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import brotli
import orjson

from signalcraft.ingest.model import JSONValue, PayloadError

MAX_DEPTH = 64


class BodyTooLarge(PayloadError):
    """The (decoded) body is larger than allowed: map it to ``413``, not ``400``."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__("", f"body larger than {max_bytes} bytes once decoded")
        self.max_bytes = max_bytes


def load_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> JSONValue:
    """Parse ``body`` as UTF-8 JSON and refuse documents nested deeper than ``max_depth``.

    orjson refuses invalid UTF-8 and (at 1024 levels) absurd nesting itself; the
    tighter depth check here bounds every walk the parsers do afterwards.
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("", f"invalid JSON: {exc}") from None
    # Each level opens a bracket, so a body with no more brackets than the limit cannot be
    # too deep (most bodies): two counts in C instead of a walk over every node.
    if body.count(b"[") + body.count(b"{") > max_depth and json_depth(value) > max_depth:
        raise PayloadError("", f"JSON nested deeper than {max_depth} levels")
    return value


def json_depth(value: JSONValue) -> int:
    """Nesting depth of a decoded document (a scalar is 0, ``[]`` is 1), iteratively."""
    deepest = 0
    stack: list[tuple[JSONValue, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[JSONValue]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def decode_body(body: bytes, content_encoding: str | None, *, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, br, identity), refusing output over ``max_bytes``.

    sentry-sdk 2.x sends brotli (``br``) whenever the brotli module is importable in the app.

    Encodings listed as ``gzip, identity`` were applied in that order, so they are
    undone last to first (RFC 9110 section 8.4). ``deflate`` is meant to be zlib-wrapped,
    but some clients send raw deflate: both are accepted. Decompression stops as soon
    as the output passes ``max_bytes``, so a small bomb never becomes a large buffer.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    data = body
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            data = _inflate(data, zlib.MAX_WBITS | 16, max_bytes)
        elif coding == "deflate":
            wbits = zlib.MAX_WBITS if _has_zlib_header(data) else -zlib.MAX_WBITS
            data = _inflate(data, wbits, max_bytes)
        elif coding == "br":
            data = _unbrotli(data, max_bytes)
        else:
            raise PayloadError("content-encoding", f"unsupported encoding {coding!r}")
    if len(data) > max_bytes:
        raise BodyTooLarge(max_bytes)
    return data


def _unbrotli(data: bytes, max_bytes: int) -> bytes:
    """Brotli-decompress without letting the output grow past ``max_bytes``."""
    decompressor = brotli.Decompressor()
    out = bytearray()
    try:
        out += decompressor.process(data, output_buffer_limit=max_bytes + 1)
        while len(out) <= max_bytes and not decompressor.can_accept_more_data():
            out += decompressor.process(b"", output_buffer_limit=max_bytes + 1 - len(out))
    except brotli.error as exc:
        raise PayloadError("content-encoding", f"corrupt brotli body: {exc}") from None
    if len(out) > max_bytes:
        raise BodyTooLarge(max_bytes)
    if not decompressor.is_finished():
        raise PayloadError("content-encoding", "truncated brotli body")
    return bytes(out)


def _has_zlib_header(data: bytes) -> bool:
    """RFC 1950: CM=8 in the low nibble and the two header bytes a multiple of 31."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _inflate(data: bytes, wbits: int, max_bytes: int) -> bytes:
    """Decompress ``data`` (possibly several gzip members) without exceeding ``max_bytes``."""
    out = bytearray()
    pending = data
    while pending:
        stream = zlib.decompressobj(wbits)
        chunk = pending
        try:
            while not stream.eof:
                # max_length is always >= 1 here (0 would mean "unlimited").
                piece = stream.decompress(chunk, max_bytes + 1 - len(out))
                out += piece
                if len(out) > max_bytes:
                    raise BodyTooLarge(max_bytes)
                chunk = stream.unconsumed_tail
                if not piece and not chunk:
                    break
        except zlib.error as exc:
            raise PayloadError("content-encoding", f"corrupt compressed body: {exc}") from None
        if not stream.eof:
            raise PayloadError("content-encoding", "truncated compressed body")
        # Only gzip allows concatenated members; trailing bytes after deflate are junk.
        pending = stream.unused_data if wbits > zlib.MAX_WBITS else b""
    return bytes(out)
