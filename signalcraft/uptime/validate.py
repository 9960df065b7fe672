"""Monitor input -> normalized settings, at save time. Every mistake is an InvalidInput naming
the field (``settings.url``, ``interval_seconds``...), from the JSON API and the HTML form alike
(form values arrive as strings, JSON values typed: both are accepted)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from signalcraft.config import UptimeConfig
from signalcraft.db.queries.uptime import MonitorValues
from signalcraft.errors import InvalidInput
from signalcraft.ingest.generic import parse_path
from signalcraft.notify.http import PROBE_POLICY, AddressPolicy
from signalcraft.uptime.cron import CronError, parse_cron, zone_of
from signalcraft.uptime.model import Kind

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_HEADERS = 32
MAX_BODY = 65_536
MAX_INTERVAL = 86_400
MAX_GRACE = 30 * 86_400
_HOST = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$",
    re.IGNORECASE,
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


def probe_policy(cfg: UptimeConfig) -> AddressPolicy:
    return PROBE_POLICY.with_allowed(cfg.allowed_networks)


def text(
    raw: Mapping[str, Any],
    key: str,
    field: str,
    *,
    max_len: int = 200,
    required: bool = False,
    default: str = "",
) -> str:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInput("is required", field=field)
        return default
    if not isinstance(value, str):
        raise InvalidInput("must be a string", field=field)
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(f"must be at most {max_len} characters", field=field)
    return value


def integer(raw: Mapping[str, Any], key: str, field: str, lo: int, hi: int, default: int) -> int:
    value = raw.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("must be a whole number", field=field)
    if not lo <= value <= hi:
        raise InvalidInput(f"must be between {lo} and {hi}", field=field)
    return value


def boolean(raw: Mapping[str, Any], key: str, field: str, default: bool) -> bool:
    value = raw.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "on", "yes", "0", "false", "off", "no"):
        return value.lower() in ("1", "true", "on", "yes")
    raise InvalidInput("must be true or false", field=field)


def host(value: str, field: str, policy: AddressPolicy) -> str:
    """A host name or IP literal; metadata addresses are refused here already (the probe
    refuses them again after resolving, for names that point there)."""
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        if not _HOST.match(value):
            raise InvalidInput(f"{value!r} is not a host name or IP address", field=field) from None
        return value.lower().rstrip(".")
    if policy.refuses(address):
        raise InvalidInput(
            f"{address} is a cloud metadata address: refused unless [uptime] allowed_networks lists it",
            field=field,
        )
    return str(address)


def url(value: str, field: str, policy: AddressPolicy) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"not a valid URL: {exc}", field=field) from None
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "none"
        raise InvalidInput(f"unsupported scheme {shown!r}: use http:// or https://", field=field)
    if not parts.hostname:
        raise InvalidInput("the URL has no host", field=field)
    if any(c in value for c in " \r\n\t"):
        raise InvalidInput("a URL cannot contain spaces or line breaks", field=field)
    host(parts.hostname, field, policy)
    if port == 0:
        raise InvalidInput("port 0 is not a valid port", field=field)
    return value


def status_ranges(value: str, field: str) -> list[list[int]]:
    ranges: list[list[int]] = []
    for part in (p.strip() for p in value.split(",")):
        match = re.fullmatch(r"(\d{3})(?:\s*-\s*(\d{3}))?", part)
        if match is None:
            raise InvalidInput(f"{part!r}: use status codes and ranges like 200-299, 301", field=field)
        lo, hi = int(match[1]), int(match[2] or match[1])
        if not (100 <= lo <= hi <= 599):
            raise InvalidInput(f"{part!r}: status codes run from 100 to 599, low to high", field=field)
        ranges.append([lo, hi])
    return ranges


def headers(value: Any, field: str) -> dict[str, str]:
    """A JSON object, or ``Name: value`` lines (the form's textarea)."""
    if isinstance(value, str):
        pairs = []
        for line in value.splitlines():
            if line.strip():
                name, sep, val = line.partition(":")
                if not sep:
                    raise InvalidInput(f"{line.strip()[:40]!r}: write one 'Name: value' a line", field=field)
                pairs.append((name.strip(), val.strip()))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    elif value is None:
        return {}
    else:
        raise InvalidInput("must be an object of header names to values", field=field)
    if len(pairs) > MAX_HEADERS:
        raise InvalidInput(f"at most {MAX_HEADERS} headers", field=field)
    out: dict[str, str] = {}
    for name, val in pairs:
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise InvalidInput(f"{str(name)[:40]!r} is not a header name", field=field)
        if not isinstance(val, str) or len(val) > 4000 or any(c in val for c in "\r\n\0"):
            raise InvalidInput(f"the value of {name} must be one line of text", field=field)
        out[name] = val
    return out


def _stored_statuses(value: Any) -> Any:
    """Stored settings hold ``[[200, 299]]``; an update merged onto them arrives in that form."""
    if isinstance(value, list) and all(isinstance(r, list) and len(r) == 2 for r in value):
        return ", ".join(f"{lo}-{hi}" for lo, hi in value)
    return value


def _http(raw: Mapping[str, Any], policy: AddressPolicy) -> dict[str, Any]:
    f = "settings."
    raw = {**raw, "expected_status": _stored_statuses(raw.get("expected_status"))}
    method = text(raw, "method", f + "method", default="GET").upper()
    if method not in METHODS:
        raise InvalidInput(f"one of {', '.join(METHODS)}", field=f + "method")
    json_path = text(raw, "json_path", f + "json_path", max_len=300)
    if json_path:
        json_path = json_path.removeprefix("$.").removeprefix("$")
        try:
            parse_path(json_path)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=f + "json_path") from None
    return {
        "url": url(text(raw, "url", f + "url", max_len=2000, required=True), f + "url", policy),
        "method": method,
        "headers": headers(raw.get("headers"), f + "headers"),
        "body": text(raw, "body", f + "body", max_len=MAX_BODY),
        "expected_status": status_ranges(
            text(raw, "expected_status", f + "expected_status", default="200-299"), f + "expected_status"
        ),
        "keyword": text(raw, "keyword", f + "keyword", max_len=500),
        "keyword_absent": boolean(raw, "keyword_absent", f + "keyword_absent", False),
        "json_path": json_path,
        "json_expected": text(raw, "json_expected", f + "json_expected", max_len=500),
        "max_response_ms": integer(raw, "max_response_ms", f + "max_response_ms", 0, 120_000, 0),
        "follow_redirects": boolean(raw, "follow_redirects", f + "follow_redirects", True),
        "cert_expiry_days": integer(raw, "cert_expiry_days", f + "cert_expiry_days", 0, 365, 14),
        "verify_tls": boolean(raw, "verify_tls", f + "verify_tls", True),
    }


