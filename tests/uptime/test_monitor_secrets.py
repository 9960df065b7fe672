"""An HTTP monitor's header values and request body are secrets at rest: sealed in the row (a
copied database file reveals none), shown as ``********`` by the API, the form and the audit
log, kept when the mask comes back, opened only for the probe, which sends them in clear to
the real target; plaintext left by an earlier version is sealed at start (idempotently), and
``keys rotate --data-keys`` re-seals them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from litestar.testing import TestClient

from signalcraft.auth import key_rotation
from signalcraft.auth.keyring import is_sealed, version_of
from signalcraft.db import Database
from signalcraft.db.connection import rows, scalar
from signalcraft.db.queries import uptime as uq
from signalcraft.runtime import Parts
from signalcraft.uptime.engine import Engine
from tests.auth.test_secrets_at_rest import raw_bytes
from tests.conftest import signed_in
from tests.helpers import FakeClock, Member, hidden_csrf

API = "/api/v1/workspaces/acme/monitors"
TOKEN = "Bearer mon-7f3a9c-SeCrEt-Probe-Token"
API_KEY = "k3y-0f-the-internal-api-4417"
BODY = '{"user": "probe", "password": "probe-login-PaSsWoRd-99"}'
SECRETS = (TOKEN, API_KEY, BODY, "probe-login-PaSsWoRd-99")


@dataclass
class Seen:
    method: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingTarget:
    """A loopback HTTP server that answers 200 and records what each request carried."""

    server: ThreadingHTTPServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"


@pytest.fixture
def target() -> Iterator[RecordingTarget]:
    seen: list[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(Seen(self.command, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RecordingTarget(server, seen)
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(client: TestClient, owner: Member) -> TestClient:
    signed_in(client, owner)
    client.headers["X-CSRF-Token"] = owner.csrf
    return client


def create(api: TestClient, url: str, **settings: Any) -> dict[str, Any]:
    payload = {
        "url": url,
        "method": "POST",
        "headers": {"Authorization": TOKEN, "X-Api-Key": API_KEY, "Accept": "text/plain"},
        "body": BODY,
        **settings,
    }
    created = api.post(
        API, json={"kind": "http", "name": "Internal API", "interval_seconds": 60, "settings": payload}
    )
    assert created.status_code == 201, created.text
    found: dict[str, Any] = created.json()
    return found


def stored_settings(parts: Parts, monitor_id: int) -> dict[str, Any]:
    found: dict[str, Any] = orjson.loads(
        parts.ctx.db.read(lambda c: scalar(c, "SELECT settings FROM monitors WHERE id = ?", (monitor_id,)))
    )
    return found


def opened_settings(parts: Parts, monitor_id: int) -> dict[str, Any]:
    row = parts.ctx.db.read(lambda c: uq.opened(c, uq.monitor_by_id(c, monitor_id)))  # type: ignore[arg-type]
    return row.settings


# --- at rest and on display ----------------------------------------------------------------------


def test_header_values_and_body_are_sealed_in_the_row_and_masked_in_every_answer(
    api: TestClient, parts: Parts, target: RecordingTarget
) -> None:
    monitor = create(api, target.url)
    shown = monitor["settings"]
    assert shown["headers"] == {"Authorization": "********", "X-Api-Key": "********", "Accept": "********"}
    assert shown["body"] == "********" and shown["url"] == target.url
    for answer in (
        api.get(API),
        api.get(f"{API}/{monitor['id']}"),
        api.get(f"/w/acme/monitors/{monitor['id']}/edit"),
    ):
        assert answer.status_code == 200
        for secret in SECRETS:
            assert secret not in answer.text
    raw = stored_settings(parts, monitor["id"])
    assert all(is_sealed(v) for v in raw["headers"].values()) and is_sealed(raw["body"])
    assert raw["url"] == target.url and raw["method"] == "POST"  # the rest stays readable
    assert opened_settings(parts, monitor["id"])["headers"]["Authorization"] == TOKEN
    audit = parts.ctx.db.read(lambda c: rows(c, "SELECT detail FROM audit_log WHERE action LIKE 'monitor.%'"))
    assert audit and not any(secret in str(audit) for secret in SECRETS)


def test_a_database_file_copied_alone_reveals_no_monitor_secret(
    api: TestClient, parts: Parts, target: RecordingTarget
) -> None:
    create(api, target.url)
    data = raw_bytes(parts.ctx.db.path)
    assert target.url.encode() in data  # the copy holds the monitor
    for secret in SECRETS:
        assert secret.encode() not in data, secret


# --- the probe ---------------------------------------------------------------------------------


def test_run_now_sends_the_decrypted_header_and_body_to_the_real_target(
    api: TestClient, target: RecordingTarget
) -> None:
    monitor = create(api, target.url)
    ran = api.post(f"{API}/{monitor['id']}/run")
    assert ran.status_code == 200 and ran.json()["ok"] is True, ran.text
    [request] = target.seen
    assert request.method == "POST" and request.headers["authorization"] == TOKEN
    assert request.headers["x-api-key"] == API_KEY and request.body == BODY.encode()


def test_scheduled_checks_send_the_decrypted_header(
    api: TestClient, parts: Parts, clock: FakeClock, target: RecordingTarget
) -> None:
    create(api, target.url)
    engine = Engine(parts.ctx.db, parts.ctx.settings, clock, extras={})

    async def one_interval() -> int:
        await engine.reload(clock())  # the first check falls somewhere in the first interval
        try:
            return await engine.run_due(clock() + 60)
        finally:
            await engine.aclose()

    assert asyncio.run(one_interval()) == 1
    assert [r.headers["authorization"] for r in target.seen] == [TOKEN]


# --- editing -------------------------------------------------------------------------------------


def test_the_mask_sent_back_keeps_a_value_a_new_value_replaces_it_and_a_left_out_header_goes(
    api: TestClient, parts: Parts, target: RecordingTarget
) -> None:
    monitor = create(api, target.url)
    before = stored_settings(parts, monitor["id"])
    renamed = api.patch(f"{API}/{monitor['id']}", json={"name": "Renamed"})  # settings untouched
    assert renamed.status_code == 200 and stored_settings(parts, monitor["id"]) == before
    patched = api.patch(
        f"{API}/{monitor['id']}",
        json={"settings": {"headers": {"authorization": "********", "X-Api-Key": "rotated-key"}}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["settings"]["headers"] == {"Authorization": "********", "X-Api-Key": "********"}
    assert opened_settings(parts, monitor["id"])["headers"] == {
        "Authorization": TOKEN,
        "X-Api-Key": "rotated-key",
    }
    assert opened_settings(parts, monitor["id"])["body"] == BODY
    api.post(f"{API}/{monitor['id']}/run")
    sent = target.seen[-1].headers
    assert sent["authorization"] == TOKEN and sent["x-api-key"] == "rotated-key"
    assert sent.get("accept") != "text/plain"  # the header left out is gone


def test_a_mask_with_nothing_stored_behind_it_is_refused_naming_the_field(
    api: TestClient, parts: Parts, target: RecordingTarget
) -> None:
    monitor = create(api, target.url)
    refused = api.patch(f"{API}/{monitor['id']}", json={"settings": {"headers": {"X-Other": "********"}}})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "settings.headers"
    assert "X-Other" in refused.json()["error"]["message"]
    fresh = api.post(
        API,
        json={
            "kind": "http",
            "name": "New",
            "interval_seconds": 60,
            "settings": {"url": target.url, "body": "********"},
        },
    )
    assert fresh.status_code == 400 and fresh.json()["error"]["field"] == "settings.body"


def test_the_edit_form_shows_masks_and_saving_it_unchanged_keeps_every_secret(
    client: TestClient, owner: Member, parts: Parts, target: RecordingTarget
) -> None:
    signed_in(client, owner)
    client.headers["X-CSRF-Token"] = owner.csrf
    monitor = create(client, target.url)
    page = client.get(f"/w/acme/monitors/{monitor['id']}/edit").text
    assert "Authorization: ********" in page
    form = {
        "_csrf": hidden_csrf(page),
        "name": "Internal API",
        "url": target.url,
        "method": "POST",
        "headers": "Authorization: ********\nX-Api-Key: ********\nAccept: ********",
        "body": "********",
        "expected_status": "200-299",
        "interval_seconds": "60",
        "timeout_seconds": "10",
        "follow_redirects": "1",
        "verify_tls": "1",
        "keyword_absent": "0",
    }
    tested = client.post(f"/w/acme/monitors/{monitor['id']}/edit", data={**form, "test": "1"})
    assert tested.status_code == 200 and "Check passed" in tested.text
    assert target.seen[-1].headers["authorization"] == TOKEN and target.seen[-1].body == BODY.encode()
    saved = client.post(f"/w/acme/monitors/{monitor['id']}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    kept = opened_settings(parts, monitor["id"])
    assert kept["headers"] == {"Authorization": TOKEN, "X-Api-Key": API_KEY, "Accept": "text/plain"}
    assert kept["body"] == BODY


# --- converting old rows, rotating keys ---------------------------------------------------------------


def test_plaintext_monitor_secrets_from_an_earlier_version_are_sealed_at_start(
    api: TestClient, parts: Parts, target: RecordingTarget, tmp_path: Path
) -> None:
    monitor = create(api, target.url)
    plain = {**stored_settings(parts, monitor["id"]), "headers": {"Authorization": TOKEN}, "body": BODY}
    parts.ctx.db.write(
        lambda c: c.execute(
            "UPDATE monitors SET settings = ? WHERE id = ?", (orjson.dumps(plain).decode(), monitor["id"])
        )
    )
    path = parts.ctx.db.path
    parts.ctx.db.close()
    assert TOKEN.encode() in raw_bytes(path)  # as an earlier version left it

    db = Database(path)
    db.open(now=10.0)
    try:
        first = db.read(lambda c: scalar(c, "SELECT settings FROM monitors"))
        sealed = orjson.loads(first)
        assert is_sealed(sealed["headers"]["Authorization"]) and is_sealed(sealed["body"])
        row = db.read(lambda c: uq.opened(c, uq.monitor_by_id(c, monitor["id"])))  # type: ignore[arg-type]
        assert row.settings["headers"] == {"Authorization": TOKEN} and row.settings["body"] == BODY
    finally:
        db.close()
    assert TOKEN.encode() not in raw_bytes(path) and BODY.encode() not in raw_bytes(path)
    again = Database(path)
    again.open(now=20.0)  # idempotent: sealed values stay as they are
    try:
        assert again.read(lambda c: scalar(c, "SELECT settings FROM monitors")) == first
    finally:
        again.close()
    parts.ctx.db.open()  # for the fixture's teardown


def test_rotating_data_keys_reseals_monitor_secrets(
    api: TestClient, parts: Parts, clock: FakeClock, target: RecordingTarget
) -> None:
    monitor = create(api, target.url)
    before = stored_settings(parts, monitor["id"])["headers"]["Authorization"]
    rotation = key_rotation.rotate_data_keys(parts.ctx.db, clock(), batch_size=1)
    assert rotation.resealed >= 1 and rotation.retired >= 1
    after = stored_settings(parts, monitor["id"])["headers"]["Authorization"]
    assert after != before and version_of(after) == version_of(before) + 1
    assert opened_settings(parts, monitor["id"])["headers"]["Authorization"] == TOKEN
    assert api.post(f"{API}/{monitor['id']}/run").json()["ok"] is True
    assert target.seen[-1].headers["authorization"] == TOKEN
