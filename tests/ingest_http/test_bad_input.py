"""Every ingest route refuses bad input with a 4xx in its own tool's error shape, and a
refused request leaves no trace but one line in the integration's ingest log.

What "bad" covers: a body over ``ingest.max_body_bytes`` (declared, streamed without a
length, or a gzip bomb), JSON nested deeper than 64 levels, invalid JSON, wrong types or
missing fields, unsupported or corrupt ``Content-Encoding``, unknown / revoked / rotated
credentials, and the per-integration rate limit.

What "no trace" means: no alert, group, timeline event, raw payload, deploy or heartbeat
row is added. A known integration that sent a payload SignalCraft could not read gets one
``ingest_log`` line with ``accepted = 0`` (the integration page shows it); a request refused
for its credential or its rate gets none. A body refused for its size or its encoding may
get at most that one line.

One app serves the whole module (each test makes its own integrations and compares row
counts before and after), so 14 routes times a dozen cases run in seconds. The route table
below is also what ``test_fuzz.py`` drives.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.config import DataConfig, load_settings, with_overrides
from signalcraft.db.connection import scalar
from signalcraft.runtime import Parts, build
from tests.helpers import FakeClock, member
from tests.ingest_http.conftest import sample

LIMIT = 4096  # ingest.max_body_bytes for this module: small, so oversized bodies are cheap
BASE_URL = "http://127.0.0.1:8080"
ALIAS = "disk-full-db1"

# --- the routes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """An integration as a monitoring tool knows it: its id (Sentry's project id) and its secret."""

    id: int
    secret: str


Body = Callable[[str], bytes]  # the secret -> a body (PagerDuty carries its routing key in the body)


def _same(body: bytes) -> Body:
    return lambda _secret: body


def _pagerduty(name: str) -> Body:
    def body(secret: str) -> bytes:
        document = json.loads(sample("pagerduty", name))
        document["routing_key"] = secret
        return json.dumps(document).encode()

    return body


def _as_json(document: bytes) -> bytes:
    return document


def _as_envelope(document: bytes) -> bytes:
    """A JSON document as the payload of a Sentry envelope's one event item."""
    header = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n'
    return header + document + b"\n"


@dataclass(frozen=True)
class Route:
    """One ingest route: where it is, how it authenticates, and bodies it accepts and refuses."""

    name: str
    type: str
    shape: str  # whose error body it answers with: pagerduty, opsgenie, sentry or signalcraft
    path: Callable[[Credential], str]
    auth: Callable[[str], dict[str, str]]
    valid: Body
    wrong: Body  # a wrong type or a missing required field ...
    wrong_field: str  # ... which the 400 names
    settings: dict[str, Any] = field(default_factory=dict)
    frame: Callable[[bytes], bytes] = _as_json  # how a JSON document travels in this route's body
    reads_body: bool = True
    knows_integration_before_body: bool = True

    def __str__(self) -> str:
        return self.name


JSON = {"Content-Type": "application/json"}
WEBHOOK_MAPPING = {"title": "check", "alerts": "data.items"}


def _in_url(_secret: str) -> dict[str, str]:
    return dict(JSON)


def _bearer(secret: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {secret}"}


def _none(_secret: str) -> dict[str, str]:
    return dict(JSON)


def _genie(secret: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"GenieKey {secret}"}


def _sentry(secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/x-sentry-envelope",
        "X-Sentry-Auth": f"Sentry sentry_key={secret}, sentry_version=7, sentry_client=sentry.python/2.75.0",
    }


def _sentry_store(secret: str) -> dict[str, str]:
    return {**_sentry(secret), **JSON}


def _token_route(type_: str, valid: str, wrong: str, wrong_field: str) -> Route:
    return Route(
        name=f"token-{type_}",
        type=type_,
        shape="signalcraft",
        path=lambda c: f"/ingest/{c.secret}",
        auth=_in_url,
        valid=_same(sample(type_, valid)),
        wrong=_same(sample(type_, wrong)),
        wrong_field=wrong_field,
    )


PROMETHEUS_OK = _same(sample("prometheus", "001-firing-and-resolved.json"))
PROMETHEUS_WRONG = _same(sample("prometheus", "900-missing-alertname.json"))

ROUTES: list[Route] = [
    _token_route(
        "alertmanager",
        valid="001-firing-two-alerts-same-summary.json",
        wrong="900-labels-not-an-object.json",
        wrong_field="alerts[1].labels",
    ),
    _token_route(
        "grafana",
        valid="001-firing-with-values.json",
        wrong="900-values-not-an-object.json",
        wrong_field="alerts[0].values",
    ),
    _token_route("datadog", valid="001-triggered.json", wrong="900-missing-title.json", wrong_field="title"),
    Route(
        name="token-webhook",
        type="webhook",
        shape="signalcraft",
        path=lambda c: f"/ingest/{c.secret}",
        auth=_in_url,
        valid=_same(b'{"data": {"items": [{"check": "Disk full on db1"}]}}'),
        wrong=_same(sample("webhook", "900-missing-title.json")),
        wrong_field="data.items[1].check",
        settings={"mapping": WEBHOOK_MAPPING},
    ),
    _token_route(
        "prometheus",
        valid="001-firing-and-resolved.json",
        wrong="900-missing-alertname.json",
        wrong_field="[1].labels.alertname",
    ),
    Route(
        name="alertmanager-api-v2-prefixed",
        type="prometheus",
        shape="signalcraft",
        path=lambda c: f"/ingest/{c.secret}/api/v2/alerts",
        auth=_in_url,
        valid=PROMETHEUS_OK,
        wrong=PROMETHEUS_WRONG,
        wrong_field="[1].labels.alertname",
    ),
    Route(
        name="alertmanager-api-v2-bearer",
        type="prometheus",
        shape="signalcraft",
        path=lambda c: "/api/v2/alerts",
        auth=_bearer,
        valid=PROMETHEUS_OK,
        wrong=PROMETHEUS_WRONG,
        wrong_field="[1].labels.alertname",
    ),
    Route(
        name="pagerduty-enqueue",
        type="pagerduty",
        shape="pagerduty",
        path=lambda c: "/v2/enqueue",
        auth=_none,
        valid=_pagerduty("001-trigger-from-alertmanager.json"),
        wrong=_pagerduty("901-trigger-bad-severity.json"),
        wrong_field="payload.severity",
        knows_integration_before_body=False,
    ),
    Route(
        name="pagerduty-change",
        type="pagerduty",
        shape="pagerduty",
        path=lambda c: "/v2/change/enqueue",
        auth=_none,
        valid=_pagerduty("005-change-event.json"),
        wrong=_pagerduty("904-change-event-without-summary.json"),
        wrong_field="payload.summary",
        knows_integration_before_body=False,
    ),
    Route(
        name="opsgenie-create",
        type="opsgenie",
        shape="opsgenie",
        path=lambda c: "/v2/alerts",
        auth=_genie,
        valid=_same(sample("opsgenie", "001-create-from-alertmanager.json")),
        wrong=_same(sample("opsgenie", "900-bad-priority.json")),
        wrong_field="priority",
    ),
    Route(
        name="opsgenie-close",
        type="opsgenie",
        shape="opsgenie",
        path=lambda c: f"/v2/alerts/{ALIAS}/close?identifierType=alias",
        auth=_genie,
        valid=_same(sample("opsgenie", "002-close-by-alias-from-alertmanager.json")),
        wrong=_same(b'{"user": 5}'),
        wrong_field="user",
    ),
    Route(
        name="opsgenie-heartbeat",
        type="opsgenie",
        shape="opsgenie",
        path=lambda c: "/v2/heartbeats/nightly-backup/ping",
        auth=_genie,
        valid=_same(b""),
        wrong=_same(b""),
        wrong_field="",
        reads_body=False,  # a ping has no body to be wrong about
    ),
    Route(
        name="sentry-envelope",
        type="sentry",
        shape="sentry",
        path=lambda c: f"/api/{c.id}/envelope/",
        auth=_sentry,
        valid=_same(sample("sentry", "002-message.envelope")),
        wrong=_same(sample("sentry", "901-item-without-type.envelope")),
        wrong_field="items[0].type",
        frame=_as_envelope,
    ),
    Route(
        name="sentry-store",
        type="sentry",
        shape="sentry",
        path=lambda c: f"/api/{c.id}/store/",
        auth=_sentry_store,
        valid=_same(sample("sentry", "005-store-message-event.json")),
        wrong=_same(b'{"level": 5}'),
        wrong_field="level",
    ),
]
BODY_ROUTES = [r for r in ROUTES if r.reads_body]


# --- one app for the module -------------------------------------------------------------------


@dataclass
class Bench:
    """The real app in-process on a real SQLite file, with a signed-in owner of workspace acme."""

    parts: Parts
    client: TestClient

    def create(self, route: Route) -> Credential:
        response = self.client.post(
            "/api/v1/workspaces/acme/integrations",
            json={"type": route.type, "name": route.name, "settings": route.settings},
        )
        assert response.status_code == 201, response.text
        return _credential(response.json())

    def rotate(self, old: Credential) -> Credential:
        response = self.client.post(f"/api/v1/workspaces/acme/integrations/{old.id}/rotate")
        assert response.status_code in (200, 201), response.text
        return _credential(response.json())

    def revoke(self, credential: Credential) -> None:
        response = self.client.delete(f"/api/v1/workspaces/acme/integrations/{credential.id}")
        assert response.status_code == 204, response.text

    def send(
        self, route: Route, credential: Credential, body: bytes | None = None, **headers: str
    ) -> httpx.Response:
        content = route.valid(credential.secret) if body is None else body
        return self.client.post(
            route.path(credential), content=content, headers={**route.auth(credential.secret), **headers}
        )

    def counts(self) -> dict[str, int]:
        return self.parts.ctx.db.read(lambda c: {name: int(scalar(c, sql)) for name, sql in COUNTS.items()})


COUNTS = {
    "alerts": "SELECT count(*) FROM alerts",
    "alert_groups": "SELECT count(*) FROM alert_groups",
    "alert_events": "SELECT count(*) FROM alert_events",
    "raw_payloads": "SELECT count(*) FROM raw_payloads",
    "deploy_events": "SELECT count(*) FROM deploy_events",
    "heartbeat_pings": "SELECT coalesce(sum(ping_count), 0) FROM heartbeat_pings",
    "ingest_accepted": "SELECT count(*) FROM ingest_log WHERE accepted = 1",
    "ingest_refused": "SELECT count(*) FROM ingest_log WHERE accepted = 0",
}


def _credential(created: dict[str, Any]) -> Credential:
    given = created["credential"]
    secret = given.get("token") or given.get("routing_key") or given.get("genie_key")
    if secret is None:  # a Sentry DSN: http://<public key>@host/<project id>
        secret = given["dsn"].split("//", 1)[1].split("@", 1)[0]
    return Credential(created["integration"]["id"], secret)


@contextmanager
def open_bench(workdir: Path, *, rate_limit_per_minute: int = 1_000_000) -> Iterator[Bench]:
    """Build, open and serve (in-process) an app whose data lives in ``workdir``."""
    base = load_settings(None, env={})
    settings = with_overrides(
        base,
        data=DataConfig(dir=str(workdir / "data")),
        ingest=replace(base.ingest, max_body_bytes=LIMIT, rate_limit_per_minute=rate_limit_per_minute),
    )
    clock = FakeClock()
    parts = build(settings, clock=clock)
    parts.ctx.db.open()
    owner = member(parts.ctx.db, "owner@example.com", Role.OWNER, "acme", clock(), admin=True)
    try:
        with TestClient(app=parts.app, base_url=BASE_URL) as client:
            client.cookies.set("sc_session", owner.session_token)
            client.headers["X-CSRF-Token"] = owner.csrf
            yield Bench(parts, client)
    finally:
        parts.ctx.db.close()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    with open_bench(tmp_path_factory.mktemp("bad-input")) as opened:
        yield opened


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """An app whose integrations may each send two requests a minute."""
    with open_bench(tmp_path_factory.mktemp("rate-limited"), rate_limit_per_minute=2) as opened:
        yield opened


# --- what a refusal looks like ----------------------------------------------------------------


def error_text(response: httpx.Response, shape: str) -> str:
    """The one error message of the route's own error body; fails if the body has another shape."""
    body = response.json()
    if shape == "pagerduty":
        assert body["status"] == "invalid event" and body["message"] == "Event object is invalid", body
        assert isinstance(body["errors"], list) and body["errors"], body
        return " ".join(body["errors"])
    if shape == "opsgenie":
        assert set(body) == {"message", "took", "requestId"}, body
        return str(body["message"])
    if shape == "sentry":
        assert set(body) == {"detail"}, body
        return str(body["detail"])
    assert set(body) == {"error"} and {"code", "message", "field"} <= set(body["error"]), body
    error = body["error"]
    return f"{error['field']}: {error['message']}" if error["field"] else str(error["message"])


def assert_names_field(response: httpx.Response, shape: str, name: str) -> None:
    text = error_text(response, shape)
    if shape == "pagerduty":
        assert any(e.startswith(f"'{name}' ") for e in response.json()["errors"]), text
    elif shape == "signalcraft":
        assert response.json()["error"]["field"] == name, text
    else:
        assert text.startswith(f"{name}: "), text


def assert_nothing_stored(before: dict[str, int], after: dict[str, int], *, refused_lines: int = 0) -> None:
    expected = {**before, "ingest_refused": before["ingest_refused"] + refused_lines}
    wrong = {
        name: f"{before[name]} -> {after[name]}, expected {expected[name]}"
        for name in after
        if after[name] != expected[name]
    }
    assert not wrong, f"a refused request changed stored rows: {wrong}"


def assert_at_most_refused_lines(before: dict[str, int], after: dict[str, int], most: int = 1) -> None:
    assert 0 <= after["ingest_refused"] - before["ingest_refused"] <= most
    assert {**after, "ingest_refused": 0} == {**before, "ingest_refused": 0}


def deep_json(levels: int) -> bytes:
    """A JSON document nested ``levels`` deep: ``levels - 1`` objects around an empty array."""
    return b'{"a":' * (levels - 1) + b"[]" + b"}" * (levels - 1)


def comparable(response: httpx.Response) -> tuple[int, str, Any]:
    """Status, media type and body without the parts that differ per request."""
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("requestId", "took")}
        if isinstance(body.get("error"), dict):
            body["error"] = {k: v for k, v in body["error"].items() if k != "request_id"}
    return response.status_code, response.headers.get("content-type", ""), body


# --- bodies over the limit ----------------------------------------------------------------------


def oversized() -> bytes:
    return b'{"a":"' + b"x" * LIMIT + b'"}'


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_body_over_the_limit_with_an_honest_content_length_is_refused_with_413(
    bench: Bench, route: Route
) -> None:
    credential = bench.create(route)
    before = bench.counts()
    response = bench.send(route, credential, oversized())
    assert response.status_code == 413, response.text
    if route.shape == "opsgenie":  # in the tool's own error shape
        assert "larger than" in error_text(response, route.shape)
    assert_at_most_refused_lines(before, bench.counts())


def send_endless(bench: Bench, route: Route, credential: Credential) -> tuple[httpx.Response, int]:
    """POST a body streamed in 1 KiB chunks without Content-Length that would never end;
    returns the response and how many chunks the app pulled before answering."""
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while pulled < 4096:  # a stop for a route that reads everything: 4 MiB, far past the limit
            pulled += 1
            yield b" " * 1024

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=bench.parts.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return await client.post(
                route.path(credential), content=endless(), headers=route.auth(credential.secret)
            )

    return asyncio.run(post()), pulled


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_an_endless_streamed_body_without_content_length_is_cut_off_at_the_limit_with_413(
    bench: Bench, route: Route
) -> None:
    credential = bench.create(route)
    before = bench.counts()
    response, pulled = send_endless(bench, route, credential)
    assert response.status_code == 413, response.text
    assert pulled <= LIMIT // 1024 + 2  # stopped reading at the limit, not at the end of the stream
    assert_at_most_refused_lines(before, bench.counts())


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_gzip_bomb_is_refused_with_413_once_it_inflates_past_the_limit(bench: Bench, route: Route) -> None:
    credential = bench.create(route)
    bomb = gzip.compress(b'{"a":"' + b"x" * (LIMIT * 256) + b'"}')  # 1 MiB from about 1 KiB
    assert len(bomb) < LIMIT // 2
    before = bench.counts()
    response = bench.send(route, credential, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413, response.text
    assert_at_most_refused_lines(before, bench.counts())


# --- bodies that are not what the tool sends --------------------------------------------------


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_json_nested_65_levels_is_refused_with_400_naming_the_nesting(bench: Bench, route: Route) -> None:
    credential = bench.create(route)
    before = bench.counts()
    response = bench.send(route, credential, route.frame(deep_json(65)))
    assert response.status_code == 400, response.text
    assert "nested deeper than 64 levels" in error_text(response, route.shape)
    assert_nothing_stored(before, bench.counts(), refused_lines=int(route.knows_integration_before_body))
    at_the_limit = bench.send(route, credential, route.frame(deep_json(64)))
    assert at_the_limit.status_code < 500
    if at_the_limit.status_code >= 400:
        assert "nested" not in error_text(at_the_limit, route.shape)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_invalid_json_is_refused_with_400_in_the_route_error_shape(bench: Bench, route: Route) -> None:
    credential = bench.create(route)
    before = bench.counts()
    response = bench.send(route, credential, route.frame(b'{"alerts": [{"labels": '))
    assert response.status_code == 400, response.text
    assert "invalid JSON" in error_text(response, route.shape)
    assert_nothing_stored(before, bench.counts(), refused_lines=int(route.knows_integration_before_body))


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_a_wrong_type_or_a_missing_field_is_refused_with_400_naming_the_field(
    bench: Bench, route: Route
) -> None:
    credential = bench.create(route)
    before = bench.counts()
    response = bench.send(route, credential, route.wrong(credential.secret))
    assert response.status_code == 400, response.text
    assert_names_field(response, route.shape, route.wrong_field)
    assert_nothing_stored(before, bench.counts(), refused_lines=1)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
@pytest.mark.parametrize("encoding", ["zstd", "compress, gzip", "x-unknown"])
def test_an_unsupported_content_encoding_is_a_4xx_naming_the_header(
    bench: Bench, route: Route, encoding: str
) -> None:
    credential = bench.create(route)
    before = bench.counts()
    response = bench.send(
        route, credential, gzip.compress(route.valid(credential.secret)), **{"Content-Encoding": encoding}
    )
    assert 400 <= response.status_code < 500, response.text
    assert_names_field(response, route.shape, "content-encoding")
    assert_at_most_refused_lines(before, bench.counts())


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_a_body_that_is_not_the_gzip_it_claims_is_a_400_naming_the_header(bench: Bench, route: Route) -> None:
    credential = bench.create(route)
    valid = route.valid(credential.secret)
    before = bench.counts()
    for body in (valid, gzip.compress(valid)[:-12]):  # plain bytes; a truncated stream
        response = bench.send(route, credential, body, **{"Content-Encoding": "gzip"})
        assert response.status_code == 400, response.text
        assert_names_field(response, route.shape, "content-encoding")
    assert_at_most_refused_lines(before, bench.counts(), most=2)


# --- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_an_unknown_and_a_revoked_credential_get_the_same_401(bench: Bench, route: Route) -> None:
    revoked = bench.create(route)
    bench.revoke(revoked)
    unknown = Credential(revoked.id, secrets.token_hex(16))
    before = bench.counts()
    by_revoked = bench.send(route, revoked)
    by_unknown = bench.send(route, unknown)
    assert by_revoked.status_code == 401, by_revoked.text
    assert comparable(by_revoked) == comparable(by_unknown)
    if route.shape in ("opsgenie", "sentry"):  # in the tool's own error shape
        assert error_text(by_revoked, route.shape)
    assert_nothing_stored(before, bench.counts())


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_rotated_credential_is_refused_and_its_replacement_works(bench: Bench, route: Route) -> None:
    old = bench.create(route)
    assert bench.send(route, old).status_code < 300
    new = bench.rotate(old)
    assert new.secret != old.secret and new.id == old.id
    before = bench.counts()
    refused = bench.send(route, old)
    assert refused.status_code == 401, refused.text
    assert_nothing_stored(before, bench.counts())
    accepted = bench.send(route, new)
    assert 200 <= accepted.status_code < 300, accepted.text


# --- rate limit -------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_the_rate_limit_is_per_integration_and_answers_429_with_retry_after(
    limited: Bench, route: Route
) -> None:
    credential = limited.create(route)
    for _ in range(2):
        accepted = limited.send(route, credential)
        assert 200 <= accepted.status_code < 300, accepted.text
    before = limited.counts()
    refused = limited.send(route, credential)
    assert refused.status_code == 429, refused.text
    retry_after = refused.headers.get("Retry-After", "")
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    if route.shape in ("opsgenie", "sentry"):  # in the tool's own error shape
        assert "rate limit" in error_text(refused, route.shape)
    assert_nothing_stored(before, limited.counts())
    other = limited.create(route)  # another integration has its own budget
    assert 200 <= limited.send(route, other).status_code < 300