def _host_port(raw: Mapping[str, Any], policy: AddressPolicy, default_port: int | None) -> dict[str, Any]:
    name = host(text(raw, "host", "settings.host", max_len=253, required=True), "settings.host", policy)
    if default_port is None and raw.get("port") in (None, ""):
        raise InvalidInput("is required", field="settings.port")
    return {"host": name, "port": integer(raw, "port", "settings.port", 1, 65535, default_port or 0)}


def _dns(raw: Mapping[str, Any], policy: AddressPolicy) -> dict[str, Any]:
    name = host(
        text(raw, "hostname", "settings.hostname", max_len=253, required=True), "settings.hostname", policy
    )
    record = text(raw, "record_type", "settings.record_type", default="A").upper()
    if record not in ("A", "AAAA"):
        raise InvalidInput(
            "A or AAAA (the records the system resolver answers)", field="settings.record_type"
        )
    expected = text(raw, "expected", "settings.expected", max_len=100)
    if expected:
        try:
            address = ipaddress.ip_address(expected)
        except ValueError:
            raise InvalidInput(f"{expected!r} is not an IP address", field="settings.expected") from None
        if address.version != (4 if record == "A" else 6):
            raise InvalidInput(
                f"an {record} record holds an IPv{4 if record == 'A' else 6} address",
                field="settings.expected",
            )
        expected = str(address)
    return {"hostname": name, "record_type": record, "expected": expected}


def heartbeat(raw: Mapping[str, Any]) -> dict[str, Any]:
    f = "settings."
    cron = text(raw, "cron", f + "cron", max_len=200)
    zone = text(raw, "timezone", f + "timezone", max_len=64, default="UTC")
    out: dict[str, Any] = {
        "grace_seconds": integer(raw, "grace_seconds", f + "grace_seconds", 0, MAX_GRACE, 3600)
    }
    max_runtime = raw.get("max_runtime_seconds")
    if max_runtime not in (None, ""):
        out["max_runtime_seconds"] = integer(
            raw, "max_runtime_seconds", f + "max_runtime_seconds", 1, MAX_GRACE, 0
        )
    if cron:
        try:
            zone_of(zone)
        except CronError as exc:
            raise InvalidInput(str(exc), field=f + "timezone") from None
        try:
            parse_cron(cron, zone)
        except CronError as exc:
            raise InvalidInput(str(exc), field=f + "cron") from None
        return {**out, "cron": cron, "timezone": zone}
    period = integer(raw, "period_seconds", f + "period_seconds", 60, 366 * 86_400, 86_400)
    return {**out, "period_seconds": period}


def monitor(data: Mapping[str, Any], cfg: UptimeConfig) -> MonitorValues:
    """Validate a whole monitor (create, or an update merged onto the stored values)."""
    try:
        kind = Kind(text(data, "kind", "kind", required=True))
    except ValueError:
        raise InvalidInput(f"one of {', '.join(k.value for k in Kind)}", field="kind") from None
    name = text(data, "name", "name", max_len=100, required=True)
    raw = data.get("settings") or {}
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be an object", field="settings")
    policy = probe_policy(cfg)
    if kind is Kind.HTTP:
        settings = _http(raw, policy)
    elif kind is Kind.TCP:
        settings = _host_port(raw, policy, None)
    elif kind is Kind.TLS:
        settings = {
            **_host_port(raw, policy, 443),
            "cert_expiry_days": integer(raw, "cert_expiry_days", "settings.cert_expiry_days", 0, 365, 14),
            "verify_tls": boolean(raw, "verify_tls", "settings.verify_tls", True),
        }
    elif kind is Kind.DNS:
        settings = _dns(raw, policy)
    else:
        settings = heartbeat(raw)
    interval = 0
    if kind.is_probe:
        lo = cfg.min_interval_seconds
        interval = integer(data, "interval_seconds", "interval_seconds", 1, MAX_INTERVAL, max(lo, 60))
        if interval < lo:
            raise InvalidInput(
                f"the shortest interval allowed here is {lo} s ([uptime] min_interval_seconds)",
                field="interval_seconds",
            )
    timeout = integer(
        data,
        "timeout_seconds",
        "timeout_seconds",
        1,
        120,
        min(cfg.default_timeout_seconds, interval or cfg.default_timeout_seconds),
    )
    if kind.is_probe and timeout > interval:
        raise InvalidInput("must not be longer than the interval", field="timeout_seconds")
    return MonitorValues(
        kind.value,
        name,
        settings,
        interval,
        timeout,
        integer(data, "failures_before_down", "failures_before_down", 1, 100, cfg.failures_before_down),
        integer(data, "successes_before_up", "successes_before_up", 1, 100, cfg.successes_before_up),
    )
