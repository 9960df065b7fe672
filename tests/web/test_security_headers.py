"""Security headers on every kind of response; HSTS only when the request came over TLS."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft.metrics import Metrics
from signalcraft.runtime import Parts
from signalcraft.web.observe import observe
from tests.helpers import Member

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def check_headers(response: Any) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]


@pytest.mark.parametrize(
    "path",
    [
        "/w/acme/settings/members",
        "/api/v1/me",
        "/static/app.css",
        "/no-such-page",
        "/api/v1/workspaces/nope/alert-groups",
    ],
)
def test_pages_api_calls_errors_and_static_files_carry_the_security_headers(
    client: TestClient, owner: Member, path: str
) -> None:
    client.cookies.set("sc_session", owner.session_token)
    response = client.get(path)
    check_headers(response)
    assert "strict-transport-security" not in response.headers  # plain http: no HSTS


def test_hsts_is_sent_when_the_request_itself_is_https(parts: Parts) -> None:
    with TestClient(app=parts.app, base_url="https://alerts.example.com") as tls:
        response = tls.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    check_headers(response)


async def _call(app: Any, client_ip: str, headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "scheme": "http",
        "headers": headers,
        "client": (client_ip, 40000),
        "server": ("127.0.0.1", 8080),
    }
    await observe(inner, Metrics(), app)(scope, receive, send)
    return dict(sent[0]["headers"])


@pytest.mark.parametrize(("peer", "hsts"), [("10.0.0.5", True), ("192.0.2.9", False)])
def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(peer: str, hsts: bool) -> None:
    got = asyncio.run(_call(("10.0.0.0/8",), peer, [(b"x-forwarded-proto", b"https")]))
    assert (b"strict-transport-security" in got) is hsts
    assert got[b"referrer-policy"] == b"same-origin"
