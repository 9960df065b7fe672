"""Network steps of the TCP, DNS and TLS probes, under the same address policy as HTTP probes.

:class:`signalcraft.notify.http.OutboundHttp` guards HTTP at connect time; the other probes
resolve here, refuse the whole target if ANY address is refused (a cloud metadata address
unless allow-listed), and connect only to the addresses that were checked, never
re-resolving, so a DNS answer that changes in between cannot slip through.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass

import httpx
from cryptography import x509

from signalcraft.notify.http import Address, AddressPolicy, BlockedAddress, Resolver


class ProbeFailed(Exception):
    """The check ran and the target failed it; the message says how (shown in the UI)."""


@dataclass(frozen=True, slots=True)
class Certificate:
    not_after: float
    subject: str
    issuer: str
    problem: str = ""  # why verification failed; "" when it passed (or was not asked for)


async def resolve_checked(host: str, port: int, policy: AddressPolicy, resolver: Resolver) -> list[Address]:
    try:
        found = await resolver(host, port)
    except OSError as exc:
        raise ProbeFailed(f"{host} does not resolve: {exc.strerror or exc}") from None
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if not addresses:
        raise ProbeFailed(f"{host} does not resolve")
    for address in addresses:
        if policy.refuses(address):
            raise BlockedAddress(
                f"{host} resolves to {address}, which probes may not reach ([uptime] allowed_networks)"
            )
    return list(dict.fromkeys(addresses))


async def connect(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver, *, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the first checked address that answers."""
    last: OSError | None = None
    for address in await resolve_checked(host, port, policy, resolver):
        try:
            return await asyncio.open_connection(
                str(address), port, ssl=tls, server_hostname=host if tls is not None else None
            )
        except ssl.SSLError:
            raise
        except OSError as exc:
            last = exc
    assert last is not None
    raise ProbeFailed(f"cannot connect to {host}:{port}: {last.strerror or last}")


def _tls_context(verify: bool) -> ssl.SSLContext:
    if verify:
        return httpx.create_ssl_context(verify=True, trust_env=False)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _handshake(host: str, port: int, policy: AddressPolicy, resolver: Resolver, verify: bool) -> bytes:
    _, writer = await connect(host, port, policy, resolver, tls=_tls_context(verify))
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
    if not der:
        raise ProbeFailed(f"{host}:{port} sent no certificate")
    return bytes(der)


async def fetch_certificate(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver, *, verify: bool
) -> Certificate:
    """The server's certificate; with ``verify`` the chain and host name are checked too, and a
    failure is reported in ``problem`` (the certificate is then read without verification)."""
    problem = ""
    try:
        der = await _handshake(host, port, policy, resolver, verify)
    except ssl.SSLCertVerificationError as exc:
        problem = str(exc.verify_message or exc.reason or exc)
        der = await _handshake(host, port, policy, resolver, False)
    except ssl.SSLError as exc:
        raise ProbeFailed(f"TLS handshake with {host}:{port} failed: {exc.reason or exc}") from None
    cert = x509.load_der_x509_certificate(der)
    return Certificate(
        cert.not_valid_after_utc.timestamp(),
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        problem,
    )


def expiry_text(not_after: float) -> str:
    return dt.datetime.fromtimestamp(not_after, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
