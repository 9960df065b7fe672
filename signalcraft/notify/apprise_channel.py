"""Apprise URLs (https://appriseit.com) for the long tail of services: Telegram, Matrix,
Pushover, Gotify, Mattermost and a hundred more, one URL each.

Apprise makes its own HTTP requests (``requests``), outside :mod:`signalcraft.notify.http`.
So before handing a URL over, the host it names is resolved and checked with our outbound
policy, at save time and again right before each send. What remains (docs/notifications.md):
Apprise resolves the name again when it connects, and follows redirects unchecked, so a
DNS answer that changes in between, or a redirect, is not guarded as for native channels.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from typing import Any

from signalcraft.errors import InvalidInput
from signalcraft.notify.base import (
    DeliveryResult,
    NotifyDeps,
    Transport,
    TransportError,
    check_template,
    checked_addresses,
    field_name,
    only_keys,
)
from signalcraft.notify.message import AlertMessage

MAX_URLS = 10
# Desktop and local-system plugins: nothing for a server to reach.
LOCAL_SCHEMES = frozenset(
    {"dbus", "gio", "glib", "gnome", "kde", "qt", "macosx", "windows", "syslog", "blink1"}
)
_NOT_ENDPOINTS = frozenset({"service_url", "setup_url", "image_url"})
# Apprise (and its hundred plugins) is imported on first use, not at start. Its NotifyType
# values are these strings (apprise.NotifyType.SUCCESS == "success"...; checked by a test).
NOTIFY_TYPES = {"resolved": "success", "acknowledged": "info", "test": "info"}
WARNING, FAILURE = "warning", "failure"


def _plugin(url: str, field: str) -> Any:
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise InvalidInput("is not an Apprise URL it can use (see https://appriseit.com)", field=field)
    if url.split("://", 1)[0].lower() in LOCAL_SCHEMES:
        raise InvalidInput("notifies this machine's desktop or log, not a service", field=field)
    return plugin


def _has_fixed_endpoint(plugin: Any) -> bool:
    """True for services with a fixed API address (Telegram, Slack...): the URL's "host" is a token."""
    cls = type(plugin)
    return any(
        "url" in name
        and name not in _NOT_ENDPOINTS
        and isinstance(getattr(cls, name, None), str)
        and getattr(cls, name).startswith(("https://", "http://"))
        for name in dir(cls)
    )


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def check_destination(url: str, deps: NotifyDeps, field: str) -> None:
    """Refuse a URL whose host (or SMTP host) resolves to an address the policy refuses."""
    plugin = _plugin(url, field)
    hosts = [h for h in (getattr(plugin, "smtp_host", None), getattr(plugin, "host", None)) if h]
    if not hosts and not _has_fixed_endpoint(plugin):
        raise InvalidInput("names no host to send to", field=field)
    port = int(getattr(plugin, "port", None) or 443)
    for host in hosts:
        try:
            await checked_addresses(host, port, deps, field)
        except InvalidInput as exc:
            unresolvable = exc.message.startswith("cannot resolve")
            if not unresolvable or _is_literal(host) or not _has_fixed_endpoint(plugin):
                raise


class AppriseChannel(Transport):
    kind = "apprise"
    label = "Apprise (100+ services)"
    secret_fields = frozenset({"urls"})  # Apprise URLs carry the service's credentials

    async def check_config(self, config: Mapping[str, Any], deps: NotifyDeps) -> dict[str, Any]:
        only_keys(config, {"urls", "template"})
        urls = config.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_URLS:
            raise InvalidInput(f"a list of 1 to {MAX_URLS} Apprise URLs", field=field_name("urls"))
        for i, url in enumerate(urls):
            if not isinstance(url, str) or "://" not in url or len(url) > 2000:
                raise InvalidInput("is not an Apprise URL", field=f"{field_name('urls')}[{i}]")
            await check_destination(url.strip(), deps, f"{field_name('urls')}[{i}]")
        return {"urls": [u.strip() for u in urls], "template": check_template(config, deps)}

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps
    ) -> DeliveryResult:
        import apprise

        sender = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
        for url in config["urls"]:
            try:
                await check_destination(url, deps, "urls")
            except InvalidInput as exc:
                raise TransportError(exc.message, permanent=True) from None
            sender.add(url)
        render = deps.renderer
        body = render.render(
            "apprise.txt",
            message,
            headline=render.headline(message),
            body=render.body(message, config.get("template", "")),
        )
        fallback = WARNING if message.severity in ("info", "warning") else FAILURE
        notify_type = NOTIFY_TYPES.get(message.kind, fallback)
        result = await asyncio.to_thread(
            sender.notify,
            body=body,
            title=render.headline(message),
            notify_type=notify_type,
            timeout=deps.http.timeout,
        )
        if not result:
            problems = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")][-3:]
            raise TransportError(
                "Apprise could not deliver: " + ("; ".join(problems) or str(result.status.name))
            )
        return DeliveryResult()


TRANSPORT = AppriseChannel()
