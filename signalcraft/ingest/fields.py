"""Typed accessors for decoded JSON: every mistake becomes a PayloadError naming the field.

Paths are written the way a sender reads its own payload: ``alerts[2].labels``,
``payload.severity``. Helpers take the parent object, the key, and the parent's path.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import orjson

from signalcraft.ingest.model import JSONValue, PayloadError, Severity

MAX_TEXT = 1024  # titles, label keys and values are cut here
MAX_LABELS = 256  # per alert; more is an error, not a silent cut
MAX_ALERTS = 1000  # per request

JSONObject = dict[str, JSONValue]

# Go's zero time.Time: Alertmanager's way of saying "not set" (endsAt while firing).
_GO_ZERO_YEAR = 1
# An epoch number this large is in milliseconds (1e11 s is the year 5138).
_EPOCH_MILLIS_ABOVE = 1e11

_SEVERITY_WORDS: dict[str, Severity] = {
    word: severity
    for severity, words in (
        (Severity.CRITICAL, "critical crit fatal page p1 emergency emerg alert disaster"),
        (Severity.ERROR, "error err high major p2 severe"),
        (Severity.WARNING, "warning warn medium p3 minor average"),
        (Severity.INFO, "info information informational low p4 p5 none debug ok success"),
    )
    for word in words.split()
}


def join(path: str, key: str | int) -> str:
    """Extend a path: ``alerts`` + 2 is ``alerts[2]``; + ``labels`` is ``alerts[2].labels``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Cut ``text`` to ``limit`` characters (titles, label keys and values)."""
    return text if len(text) <= limit else text[:limit]


def as_dict(value: JSONValue, path: str) -> JSONObject:
    if not isinstance(value, dict):
        raise PayloadError(path, f"must be an object, not {type_name(value)}")
    return value


def as_list(value: JSONValue, path: str) -> list[JSONValue]:
    if not isinstance(value, list):
        raise PayloadError(path, f"must be an array, not {type_name(value)}")
    return value


def req_dict(obj: Mapping[str, JSONValue], key: str, path: str = "") -> JSONObject:
    """``obj[key]`` as an object; absent or null is an error."""
    if obj.get(key) is None:
        raise PayloadError(join(path, key), "is required")
    return as_dict(obj[key], join(path, key))


def opt_dict(obj: Mapping[str, JSONValue], key: str, path: str = "") -> JSONObject:
    """``obj[key]`` as an object; absent or null gives ``{}``."""
    value = obj.get(key)
    return {} if value is None else as_dict(value, join(path, key))


def opt_list(obj: Mapping[str, JSONValue], key: str, path: str = "") -> list[JSONValue]:
    """``obj[key]`` as an array; absent or null gives ``[]``."""
    value = obj.get(key)
    return [] if value is None else as_list(value, join(path, key))


def req_str(obj: Mapping[str, JSONValue], key: str, path: str = "") -> str:
    """``obj[key]`` as a non-blank string."""
    value = opt_str(obj, key, path)
    if not value.strip():
        raise PayloadError(join(path, key), "is missing or blank")
    return value


def opt_str(obj: Mapping[str, JSONValue], key: str, path: str = "", default: str = "") -> str:
    """``obj[key]`` as a string; absent or null gives ``default``; any other type is an error."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise PayloadError(join(path, key), f"must be a string, not {type_name(value)}")
    return value


def scalar_str(value: JSONValue, path: str) -> str:
    """A JSON scalar as text: ``true``/``false``, numbers as written, null as ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise PayloadError(path, f"must be a string or number, not {type_name(value)}")


def str_map(value: JSONValue, path: str) -> dict[str, str]:
    """An object of scalars as ``dict[str, str]`` (labels, annotations, details).

    Null gives ``{}``. Nested objects or arrays are refused (naming the key); more
    than :data:`MAX_LABELS` entries are refused; keys and values are clipped.
    """
    if value is None:
        return {}
    obj = as_dict(value, path)
    check_count(obj, MAX_LABELS, path)
    return {clip(k): clip(scalar_str(v, join(path, k))) for k, v in obj.items()}


def check_count(items: Iterable[object] | Mapping[str, object], limit: int, path: str) -> None:
    """Refuse more than ``limit`` items (alerts per request, labels per alert)."""
    count = len(items) if isinstance(items, Mapping | list | tuple) else sum(1 for _ in items)
    if count > limit:
        raise PayloadError(path, f"has {count} entries, at most {limit} are accepted")


def extras(obj: Mapping[str, JSONValue], known: Iterable[str]) -> dict[str, str]:
    """Scalar fields of ``obj`` the parser does not know, as strings (alerta style).

    Nested values are left to ``raw``; nulls and empty strings are dropped.
    """
    skip = set(known)
    found = {
        clip(k): clip(scalar_str(v, k))
        for k, v in obj.items()
        if k not in skip and v not in (None, "") and not isinstance(v, dict | list)
    }
    return dict(list(found.items())[:MAX_LABELS])


def parse_time(value: JSONValue, path: str) -> datetime | None:
    """RFC 3339 / ISO 8601 text or a unix epoch (seconds or milliseconds) as aware UTC.

    Null, ``""`` and Go's zero time (``0001-01-01T00:00:00Z``, Alertmanager's "unset")
    give ``None``. Naive times are taken as UTC. Digits in a string are an epoch, because
    templated senders (Datadog ``$DATE``) quote everything.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(path, f"must be a timestamp, not {type_name(value)}")
    if isinstance(value, str):
        text = value.strip()
        if _looks_numeric(text):
            return _from_epoch(float(text), path)
        return _from_iso(text, path)
    return _from_epoch(float(value), path)


def _looks_numeric(text: str) -> bool:
    return text.replace(".", "", 1).isdigit() and text.isascii()


def _from_iso(text: str, path: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(path, f"is not an RFC 3339 timestamp: {clip(text, 64)!r}") from None
    if parsed.year == _GO_ZERO_YEAR:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise PayloadError(path, "is out of range") from None


def _from_epoch(seconds: float, path: str) -> datetime:
    if not math.isfinite(seconds):
        raise PayloadError(path, "is not a finite number")
    if abs(seconds) > _EPOCH_MILLIS_ABOVE:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(path, "is out of range") from None


def severity_from(text: str) -> Severity:
    """Map the words tools use for severity or priority to :class:`Severity`.

    Unknown or empty words give ``WARNING``: loud enough to be seen, not enough to page.
    """
    return _SEVERITY_WORDS.get(text.strip().lower(), Severity.WARNING)


def type_name(value: JSONValue) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_text(value: JSONValue) -> str:
    """A value as a string annotation: strings unchanged, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers beyond 64 bits
        return str(value)


def digest(parts: Iterable[str], length: int) -> str:
    """sha256 hex of ``parts`` joined with ``\\xff`` (a byte UTF-8 never produces), cut."""
    if not isinstance(parts, list):
        parts = list(parts)
    if "".join(parts).isascii():
        # ASCII encodes to the same bytes in UTF-8 and Latin-1, and "\xff" is the byte 0xff in
        # Latin-1: the same bytes with one encode instead of one per part.
        data = ("\xff".join(parts) + "\xff").encode("latin-1")
    else:
        data = b"\xff".join([part.encode("utf-8", "surrogatepass") for part in parts]) + b"\xff"
    return hashlib.sha256(data).hexdigest()[:length]
