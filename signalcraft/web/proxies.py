"""The client's address, trusting ``X-Forwarded-For`` only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in trusted)


def _trusted(addr: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def resolve_client_ip(scope: Any, trusted: tuple[str, ...]) -> str:
    """The peer address, or, when the peer is a trusted proxy, the right-most address in
    ``X-Forwarded-For`` that is not itself a trusted proxy (the left part is client-controlled)."""
    client = scope.get("client")
    peer = client[0] if client else ""
    networks = _networks(trusted)
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = ""
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded = (forwarded + "," if forwarded else "") + value.decode("latin-1")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer


def is_https(scope: Any, trusted: tuple[str, ...]) -> bool:
    """True when the client reached us over TLS (directly or via a trusted proxy)."""
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    if client and _trusted(client[0], _networks(trusted)):
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-proto":
                return value.decode("latin-1").split(",")[0].strip().lower() == "https"
    return False
