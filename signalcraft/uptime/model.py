"""What a monitor checks, by kind: typed settings read from the JSON stored with the monitor,
and the result every check produces.

Settings are validated once, when the monitor is saved (:mod:`signalcraft.uptime.validate`);
reading them back trusts the stored JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signalcraft.uptime.schedule import HeartbeatSchedule


class Kind(enum.StrEnum):
    HTTP = "http"
    TCP = "tcp"
    DNS = "dns"
    TLS = "tls"
    HEARTBEAT = "heartbeat"

    @property
    def label(self) -> str:
        return {
            "http": "HTTP(S)",
            "tcp": "TCP port",
            "dns": "DNS record",
            "tls": "TLS certificate",
            "heartbeat": "Heartbeat",
        }[self.value]

    @property
    def is_probe(self) -> bool:
        return self is not Kind.HEARTBEAT


@dataclass(frozen=True, slots=True)
class HttpSettings:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    expected_status: tuple[tuple[int, int], ...] = ((200, 299),)
    keyword: str = ""
    keyword_absent: bool = False
    json_path: str = ""
    json_expected: str = ""
    max_response_ms: int = 0
    follow_redirects: bool = True
    cert_expiry_days: int = 14
    verify_tls: bool = True

    def status_ok(self, status: int) -> bool:
        return any(lo <= status <= hi for lo, hi in self.expected_status)


@dataclass(frozen=True, slots=True)
class TcpSettings:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class DnsSettings:
    hostname: str
    record_type: str = "A"
    expected: str = ""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    host: str
    port: int = 443
    cert_expiry_days: int = 14
    verify_tls: bool = True


ProbeSettings = HttpSettings | TcpSettings | DnsSettings | TlsSettings
Settings = ProbeSettings | HeartbeatSchedule


def format_statuses(ranges: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def settings_from_json(kind: Kind, raw: Mapping[str, Any]) -> Settings:
    """Typed settings from stored (already validated) JSON."""
    if kind is Kind.HTTP:
        return HttpSettings(
            url=raw["url"],
            method=raw.get("method", "GET"),
            headers=tuple((str(k), str(v)) for k, v in raw.get("headers", {}).items()),
            body=raw.get("body", ""),
            expected_status=tuple((int(lo), int(hi)) for lo, hi in raw.get("expected_status", [[200, 299]])),
            keyword=raw.get("keyword", ""),
            keyword_absent=bool(raw.get("keyword_absent", False)),
            json_path=raw.get("json_path", ""),
            json_expected=raw.get("json_expected", ""),
            max_response_ms=int(raw.get("max_response_ms", 0)),
            follow_redirects=bool(raw.get("follow_redirects", True)),
            cert_expiry_days=int(raw.get("cert_expiry_days", 14)),
            verify_tls=bool(raw.get("verify_tls", True)),
        )
    if kind is Kind.TCP:
        return TcpSettings(raw["host"], int(raw["port"]))
    if kind is Kind.DNS:
        return DnsSettings(raw["hostname"], raw.get("record_type", "A"), raw.get("expected", ""))
    if kind is Kind.TLS:
        return TlsSettings(
            raw["host"],
            int(raw.get("port", 443)),
            int(raw.get("cert_expiry_days", 14)),
            bool(raw.get("verify_tls", True)),
        )
    return HeartbeatSchedule(
        period_seconds=raw.get("period_seconds"),
        cron=raw.get("cron", ""),
        timezone=raw.get("timezone", "UTC"),
        grace_seconds=int(raw.get("grace_seconds", 0)),
        max_runtime_seconds=raw.get("max_runtime_seconds"),
    )


def target_of(kind: Kind, raw: Mapping[str, Any]) -> str:
    """What the monitor points at, for the (signed-in) UI: a URL, host:port or a name."""
    if kind is Kind.HTTP:
        return str(raw.get("url", ""))
    if kind in (Kind.TCP, Kind.TLS):
        return f"{raw.get('host', '')}:{raw.get('port', 443)}"
    if kind is Kind.DNS:
        return f"{raw.get('hostname', '')} ({raw.get('record_type', 'A')})"
    schedule = settings_from_json(kind, raw)
    assert isinstance(schedule, HeartbeatSchedule)
    return schedule.describe()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome. ``latency_ms`` is how long it took (to fail, when it failed)."""

    ok: bool
    latency_ms: int
    message: str = ""
    cert_expires_at: float | None = None
