"""Request rate limits per API key and per signed-in session (``[limits]``).

A token bucket per caller: up to ``per_minute`` requests in a burst, refilled evenly at
``per_minute / 60`` a second. One process serves every request, so the buckets are a dict
guarded by a lock; the dict is bounded (least recently used callers are forgotten first,
which only ever gives a forgotten caller a full bucket again).

Applied in one place, the access guard (:mod:`signalcraft.web.access`), after the caller is
known. Public routes have no caller: :class:`PublicLimits` counts them per client address
(``[limits] public_per_minute_per_ip``, each area on its own: calendar feeds, heartbeat pings,
status pages and badges) and the replay recorder per public key and address; their handlers
call it first thing. Ingest has its own per-integration limit, sign-in its per-account and
per-address limits, and health, metrics and static files are cheap.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from signalcraft.config import LimitsConfig
from signalcraft.errors import RateLimited

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection

    from signalcraft.web.context import AppContext

MAX_CALLERS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets of one capacity, keyed by caller; :meth:`take` spends one token or refuses."""

    def __init__(self, per_minute: int, *, max_callers: int = MAX_CALLERS) -> None:
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, caller: str, now: float) -> None:
        """Spend one token of ``caller``'s bucket; :class:`RateLimited` (with Retry-After) when empty."""
        with self._lock:
            bucket = self._buckets.pop(caller, None) or _Bucket(self.capacity, now)
            # max(0, ...): a clock stepped backwards must not drain the bucket.
            bucket.tokens = min(self.capacity, bucket.tokens + max(0.0, now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[caller] = bucket  # most recently used last
            while len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
            if bucket.tokens < 1.0:
                raise RateLimited(
                    "too many requests; slow down and retry after the time in Retry-After",
                    retry_after=math.ceil((1.0 - bucket.tokens) / self.rate),
                )
            bucket.tokens -= 1.0

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The process's limiters: one bucket set for API keys, one for sessions."""

    api_keys: TokenBuckets
    sessions: TokenBuckets

    @classmethod
    def from_config(cls, config: LimitsConfig) -> RequestLimits:
        return cls(TokenBuckets(config.api_key_per_minute), TokenBuckets(config.session_per_minute))

    def take_api_key(self, key_id: int, now: float) -> None:
        self.api_keys.take(f"key:{key_id}", now)

    def take_session(self, session_id: int, now: float) -> None:
        self.sessions.take(f"session:{session_id}", now)


def address_key(ip: str) -> str:
    """The client address as a bucket key: an IPv6 client by its /64 (one host usually owns a
    whole /64, and must not get a fresh bucket per address)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class PublicLimits:
    """The process's limiters for public routes, keyed by client address."""

    per_ip: TokenBuckets
    replay: TokenBuckets

    @classmethod
    def from_config(cls, config: LimitsConfig) -> PublicLimits:
        per_ip, replay = config.public_per_minute_per_ip, config.replay_per_minute_per_ip
        return cls(TokenBuckets(per_ip), TokenBuckets(replay))

    def take(self, area: str, ip: str, now: float) -> None:
        """One request of ``area`` ("ical", "ping", "status") from ``ip``; RateLimited when empty."""
        self.per_ip.take(f"{area}:{address_key(ip)}", now)

    def take_replay(self, public_key: str, ip: str, now: float) -> None:
        self.replay.take(f"{public_key}:{address_key(ip)}", now)


def public_limits_of(ctx: AppContext) -> PublicLimits:
    """The process's public-route limiters (``ctx.extras["public_limits"]``), made on first use."""
    found = ctx.extras.get("public_limits")
    if found is None:
        found = ctx.extras.setdefault("public_limits", PublicLimits.from_config(ctx.settings.limits))
    assert isinstance(found, PublicLimits)
    return found


def take_public(connection: ASGIConnection[Any, Any, Any, Any], area: str) -> None:
    """One request of a public route's ``area`` from the connection's client address."""
    from signalcraft.web.access import client_ip  # access imports this module
    from signalcraft.web.context import ctx_of

    ctx = ctx_of(connection)
    public_limits_of(ctx).take(area, client_ip(connection), ctx.now())


def limits_of(ctx: AppContext) -> RequestLimits:
    """The process's limiters (``ctx.extras["request_limits"]``), made on first use."""
    found = ctx.extras.get("request_limits")
    if found is None:
        found = ctx.extras.setdefault("request_limits", RequestLimits.from_config(ctx.settings.limits))
    assert isinstance(found, RequestLimits)
    return found
