"""The one way SignalCraft makes outbound HTTP requests: timeouts, a response size cap, and
an SSRF guard.

The guard sits where the TCP connection is made (the client's resolver): it resolves the
host itself, refuses the request if ANY resolved address is in a denied network (unless an
allow-listed network contains it), and hands the connector only the addresses it checked, so
a DNS answer that changes between check and connect (rebinding) cannot slip through. A host
written as an IP address is checked before the request. Because the check is at connect time
it covers every redirect hop (redirects are followed here, one guarded hop at a time), and
TLS still verifies the real host name. Encodings attackers use (decimal or octal IPs,
IPv4-mapped IPv6, NAT64, names that resolve to private addresses) all end up as an address
the check sees.

Two policies: :data:`NOTIFY_POLICY` (notifications: only public addresses) and
:data:`PROBE_POLICY` (uptime probes: internal services are the point, but cloud metadata
endpoints stay refused). The instance widens each with a configured allow-list
(``[notify] allowed_networks``, ``[uptime] allowed_networks``) through
:meth:`AddressPolicy.with_allowed`.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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


class TooManyRedirects(OutboundRefused):
    """More than MAX_REDIRECTS redirects."""


class OutboundTrouble(Exception):
    """The request failed on the way (network, timeout): it may work later."""


class OutboundTimeout(OutboundTrouble):
    """No complete answer within the timeout."""


class OutboundUnreachable(OutboundTrouble):
    """The host could not be resolved or connected to, or the connection broke."""


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


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every client shares (loading the CA bundle takes a while)."""
    return httpx.create_ssl_context(verify=True, trust_env=False)


def warm_up() -> None:
    """Import the client and load the CA bundle now (a serving process calls this once it is
    up), so the first notification after a start does not pay for them."""
    import aiohttp

    assert aiohttp.ClientSession is not None
    tls_context()


def _literal(host: str) -> Address | None:
    """``host`` as an IP address when it is written as one (the client connects to it without
    asking a resolver, so the guard checks it here)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _check(policy: AddressPolicy, host: str, addresses: list[Address]) -> None:
    if not addresses:
        raise OutboundUnreachable(f"cannot resolve {host}")
    for address in addresses:
        if policy.refuses(address):
            raise BlockedAddress(f"{host} resolves to {address}, which is not allowed for outbound requests")


def _guarded_resolver(policy: AddressPolicy, resolve: Resolver) -> Any:
    """An aiohttp resolver that resolves with ``resolve``, refuses the connection if ANY address
    is denied, and hands the connector exactly the addresses it checked (so the connection goes
    to a checked address: no second lookup to rebind)."""
    from aiohttp.abc import AbstractResolver

    class GuardedResolver(AbstractResolver):
        async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
            try:
                found = await resolve(host, port)
                addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
            except (OSError, ValueError) as exc:
                raise OSError(f"cannot resolve {host}: {exc}") from None
            _check(policy, host, addresses)
            return [
                {
                    "hostname": host,
                    "host": str(a),
                    "port": port,
                    "family": socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
                for a in addresses
            ]

        async def close(self) -> None:
            return None

    return GuardedResolver()


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    headers: Mapping[str, str]  # names in lower case; of repeated headers the last value
    body: bytes
    url: str
    elapsed: float
    redirects: int = 0


@dataclass
class OutboundHttp:
    """A shared client (one per process, loop and policy): reuse it, a client per request costs
    ten times the CPU.

    The engine is aiohttp (imported on first use, so start-up does not pay for it): on the
    notification path it costs about a sixth of the CPU per request of the client used before
    (see docs/benchmarks.md, "Notification latency"), which is what lets one process keep up
    with a hundred notifications a second."""

    policy: AddressPolicy = NOTIFY_POLICY
    timeout: float = 10.0
    max_response_bytes: int = 1_048_576
    resolver: Resolver = system_resolver
    verify_tls: bool = True
    user_agent: str = "SignalCraft"
    max_connections: int = 100
    _session: Any = field(default=None, init=False, repr=False)

    def _client(self) -> Any:
        """The session, made on first use on the running loop (it is bound to that loop)."""
        if self._session is None or self._session.closed:
            import aiohttp

            connector = aiohttp.TCPConnector(
                resolver=_guarded_resolver(self.policy, self.resolver),
                use_dns_cache=False,  # every new connection is resolved and checked again
                ssl=tls_context() if self.verify_tls else False,
                limit=self.max_connections,
                keepalive_timeout=30.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.user_agent},
                trust_env=False,
                auto_decompress=True,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        InvalidDestination, ResponseTooLarge, TooManyRedirects) or OutboundTrouble
        (OutboundTimeout, OutboundUnreachable) for the caller to classify."""
        import aiohttp
        from yarl import URL

        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            current = URL(url)
        except (ValueError, TypeError) as exc:
            raise InvalidDestination(f"not a valid URL: {exc}") from None
        budget = aiohttp.ClientTimeout(total=timeout or self.timeout)
        session = self._client()
        for hop in range(MAX_REDIRECTS + 1):
            if current.scheme not in ("http", "https"):
                what = "only http and https URLs are allowed, not" if hop == 0 else "redirect to a"
                raise BlockedAddress(f"{what} {current.scheme!r}{' URL refused' if hop else ''}")
            if not current.host:
                raise InvalidDestination(f"not a valid URL: {current} has no host")
            literal = _literal(current.host or "")
            if literal is not None:
                _check(self.policy, current.host or "", [literal])
            try:
                async with session.request(
                    method,
                    current,
                    headers=headers,
                    data=content,
                    allow_redirects=False,
                    timeout=budget,
                ) as response:
                    location = response.headers.get("Location") if 300 <= response.status < 400 else None
                    if follow_redirects and location is not None and hop < MAX_REDIRECTS:
                        try:
                            current = current.join(URL(location))
                        except (ValueError, TypeError) as exc:
                            raise InvalidDestination(f"redirect to an invalid URL: {exc}") from None
                        if response.status in (301, 302, 303) and method != "HEAD":
                            method, content = "GET", None
                        continue
                    if follow_redirects and location is not None:
                        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")
                    body = await self._read_capped(response)
                    found = {k.lower(): v for k, v in response.headers.items()}
                    status = response.status
            except OutboundRefused:
                raise
            except TimeoutError:
                raise OutboundTimeout(f"no answer within {timeout or self.timeout:g} s") from None
            except aiohttp.InvalidURL as exc:  # e.g. a host in a non-canonical IPv4 form
                raise InvalidDestination(f"not a valid URL: {exc}") from None
            except aiohttp.ClientError as exc:
                raise OutboundUnreachable(_describe(exc)) from None
            except OSError as exc:
                raise OutboundUnreachable(f"connection failed: {exc.strerror or exc}") from None
            return FetchResult(status, found, body, str(current), loop.time() - started, hop)
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    async def _read_capped(self, response: Any) -> bytes:
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ResponseTooLarge(f"response larger than {self.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    """A short reason for a network failure (aiohttp nests the OS error)."""
    cause = getattr(exc, "os_error", None) or exc.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return f"connection failed: {cause.strerror}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
