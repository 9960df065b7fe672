"""Real local targets the uptime tests start and stop: an HTTP server whose behaviour the test
switches (up, 500, slow, down), an HTTPS server with a self-signed certificate expiring when
the test says, and a TCP listener. All on 127.0.0.1, each on a free port."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from signalcraft.uptime import service
from signalcraft.uptime.engine import Engine
from tests.helpers import FakeClock, Member, member


@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b'{"status": "ok", "db": {"up": true}} healthy'
    delay: float = 0.0
    hits: int = 0


@dataclass
class Target:
    """A switchable HTTP server: ``behaviour`` is read on every request; ``stop()`` takes it down."""

    server: ThreadingHTTPServer
    behaviour: Behaviour = field(default_factory=Behaviour)
    thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread = None


def _handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            behaviour.hits += 1
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if behaviour.delay:
                time.sleep(behaviour.delay)
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(behaviour.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(behaviour.body)))
            self.end_headers()
            self.wfile.write(behaviour.body)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def start_target(tls: ssl.SSLContext | None = None) -> Target:
    behaviour = Behaviour()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    target = Target(server, behaviour)
    target.thread = threading.Thread(target=server.serve_forever, daemon=True)
    target.thread.start()
    return target


@pytest.fixture
def target() -> Iterator[Target]:
    found = start_target()
    yield found
    found.stop()


def self_signed(
    tmp: Path, *, not_after: dt.datetime, not_before: dt.datetime | None = None
) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 / localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = not_before or (dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@dataclass
class Listener:
    sock: socket.socket
    thread: threading.Thread

    port: int

    def close(self) -> None:
        """Stop listening now (shutdown wakes the accepting thread; close alone would not)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def tcp_listener() -> Iterator[Listener]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    listener = Listener(sock, thread, int(sock.getsockname()[1]))
    yield listener
    stop.set()
    listener.close()


@pytest.fixture
def owner(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "owner@example.com", Role.OWNER, "acme", clock(), admin=True)


@pytest.fixture
def engine(parts: Parts, clock: FakeClock) -> Engine:
    return Engine(parts.ctx.db, parts.ctx.settings, clock, extras=parts.ctx.extras)


def create_monitor(parts: Parts, who: Member, clock: FakeClock, **data: object):  # type: ignore[no-untyped-def]
    payload = {"name": "Site", **data}
    return parts.ctx.db.write(
        lambda c: service.create(c, who.workspace.id, payload, parts.ctx.settings.uptime, audit.CLI, clock())
    )
