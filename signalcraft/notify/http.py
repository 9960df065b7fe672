"""The one way SignalCraft makes outbound HTTP requests: timeouts, a response size cap, and
an SSRF guard.

The guard sits where the TCP connection is made (an httpcore network backend): it resolves
the host itself, refuses the request if ANY resolved address is in a denied network (unless
an allow-listed network contains it), and connects to the address it checked, so a DNS
answer that changes between check and connect (rebinding) cannot slip through. Because the
check is at connect time it covers every redirect hop, and TLS still verifies the real host
name. Encodings attackers use (decimal or octal IPs, IPv4-mapped IPv6, NAT64, names that
resolve to private addresses) all end up as an address the check sees.

Two policies: :data:`NOTIFY_POLICY` (notifications: only public addresses) and
:data:`PROBE_POLICY` (uptime probes: internal services are the point, but cloud metadata
endpoints stay refused). The instance widens each with a configured allow-list
(``[notify] allowed_networks``, ``[uptime] allowed_networks``) through
:meth:`AddressPolicy.with_allowed`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from signalcraft.config import NotifyConfig

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA = ("169.254.169.254/32", "169.254.170.2/32", "fd00:ec2::254/128", "100.100.100.200/32")
PRIVATE = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
    "2001:db8::/32",
    "100::/64",
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_REDIRECTS = 5


class OutboundRefused(Exception):
    """The request was not made or not completed by policy (a permanent failure)."""


class BlockedAddress(OutboundRefused):
    """The destination resolves to an address the policy refuses, or is not http(s)."""


class InvalidDestination(OutboundRefused):
    """The URL cannot be parsed."""


class ResponseTooLarge(OutboundRefused):
    """The response body is larger than the cap."""


@dataclass(frozen=True)
class AddressPolicy:
    deny: tuple[Network, ...]
    allow: tuple[Network, ...] = ()

    @classmethod
    def of(cls, deny: Iterable[str], allow: Iterable[str] = ()) -> AddressPolicy:
        return cls(
            tuple(ipaddress.ip_network(n) for n in deny), tuple(ipaddress.ip_network(n) for n in allow)
        )

    def with_allowed(self, networks: Iterable[str]) -> AddressPolicy:
        return AddressPolicy(
            self.deny, self.allow + tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        )

    def refuses(self, address: Address) -> bool:
        """True when ``address`` (or the IPv4 address hidden in it) is denied and not allowed."""
        for candidate in _unwrapped(address):
            if any(candidate in net for net in self.allow):
                continue
            if any(candidate.version == net.version and candidate in net for net in self.deny):
                return True
        return False


def _unwrapped(address: Address) -> list[Address]:
    """The address and any IPv4 address embedded in it (mapped, NAT64, 6to4-style)."""
    found: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address in NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            found.append(address.sixtofour)
    return found


NOTIFY_POLICY = AddressPolicy.of(PRIVATE + METADATA)
PROBE_POLICY = AddressPolicy.of(METADATA)


def notify_policy(cfg: NotifyConfig) -> AddressPolicy:
    """Notifications: public addresses, plus the networks ``[notify] allowed_networks`` lists."""
    return NOTIFY_POLICY.with_allowed(cfg.allowed_networks)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: AddressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolve = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await self._resolve(host, port)]
        except (OSError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        for address in addresses:
            if self._policy.refuses(address):
                raise BlockedAddress(
                    f"{host} resolves to {address}, which is not allowed for outbound requests"
                )
        # Connect to the address that was checked, never re-resolve.
        return await self._inner.connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not allowed for outbound requests")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self, policy: AddressPolicy, resolver: Resolver, *, verify: bool = True, max_connections: int = 100
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=httpx.Limits(max_connections=max_connections))
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections // 5 or 1,
            keepalive_expiry=30.0,
            network_backend=_GuardedBackend(policy, resolver),
        )


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    elapsed: float
    redirects: int = 0


@dataclass
class OutboundHttp:
    """A shared client (one per process and policy): reuse it, a client per request costs
    ten times the CPU."""

    policy: AddressPolicy = NOTIFY_POLICY
    timeout: float = 10.0
    max_response_bytes: int = 1_048_576
    resolver: Resolver = system_resolver
    verify_tls: bool = True
    user_agent: str = "SignalCraft"
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=_GuardedTransport(self.policy, self.resolver, verify=self.verify_tls),
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": self.user_agent},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = True,
        timeout: float | None = None,
    ) -> FetchResult:
        """One request, following up to MAX_REDIRECTS redirects (each hop guarded), reading at
        most ``max_response_bytes`` of the (decoded) body. Raises OutboundRefused (BlockedAddress,
        ResponseTooLarge) or httpx errors (timeouts, connection errors) for the caller to classify."""
        started = asyncio.get_running_loop().time()
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise InvalidDestination(f"not a valid URL: {exc}") from None
        if current.scheme not in ("http", "https"):
            raise BlockedAddress(f"only http and https URLs are allowed, not {current.scheme!r}")
        for hop in range(MAX_REDIRECTS + 1):
            request = self.client.build_request(
                method, current, headers=headers, content=content, timeout=timeout or self.timeout
            )
            response = await self.client.send(request, stream=True)
            try:
                if follow_redirects and response.is_redirect and hop < MAX_REDIRECTS:
                    try:
                        current = current.join(response.headers.get("location", ""))
                    except httpx.InvalidURL as exc:
                        raise InvalidDestination(f"redirect to an invalid URL: {exc}") from None
                    if current.scheme not in ("http", "https"):
                        raise BlockedAddress(f"redirect to a {current.scheme!r} URL refused")
                    if response.status_code in (301, 302, 303) and method != "HEAD":
                        method, content = "GET", None
                    continue
                body = await self._read_capped(response)
            finally:
                await response.aclose()
            elapsed = asyncio.get_running_loop().time() - started
            return FetchResult(response.status_code, dict(response.headers), body, str(current), elapsed, hop)
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ResponseTooLarge(f"response larger than {self.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
