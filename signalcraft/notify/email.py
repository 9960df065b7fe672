"""Email over SMTP (aiosmtplib): plain, STARTTLS or implicit TLS, with text and HTML parts
rendered from ``web/notify/email.*``.

The SMTP host is checked with the same address policy as HTTP channels, at save time and
again at send time, and the connection goes to the address that was checked (TLS still
verifies the host name). The Message-ID is derived from the idempotency key, so a rare
duplicate after a crash carries the same Message-ID and mail systems can fold it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib

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
    text_field,
)
from signalcraft.notify.message import AlertMessage

SECURITY = {"none": 25, "starttls": 587, "tls": 465}  # mode -> default port
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
MAX_RECIPIENTS = 20


def _address(value: Any, field: str) -> str:
    if not isinstance(value, str) or not ADDRESS.match(value.strip()):
        raise InvalidInput("is not an email address", field=field)
    return value.strip()


class Email(Transport):
    kind = "email"
    label = "Email"
    secret_fields = frozenset({"password"})

    async def check_config(self, config: Mapping[str, Any], deps: NotifyDeps) -> dict[str, Any]:
        only_keys(
            config, {"host", "port", "security", "username", "password", "from_address", "to", "template"}
        )
        security = text_field(config, "security", default="starttls")
        if security not in SECURITY:
            raise InvalidInput(f"choose one of: {', '.join(SECURITY)}", field=field_name("security"))
        port = config.get("port") or SECURITY[security]
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise InvalidInput("a port number between 1 and 65535", field=field_name("port"))
        host = text_field(config, "host", max_length=253)
        await checked_addresses(host, port, deps, field_name("host"))
        to = config.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not 1 <= len(to) <= MAX_RECIPIENTS:
            raise InvalidInput(f"a list of 1 to {MAX_RECIPIENTS} addresses", field=field_name("to"))
        return {
            "host": host,
            "port": port,
            "security": security,
            "username": text_field(config, "username", required=False, max_length=200),
            "password": text_field(config, "password", required=False, max_length=500),
            "from_address": _address(config.get("from_address"), field_name("from_address")),
            "to": [_address(a, f"{field_name('to')}[{i}]") for i, a in enumerate(to)],
            "template": check_template(config, deps),
        }

    def compose(self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps) -> EmailMessage:
        render, custom = deps.renderer, config.get("template", "")
        parts = {"headline": render.headline(message), "body": render.body(message, custom)}
        domain = config["from_address"].rsplit("@", 1)[1]
        mail = EmailMessage()
        mail["Subject"] = " ".join(render.render("email_subject.txt", message, **parts).split())
        mail["From"] = config["from_address"]
        mail["To"] = ", ".join(config["to"])
        mail["Date"] = formatdate(deps.clock(), usegmt=True)
        mail["Message-ID"] = f"<{message.idempotency_key}@{domain}>"
        if message.group_id is not None:  # one thread per alert group in mail clients
            mail["References"] = f"<group-{message.group_id}.{message.workspace_slug}@{domain}>"
        mail["X-SignalCraft-Idempotency-Key"] = message.idempotency_key
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(render.render("email.txt", message, **parts) + "\n")
        mail.add_alternative(render.render("email.html", message, **parts) + "\n", subtype="html")
        return mail

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps
    ) -> DeliveryResult:
        mail = self.compose(message, config, deps)
        sock = await self._connect(config, deps)  # from here on aiosmtplib owns (and closes) it
        try:
            await aiosmtplib.send(
                mail,
                hostname=config["host"],
                sock=sock,
                use_tls=config["security"] == "tls",
                start_tls=config["security"] == "starttls",
                username=config.get("username") or None,
                password=config.get("password") or None,
                timeout=deps.smtp_timeout,
                tls_context=deps.smtp_tls_context,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _classified(exc) from None
        return DeliveryResult()

    async def _connect(self, config: Mapping[str, Any], deps: NotifyDeps) -> socket.socket:
        """A TCP connection to the address the policy approved (no second DNS lookup)."""
        try:
            addresses = await checked_addresses(config["host"], config["port"], deps, field_name("host"))
        except InvalidInput as exc:
            raise TransportError(exc.message, permanent=True) from None
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(sock, (addresses[0], config["port"])),
                deps.smtp_timeout,
            )
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise TransportError(f"cannot connect to {config['host']}:{config['port']}: {exc}") from None
        return sock


def _classified(exc: Exception) -> TransportError:
    """5xx answers and TLS failures will not pass on a retry; 4xx answers and network trouble may."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        return TransportError(f"recipients refused: {exc}", permanent=all(c >= 500 for c in codes))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return TransportError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500)
    if isinstance(exc, ssl.SSLError):
        return TransportError(f"TLS failed: {exc}", permanent=True)
    if isinstance(exc, OSError):
        return TransportError(f"SMTP connection failed: {exc}")
    return TransportError(f"SMTP: {exc}", permanent=True)  # e.g. the server offers no STARTTLS


TRANSPORT = Email()
