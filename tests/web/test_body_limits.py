"""Every route that takes a body refuses one over its limit with 413, in the project's error shape.

The walk covers every registered POST/PUT/PATCH/DELETE route, public ones included (sign-in,
first-run setup, SAML ACS, ingest, replay chunks, heartbeat pings). Limits here are small and
differ per kind of route, so the walk also shows which limit each route keeps:

- ``[server] max_body_bytes`` (4096 here): UI, API, sign-in, SSO, pings;
- ``[ingest] max_body_bytes`` (8192): ingest routes, which check the credential first and answer
  413 themselves, as they always did;
- ``[replay] max_chunk_bytes`` (2048): replay chunks, answered by the route itself with the CORS
  headers the recorder needs.

A body one byte over the limit (declared ``Content-Length``) is refused before the handler runs,
even for a signed-in owner with a valid CSRF token: nothing is stored, not even an audit entry.
A body of exactly the limit is not refused for its size. A chunked body (no declared length) is
cut off by the framework's streaming limit as it is read, with the same error code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.config import DataConfig, Settings, load_settings, with_overrides
from signalcraft.db.connection import scalar
from signalcraft.db.queries import replays as rq
from signalcraft.replay.ids import new_public_key
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member
from tests.ingest_http.test_bad_input import ROUTES, Credential, Route, _credential
from tests.web.test_route_access import RouteCase, all_routes

SERVER_LIMIT, INGEST_LIMIT, REPLAY_LIMIT = 4096, 8192, 2048
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
ORIGIN = "https://shop.example.com"
REPLAY_CHUNKS = "/replay/{key:str}/sessions/{session_id:str}/chunks"
SESSION_ID = "0123456789abcdef0123456789abcdef"

# Each ingest route, by the row of the ingest test table that knows how to authenticate to it.
INGEST_ROUTES = {
    ("POST", "/ingest/{token:str}"): "token-alertmanager",
    ("POST", "/ingest/{token:str}/api/v2/alerts"): "alertmanager-api-v2-prefixed",
    ("POST", "/api/v2/alerts"): "alertmanager-api-v2-bearer",
    ("POST", "/v2/enqueue"): "pagerduty-enqueue",
    ("POST", "/v2/change/enqueue"): "pagerduty-change",
    ("POST", "/v2/alerts"): "opsgenie-create",
    ("POST", "/v2/alerts/{identifier:str}/{action:str}"): "opsgenie-close",
    ("POST", "/v2/heartbeats/{name:str}/ping"): "opsgenie-heartbeat",
    ("PUT", "/v2/heartbeats/{name:str}/ping"): "opsgenie-heartbeat",
    ("POST", "/api/{project_id:int}/envelope"): "sentry-envelope",
    ("POST", "/api/{project_id:int}/store"): "sentry-store",
}
STORED = {  # what a refused request must not have added
    "audit_log": "SELECT count(*) FROM audit_log",
    "alerts": "SELECT count(*) FROM alerts",
    "ingest_log": "SELECT count(*) FROM ingest_log",
    "replays": "SELECT count(*) FROM replays",
    "sessions": "SELECT count(*) FROM sessions",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings(None, env={})
    return with_overrides(
        base,
        data=DataConfig(dir=str(tmp_path / "data")),
        server=dataclasses.replace(base.server, max_body_bytes=SERVER_LIMIT),
        ingest=dataclasses.replace(base.ingest, max_body_bytes=INGEST_LIMIT),
        replay=dataclasses.replace(base.replay, max_chunk_bytes=REPLAY_LIMIT),
    )


@dataclasses.dataclass
class Target:
    """Where one route is called, with which headers, and the limit it must keep."""

    case: RouteCase
    path: str
    limit: int
    headers: dict[str, str]
    content_type: str

    def body(self, size: int) -> bytes:
        if self.content_type.startswith("application/x-www-form-urlencoded"):
            return b"a=" + b"x" * (size - 2)
        return b'{"a":"' + b"x" * (size - 8) + b'"}'


@dataclasses.dataclass
class World:
    client: TestClient  # type: ignore[type-arg]
    parts: Parts
    owner: Member
    credentials: dict[str, Credential]
    replay_key: str

    def targets(self) -> Iterator[Target]:
        by_name = {r.name: r for r in ROUTES}
        for case in all_routes(self.parts.app):
            if case.method not in BODY_METHODS:
                continue
            key = (case.method, case.template)
            if case.opt.get("ingest"):
                assert key in INGEST_ROUTES, f"{case}: an ingest route this test does not know how to call"
                route, credential = by_name[INGEST_ROUTES[key]], self.credentials[INGEST_ROUTES[key]]
                yield Target(case, route.path(credential), INGEST_LIMIT, route.auth(credential.secret), "")
            elif case.template == REPLAY_CHUNKS:
                path = f"/replay/{self.replay_key}/sessions/{SESSION_ID}/chunks"
                yield Target(case, path, REPLAY_LIMIT, {"Origin": ORIGIN}, "text/plain;charset=UTF-8")
            else:
                page = bool(case.opt.get("html"))
                kind = "application/x-www-form-urlencoded" if page else "application/json"
                yield Target(case, case.url("alpha"), SERVER_LIMIT, {}, kind)

    def send(self, target: Target, size: int, *, signed_in: bool) -> httpx.Response:
        headers = {**target.headers}
        if target.content_type:
            headers["Content-Type"] = target.content_type
        if signed_in:
            self.client.cookies.set("sc_session", self.owner.session_token)
            headers["X-CSRF-Token"] = self.owner.csrf
        else:
            self.client.cookies.clear()
        return self.client.request(
            target.case.method,
            target.path,
            content=target.body(size),
            headers=headers,
            follow_redirects=False,
        )

    def stored(self) -> dict[str, int]:
        return self.parts.ctx.db.read(lambda c: {name: int(scalar(c, sql)) for name, sql in STORED.items()})


@pytest.fixture
def world(client: TestClient, parts: Parts, clock: FakeClock) -> World:  # type: ignore[type-arg]
    db, now = parts.ctx.db, clock()
    owner = member(db, "owner@example.com", Role.OWNER, "alpha", now, admin=True)
    client.cookies.set("sc_session", owner.session_token)
    credentials = {}
    for route in {r.name: r for r in ROUTES}.values():
        made = client.post(
            "/api/v1/workspaces/alpha/integrations",
            json={"type": route.type, "name": route.name, "settings": route.settings},
            headers={"X-CSRF-Token": owner.csrf},
        )
        assert made.status_code == 201, made.text
        credentials[route.name] = _credential(made.json())
    recorder = db.write(
        lambda c: rq.save_recorder(c, owner.workspace.id, new_public_key(), (ORIGIN,), None, now)
    )
    return World(client, parts, owner, credentials, recorder.public_key)


def assert_error_shape(target: Target, response: httpx.Response) -> None:
    """An error page for pages; the JSON error body everywhere else (CORS kept for replay)."""
    if target.case.opt.get("html"):
        assert response.headers["content-type"].startswith("text/html"), response.headers
        assert "Too large" in response.text
        return
    body = response.json()
    if INGEST_ROUTES.get((target.case.method, target.case.template), "").startswith("opsgenie-"):
        # Opsgenie's routes answer in Opsgenie's error shape
        assert set(body) == {"message", "took", "requestId"}, body
        assert f"larger than {target.limit} bytes" in body["message"]
        return
    error = body["error"]
    assert error["code"] == "payload_too_large" and f"larger than {target.limit} bytes" in error["message"]
    if target.case.template == REPLAY_CHUNKS:
        assert response.headers["access-control-allow-origin"] == ORIGIN  # the recorder can read why


def test_every_route_refuses_a_declared_body_one_byte_over_its_limit_before_the_handler(
    world: World,
) -> None:
    targets = list(world.targets())
    assert {t.limit for t in targets} == {SERVER_LIMIT, INGEST_LIMIT, REPLAY_LIMIT}
    before = world.stored()
    for target in targets:
        response = world.send(target, target.limit + 1, signed_in=True)
        assert response.status_code == 413, f"{target.case}: {response.status_code} {response.text[:200]}"
        assert_error_shape(target, response)
    assert world.stored() == before  # no handler ran: nothing stored, not even an audit entry


def test_a_body_of_exactly_the_limit_is_not_refused_for_its_size(world: World) -> None:
    for target in world.targets():  # signed out: what a public route does with it is its business
        response = world.send(target, target.limit, signed_in=False)
        assert response.status_code != 413, f"{target.case}: {response.text[:200]}"


def chunked(size: int) -> Iterator[bytes]:
    """``size`` bytes in 1 KiB pieces: sent without a Content-Length."""
    while size > 0:
        yield b"x" * min(1024, size)
        size -= 1024


def test_a_chunked_body_over_the_limit_is_cut_off_as_it_is_read(world: World) -> None:
    headers = {"X-CSRF-Token": world.owner.csrf, "Content-Type": "application/json"}
    api = world.client.post(
        "/api/v1/workspaces/alpha/channels", content=chunked(SERVER_LIMIT + 1), headers=headers
    )
    assert api.status_code == 413, api.text
    assert api.json()["error"]["code"] == "payload_too_large"
    world.client.cookies.clear()
    form = world.client.post(
        "/login",
        content=chunked(SERVER_LIMIT + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413, form.text
    assert form.headers["content-type"].startswith("text/html") and "Too large" in form.text
    small = world.client.post(
        "/login", content=chunked(100), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert small.status_code != 413
