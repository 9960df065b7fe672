"""Email through a real SMTP server (aiosmtpd on 127.0.0.1, allow-listed for these tests):
the headers, both parts and the link to the group; STARTTLS and implicit TLS with a
self-signed certificate the test makes; what is permanent (untrusted certificate, refused
login, 5xx) and what is retried (4xx); and the SMTP host obeying the outbound policy."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import ipaddress
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signalcraft.errors import InvalidInput
from signalcraft.notify.base import NotifyDeps, TransportError
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.email import TRANSPORT as EMAIL
from signalcraft.notify.http import NOTIFY_POLICY, OutboundHttp
from signalcraft.notify.message import MessageRenderer
from signalcraft.paths import templates_dir
from tests.helpers import FakeClock, free_port
from tests.notify.test_channels import message

HOST = "127.0.0.1"


class Inbox:
    """The aiosmtpd handler: keeps each message and whether its session was encrypted."""

    def __init__(self, rcpt_reply: str = "") -> None:
        self.messages: list[tuple[EmailMessage, bool, list[str]]] = []
        self.rcpt_reply = rcpt_reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.messages.append((parsed, encrypted, list(envelope.rcpt_tos)))
        return "250 Message accepted"


@dataclasses.dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signalcraft-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(folder / "cert.pem", folder / "key.pem")


@pytest.fixture(scope="module")
def runner() -> Iterator[Notifier]:
    """Transports driven directly, with 127.0.0.1 allow-listed (it is refused by default)."""
    http = OutboundHttp(policy=NOTIFY_POLICY.with_allowed([f"{HOST}/32"]), timeout=5.0)
    found = Notifier(
        None,
        NotifyDeps(http, MessageRenderer(templates_dir()), FakeClock(), smtp_timeout=5.0),
        "http://127.0.0.1:8080",
    )
    yield found
    found.close()


def smtp_server(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname=HOST, port=free_port(), **kwargs)
    controller.start()
    return controller


def config(port: int, security: str = "none", **extra: Any) -> dict[str, Any]:
    return {
        "host": HOST,
        "port": port,
        "security": security,
        "from_address": "signalcraft@example.com",
        "to": ["oncall@example.com", "lead@example.com"],
        **extra,
    }


def deliver(runner: Notifier, settings: dict[str, Any], tls: ssl.SSLContext | None = None) -> None:
    deps = dataclasses.replace(runner.deps, smtp_tls_context=tls)
    clean = runner.run(EMAIL.check_config(settings, deps))
    runner.run(EMAIL.send(message(), clean, deps))


def test_a_message_has_subject_sender_recipients_both_parts_and_the_link_to_the_group(
    runner: Notifier,
) -> None:
    inbox = Inbox()
    server = smtp_server(inbox)
    try:
        deliver(runner, config(server.port))
    finally:
        server.stop()
    [(mail, encrypted, recipients)] = inbox.messages
    assert not encrypted and recipients == ["oncall@example.com", "lead@example.com"]
    assert mail["Subject"] == "[Triggered] [CRITICAL] Disk full on db-1 — Acme"
    assert mail["From"] == "signalcraft@example.com"
    assert mail["To"] == "oncall@example.com, lead@example.com"
    assert mail["Message-ID"] == "<ntf_k1@example.com>"
    assert mail["X-SignalCraft-Idempotency-Key"] == "ntf_k1"
    assert mail["References"] == "<group-7.acme@example.com>"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    link = "http://127.0.0.1:8080/w/acme/alerts/7"
    assert link in text.get_content() and "Only 2% left on /var" in text.get_content()
    assert f'href="{link}"' in html.get_content() and "Disk full on db-1" in html.get_content()


def test_html_part_escapes_what_the_alert_says(runner: Notifier) -> None:
    inbox = Inbox()
    server = smtp_server(inbox)
    try:
        deps = runner.deps
        clean = runner.run(EMAIL.check_config(config(server.port), deps))
        runner.run(EMAIL.send(message(title="<script>alert(1)</script>"), clean, deps))
    finally:
        server.stop()
    html = inbox.messages[0][0].get_body(("html",))
    assert (
        html is not None and "<script>" not in html.get_content() and "&lt;script&gt;" in html.get_content()
    )


def test_starttls_with_a_self_signed_certificate_the_client_trusts(
    runner: Notifier, certificate: Certificate
) -> None:
    inbox = Inbox()
    server = smtp_server(inbox, tls_context=certificate.server_context(), require_starttls=True)
    try:
        deliver(runner, config(server.port, "starttls"), certificate.client_context())
    finally:
        server.stop()
    [(mail, encrypted, _)] = inbox.messages
    assert encrypted and mail["Subject"].startswith("[Triggered]")


def test_implicit_tls_from_the_first_byte(runner: Notifier, certificate: Certificate) -> None:
    inbox = Inbox()
    server = smtp_server(inbox, ssl_context=certificate.server_context())
    try:
        deliver(runner, config(server.port, "tls"), certificate.client_context())
    finally:
        server.stop()
    assert inbox.messages[0][1] is True


def test_a_certificate_nobody_trusts_is_a_permanent_failure(
    runner: Notifier, certificate: Certificate
) -> None:
    server = smtp_server(Inbox(), tls_context=certificate.server_context(), require_starttls=True)
    try:
        with pytest.raises(TransportError) as failed:
            deliver(runner, config(server.port, "starttls"))  # the system trust store: self-signed is refused
    finally:
        server.stop()
    assert failed.value.permanent


def test_a_refused_login_is_permanent(runner: Notifier, certificate: Certificate) -> None:
    server = smtp_server(
        Inbox(),
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=lambda *args: AuthResult(success=False, handled=False),
    )
    try:
        with pytest.raises(TransportError, match="535") as refused:
            deliver(
                runner,
                config(server.port, "starttls", username="u", password="wrong"),
                certificate.client_context(),
            )
    finally:
        server.stop()
    assert refused.value.permanent


@pytest.mark.parametrize(
    ("reply", "permanent"), [("451 4.3.0 try again later", False), ("550 5.1.1 no such user", True)]
)
def test_a_4xx_refusal_is_retried_and_a_5xx_refusal_is_not(
    runner: Notifier, reply: str, permanent: bool
) -> None:
    server = smtp_server(Inbox(rcpt_reply=reply))
    try:
        with pytest.raises(TransportError) as refused:
            deliver(runner, config(server.port))
    finally:
        server.stop()
    assert refused.value.permanent is permanent


def test_the_smtp_host_obeys_the_outbound_policy_at_save_and_at_send_time(runner: Notifier) -> None:
    strict = dataclasses.replace(runner.deps, http=OutboundHttp(policy=NOTIFY_POLICY))
    with pytest.raises(InvalidInput) as refused:
        runner.run(EMAIL.check_config(config(2525), strict))
    assert refused.value.field == "config.host"
    saved = runner.run(EMAIL.check_config(config(2525), runner.deps))  # allowed when it was saved...
    with pytest.raises(TransportError) as blocked:
        runner.run(EMAIL.send(message(), saved, strict))  # ...and checked again when sending
    assert blocked.value.permanent
