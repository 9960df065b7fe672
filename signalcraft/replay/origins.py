"""The Origin allow-list of a workspace's recorder: parsing what an admin typed, and the check.

An origin is ``scheme://host[:port]`` exactly as a browser sends it in the ``Origin`` header
(RFC 6454): lower-case scheme and host, no path, default ports left out.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from signalcraft.errors import InvalidInput

MAX_ORIGINS = 50
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"\A(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)\Z")


def normalize_origin(text: str) -> str:
    """``https://Shop.Example.com:443/`` -> ``https://shop.example.com``; InvalidInput otherwise."""
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidInput(
            f"{raw!r} is not an origin like https://shop.example.com", field="allowed_origins"
        ) from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if host and ":" in host:
        host = f"[{host}]"
    if (
        scheme not in _DEFAULT_PORTS
        or not _HOST.match(host)
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise InvalidInput(f"{raw!r} is not an origin like https://shop.example.com", field="allowed_origins")
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_origins(text: str) -> tuple[str, ...]:
    """One origin per line (or comma-separated), normalized, duplicates dropped, order kept."""
    found: list[str] = []
    for item in re.split(r"[\s,]+", text):
        if item and (origin := normalize_origin(item)) not in found:
            found.append(origin)
    if len(found) > MAX_ORIGINS:
        raise InvalidInput(f"at most {MAX_ORIGINS} origins", field="allowed_origins")
    return tuple(found)


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    """Exact match only: a browser always sends the normalized form."""
    return bool(origin) and origin in allowed
