"""The one interface every channel implements, and the helpers they share.

A :class:`Transport` checks a channel's configuration when it is saved (never at 3 a.m.
when an alert arrives) and sends a message. Failures are :class:`TransportError`: either
``permanent`` (a deleted webhook, a revoked token: the channel is marked broken, no retry)
or retryable, with the server's ``Retry-After`` when it gave one.
"""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx
import orjson

from signalcraft.clock import Clock
from signalcraft.errors import InvalidInput
from signalcraft.notify.http import (
    FetchResult,
    OutboundHttp,
    OutboundRefused,
    OutboundTimeout,
    OutboundTrouble,
)

if TYPE_CHECKING:
    from signalcraft.notify.message import AlertMessage, MessageRenderer

MASK = "********"
# Statuses a retry cannot fix: the request is wrong, the credential is refused, the
# destination is gone (Slack answers 404 for a deleted webhook; it will never work again).
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 422})
MAX_ERROR_BODY = 300


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A message was accepted. ``provider_ref`` identifies it at the provider (Slack's channel:ts)."""

    provider_ref: str | None = None
    status_code: int | None = None


class TransportError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status_code = status_code


@dataclass(frozen=True)
class NotifyDeps:
    """What transports use: the guarded HTTP client, the message renderer, the clock."""

    http: OutboundHttp
    renderer: MessageRenderer
    clock: Clock
    smtp_tls_context: ssl.SSLContext | None = None  # None: the system's trust store
    smtp_timeout: float = 15.0


class Transport:
    """One channel kind. Subclasses set the class attributes and implement the methods."""

    kind: ClassVar[str]
    label: ClassVar[str]
    # Keys of the config stored in ``secret_config`` and never shown again.
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    # True when ``update`` can edit an earlier message (acknowledge and resolve update it).
    updates_messages: ClassVar[bool] = False

    async def check_config(self, config: Mapping[str, Any], deps: NotifyDeps) -> dict[str, Any]:
        """The cleaned configuration, or InvalidInput naming the field (``config.<key>``)."""
        raise NotImplementedError

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps
    ) -> DeliveryResult:
        raise NotImplementedError

    async def update(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps, provider_ref: str
    ) -> DeliveryResult:
        """Edit the message ``provider_ref``; TransportError if it cannot (then a new one is sent)."""
        raise NotImplementedError


# --- configuration checks (save time) ----------------------------------------------------


def field_name(key: str) -> str:
    return f"config.{key}"


def only_keys(config: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown keys: {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})", field="config"
        )


def text_field(
    config: Mapping[str, Any], key: str, *, required: bool = True, max_length: int = 500, default: str = ""
) -> str:
    value = config.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise InvalidInput("must be a string", field=field_name(key))
    value = value.strip()
    if required and not value:
        raise InvalidInput("is required", field=field_name(key))
    if len(value) > max_length:
        raise InvalidInput(f"at most {max_length} characters", field=field_name(key))
    return value


async def checked_addresses(host: str, port: int, deps: NotifyDeps, field: str) -> list[str]:
    """Resolve ``host`` as the sender will and refuse it if any address is denied by the policy."""
    import ipaddress

    try:
        found = await deps.http.resolver(host, port)
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot resolve {host}: {exc}", field=field) from None
    if not addresses:
        raise InvalidInput(f"cannot resolve {host}", field=field)
    for address in addresses:
        if deps.http.policy.refuses(address):
            raise InvalidInput(
                f"{host} resolves to {address}, which notifications may not reach (private, loopback and"
                " cloud-metadata addresses are refused unless [notify] allowed_networks lists them)",
                field=field,
            )
    return [str(a) for a in addresses]


async def url_field(
    config: Mapping[str, Any], key: str, deps: NotifyDeps, *, required: bool = True, default: str = ""
) -> str:
    """An http(s) URL whose host resolves only to addresses the outbound policy allows."""
    value = text_field(config, key, required=required, max_length=2000, default=default)
    if not value:
        return value
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        raise InvalidInput("is not a valid URL", field=field_name(key)) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInput("must be an http:// or https:// URL", field=field_name(key))
    await checked_addresses(
        url.host, url.port or (443 if url.scheme == "https" else 80), deps, field_name(key)
    )
    return value


def check_template(config: Mapping[str, Any], deps: NotifyDeps) -> str:
    """The optional custom message text (``config.template``), rendered once against a sample."""
    source = text_field(config, "template", required=False, max_length=4000)
    if source:
        deps.renderer.check_custom(source, field_name("template"))
    return source


def split_secrets(transport: Transport, clean: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public config, secret config), as stored in the two columns."""
    public = {k: v for k, v in clean.items() if k not in transport.secret_fields}
    secret = {k: v for k, v in clean.items() if k in transport.secret_fields}
    return public, secret


def masked(public: Mapping[str, Any], secret: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration as the API shows it: set secrets replaced by MASK."""
    return {**public, **{k: MASK for k, v in secret.items() if v}}


# --- outcomes (send time) ----------------------------------------------------------------


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def raise_for_outcome(result: FetchResult, now: float) -> None:
    """2xx returns; 429, 408 and 5xx raise retryable (with Retry-After); other statuses raise permanent."""
    status = result.status
    if 200 <= status < 300:
        return
    snippet = result.body[:MAX_ERROR_BODY].decode("utf-8", "replace").strip()
    message = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    if status in (408, 425, 429) or status >= 500:
        raise TransportError(
            message,
            retry_after=retry_after_seconds(result.headers.get("retry-after"), now),
            status_code=status,
        )
    raise TransportError(message, permanent=True, status_code=status)


async def post(
    deps: NotifyDeps, url: str, *, content: bytes, headers: Mapping[str, str], check: bool = True
) -> FetchResult:
    """POST through the guarded client; network trouble is retryable, a refused destination is not."""
    try:
        result = await deps.http.request("POST", url, headers=headers, content=content)
    except OutboundRefused as exc:  # refused by policy, too many redirects, too large
        raise TransportError(str(exc), permanent=True) from None
    except OutboundTimeout:
        raise TransportError(f"no answer from {host_of(url)} within {deps.http.timeout:g} s") from None
    except OutboundTrouble as exc:
        raise TransportError(f"cannot reach {host_of(url)}: {exc}") from None
    if check:
        raise_for_outcome(result, deps.clock())
    return result


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url


class JsonWebhook(Transport):
    """A channel that POSTs one JSON body, rendered from ``web/notify/<kind>.json.j2``, to a
    webhook URL (the URL is the credential, so it is kept secret)."""

    secret_fields = frozenset({"webhook_url"})

    async def check_config(self, config: Mapping[str, Any], deps: NotifyDeps) -> dict[str, Any]:
        only_keys(config, {"webhook_url", "template"})
        return {
            "webhook_url": await url_field(config, "webhook_url", deps),
            "template": check_template(config, deps),
        }

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps
    ) -> DeliveryResult:
        payload = deps.renderer.json(self.kind, message, config.get("template", ""))
        return await post_json(deps, config["webhook_url"], payload)


async def post_json(
    deps: NotifyDeps, url: str, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> DeliveryResult:
    result = await post(
        deps,
        url,
        content=orjson.dumps(payload),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return DeliveryResult(status_code=result.status)
