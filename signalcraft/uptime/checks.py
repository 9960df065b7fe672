"""The four probes (HTTP(S), TCP port, DNS record, TLS certificate): one check, one result.

A check never raises for the target's sake: refusals, timeouts, connection errors and failed
assertions all become a failed :class:`CheckResult` whose message says what happened. Only
a bug escapes. ``now`` is a parameter (certificate expiry is judged against it).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson

from signalcraft.ingest.generic import parse_path
from signalcraft.notify.http import (
    AddressPolicy,
    OutboundHttp,
    OutboundRefused,
    OutboundTimeout,
    OutboundTrouble,
    Resolver,
)
from signalcraft.uptime.model import (
    CheckResult,
    DnsSettings,
    HttpSettings,
    ProbeSettings,
    TcpSettings,
    TlsSettings,
    format_statuses,
)
from signalcraft.uptime.net import Certificate, ProbeFailed, connect, expiry_text, fetch_certificate

CERT_CACHE_SECONDS = 3600.0  # an HTTPS monitor's certificate is re-read hourly, not every check
DAY = 86400.0


@dataclass
class ProbeDeps:
    """What checks share: ONE HTTP client per TLS mode (a client per check costs ten times the
    CPU), the address policy and resolver, and a short cache of HTTPS certificates."""

    policy: AddressPolicy
    resolver: Resolver
    http: OutboundHttp
    http_unverified: OutboundHttp
    certs: dict[tuple[str, int, bool], tuple[float, Certificate]] = field(default_factory=dict)

    @classmethod
    def create(cls, policy: AddressPolicy, resolver: Resolver, max_connections: int = 100) -> ProbeDeps:
        def client(verify: bool) -> OutboundHttp:
            return OutboundHttp(
                policy=policy, resolver=resolver, verify_tls=verify, user_agent="SignalCraft-Uptime"
            )

        return cls(policy, resolver, client(True), client(False))

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.http_unverified.aclose()

    async def certificate(self, host: str, port: int, verify: bool, now: float) -> Certificate:
        key = (host, port, verify)
        cached = self.certs.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        cert = await fetch_certificate(host, port, self.policy, self.resolver, verify=verify)
        if len(self.certs) > 10_000:
            self.certs.clear()
        self.certs[key] = (now + CERT_CACHE_SECONDS, cert)
        return cert


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _certificate_verdict(cert: Certificate, now: float) -> str:
    """'' when the certificate is acceptable; else why it is not."""
    if cert.problem:
        return f"certificate not valid: {cert.problem}"
    if cert.not_after <= now:
        return f"certificate expired on {expiry_text(cert.not_after)}"
    return ""


def _json_matches(body: bytes, path: str, expected: str) -> str:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "the response is not JSON"
    value = parse_path(path).resolve(document)
    if value is None:
        return f"nothing at JSON path {path}"
    shown = value if isinstance(value, str) else orjson.dumps(value).decode()
    if expected and shown != expected:
        return f"JSON path {path} is {shown[:100]!r}, expected {expected!r}"
    return ""


async def check_http(s: HttpSettings, deps: ProbeDeps, timeout: float, now: float) -> CheckResult:
    client = deps.http if s.verify_tls else deps.http_unverified
    content = s.body.encode() if s.body else None
    response = await client.request(
        s.method,
        s.url,
        headers=dict(s.headers),
        content=content,
        follow_redirects=s.follow_redirects,
        timeout=timeout,
    )
    latency = int(response.elapsed * 1000)
    problems = []
    if not s.status_ok(response.status):
        problems.append(f"HTTP {response.status} (expected {format_statuses(s.expected_status)})")
    if s.keyword:
        found = s.keyword in response.body.decode("utf-8", "replace")
        if found and s.keyword_absent:
            problems.append(f"the response contains {s.keyword!r}")
        elif not found and not s.keyword_absent:
            problems.append(f"the response does not contain {s.keyword!r}")
    if s.json_path:
        problems.append(_json_matches(response.body, s.json_path, s.json_expected))
    if s.max_response_ms and latency > s.max_response_ms:
        problems.append(f"answered in {latency} ms, slower than {s.max_response_ms} ms")
    expires: float | None = None
    parts = urlsplit(s.url)
    if parts.scheme == "https" and s.cert_expiry_days:
        cert = await deps.certificate(parts.hostname or "", parts.port or 443, s.verify_tls, now)
        expires = cert.not_after
        problems.append(_certificate_verdict(cert, now))
    message = "; ".join(p for p in problems if p)
    return CheckResult(not message, latency, message or f"HTTP {response.status}", expires)


async def check_tcp(s: TcpSettings, deps: ProbeDeps, timeout: float, now: float) -> CheckResult:
    started = time.perf_counter()
    _, writer = await connect(s.host, s.port, deps.policy, deps.resolver)
    latency = _ms(started)
    writer.close()
    return CheckResult(True, latency, f"port {s.port} open")


async def check_dns(s: DnsSettings, deps: ProbeDeps, timeout: float, now: float) -> CheckResult:
    started = time.perf_counter()
    version = 4 if s.record_type == "A" else 6
    try:
        found = await deps.resolver(s.hostname, 0)
    except OSError as exc:
        return CheckResult(False, _ms(started), f"{s.hostname} does not resolve: {exc.strerror or exc}")
    latency = _ms(started)
    parsed = {ipaddress.ip_address(a.split("%", 1)[0]) for a in found}
    addresses = sorted(str(a) for a in parsed if a.version == version)
    refused = sorted(str(a) for a in parsed if deps.policy.refuses(a))
    if refused:
        return CheckResult(False, latency, f"{s.hostname} resolves to {refused[0]}, a refused address")
    if not addresses:
        return CheckResult(False, latency, f"{s.hostname} has no {s.record_type} record")
    if s.expected and s.expected not in addresses:
        return CheckResult(False, latency, f"{s.record_type} {', '.join(addresses)}; expected {s.expected}")
    return CheckResult(True, latency, f"{s.record_type} {', '.join(addresses)}")


async def check_tls(s: TlsSettings, deps: ProbeDeps, timeout: float, now: float) -> CheckResult:
    started = time.perf_counter()
    cert = await fetch_certificate(s.host, s.port, deps.policy, deps.resolver, verify=s.verify_tls)
    latency = _ms(started)
    verdict = _certificate_verdict(cert, now)
    if verdict:
        return CheckResult(False, latency, verdict, cert.not_after)
    days = (cert.not_after - now) / DAY
    return CheckResult(
        True,
        latency,
        f"certificate valid until {expiry_text(cert.not_after)} ({days:.0f} days)",
        cert.not_after,
    )


Check = Callable[[ProbeSettings, ProbeDeps, float, float], Awaitable[CheckResult]]
CHECKS: dict[type, Check] = {
    HttpSettings: check_http,  # type: ignore[dict-item]
    TcpSettings: check_tcp,  # type: ignore[dict-item]
    DnsSettings: check_dns,  # type: ignore[dict-item]
    TlsSettings: check_tls,  # type: ignore[dict-item]
}


async def run_check(settings: ProbeSettings, deps: ProbeDeps, timeout: float, now: float) -> CheckResult:
    """Run one check within ``timeout`` seconds; every failure of the target is a result."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            return await CHECKS[type(settings)](settings, deps, timeout, now)
    except TimeoutError:
        message = f"timed out after {timeout:g} s"
    except (ProbeFailed, OutboundRefused) as exc:
        message = str(exc)
    except OutboundTimeout:
        message = f"timed out after {timeout:g} s"
    except OutboundTrouble as exc:
        message = str(exc) or type(exc).__name__
    except OSError as exc:
        message = f"connection failed: {exc.strerror or exc}"
    return CheckResult(False, _ms(started), message[:500])
