"""The outbound HTTP guard: public addresses only for notifications (unless allow-listed),
checked on every hop, whatever encoding the address hides in."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from signalcraft.notify.http import (
    NOTIFY_POLICY,
    PROBE_POLICY,
    BlockedAddress,
    OutboundHttp,
    OutboundRefused,
    ResponseTooLarge,
)

RECEIVER_HOST = "127.0.0.2"  # loopback, allow-listed in these tests; 127.0.0.1 stays refused


class Receiver(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.end_headers()
            return
        body = b"x" * 5000 if self.path == "/big" else b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer((RECEIVER_HOST, 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{RECEIVER_HOST}:{server.server_address[1]}"
    server.shutdown()


def fetch(url: str, policy=NOTIFY_POLICY, **kwargs):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        http = OutboundHttp(policy=policy.with_allowed([f"{RECEIVER_HOST}/32"]), timeout=5, **kwargs)
        try:
            return await http.request("GET", url)
        finally:
            await http.aclose()

    return asyncio.run(run())


def test_an_allow_listed_receiver_is_reached(receiver: str) -> None:
    result = fetch(f"{receiver}/")
    assert (result.status, result.body) == (200, b"hello")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://localhost:9/",
        "http://2130706433:9/",  # decimal 127.0.0.1
        "http://0x7f000001:9/",  # hexadecimal
        "http://0177.0.0.1:9/",  # octal
        "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]:9/",  # IPv4-mapped IPv6
        "http://[64:ff9b::a9fe:a9fe]:9/",  # NAT64 of 169.254.169.254
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3:9/",
        "http://100.64.0.1:9/",  # CGNAT
        "http://192.168.1.1:9/",
        "http://[fe80::1]:9/",
    ],
)
def test_private_and_metadata_addresses_are_refused_for_notifications(url: str) -> None:
    with pytest.raises(OutboundRefused):
        fetch(url)


def test_a_redirect_to_a_refused_address_is_refused(receiver: str) -> None:
    with pytest.raises(BlockedAddress, match="127.0.0.1"):
        fetch(f"{receiver}/redirect?to=http://127.0.0.1:9/")


def test_a_redirect_to_an_allowed_address_is_followed(receiver: str) -> None:
    result = fetch(f"{receiver}/redirect?to={receiver}/")
    assert result.body == b"hello" and result.redirects == 1


def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    async def evil_dns(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]  # one public, one private: refused

    with pytest.raises(BlockedAddress, match="10.0.0.5"):
        fetch("http://hooks.example.invalid/", resolver=evil_dns)


def test_only_http_and_https_schemes(receiver: str) -> None:
    for url in ("file:///etc/passwd", "gopher://x/", "ftp://x/"):
        with pytest.raises(BlockedAddress):
            fetch(url)
    with pytest.raises(BlockedAddress):
        fetch(f"{receiver}/redirect?to=file:///etc/passwd")


def test_the_response_size_is_capped(receiver: str) -> None:
    with pytest.raises(ResponseTooLarge):
        fetch(f"{receiver}/big", max_response_bytes=1000)


def test_probes_may_reach_internal_addresses_but_never_metadata(receiver: str) -> None:
    assert fetch(f"{receiver}/", policy=PROBE_POLICY).status == 200
    for url in ("http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/"):
        with pytest.raises(BlockedAddress):
            fetch(url, policy=PROBE_POLICY)


def test_the_connection_goes_to_the_address_that_was_checked(receiver: str) -> None:
    """DNS rebinding: the first answer passes the check, a second would point at loopback.
    The client must connect to the checked address, never look the name up again."""
    port = int(receiver.rsplit(":", 1)[1])
    answers: list[str] = []

    async def rebinding_dns(host: str, port: int) -> list[str]:
        answers.append(host)
        return [RECEIVER_HOST] if len(answers) == 1 else ["127.0.0.1"]

    result = fetch(f"http://hooks.example.invalid:{port}/", resolver=rebinding_dns)
    assert (result.status, result.body) == (200, b"hello")
    assert answers == ["hooks.example.invalid"]  # resolved once, by the guard


def test_a_host_written_as_an_address_is_checked_without_a_lookup() -> None:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"{host} should not be looked up")

    with pytest.raises(BlockedAddress, match="127.0.0.1"):
        fetch("http://127.0.0.1:9/", resolver=no_dns)
