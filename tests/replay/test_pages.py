"""The replay pages: list and filters, the player page (timeline marks for page errors and
for alerts tagged with the session, its own CSP), the events it plays, the alert group's
fragment, and the recorder settings (key, snippet, origins, sampling, rotation)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from litestar.testing import TestClient

from signalcraft.db.queries import replays as rq
from signalcraft.runtime import Parts
from signalcraft.web.observe import CSP
from tests.helpers import FakeClock, Member, hidden_csrf
from tests.replay.conftest import FIXTURES, ORIGIN, SESSION, Browser, error_event, recorded_events

WEB = Path(__file__).resolve().parents[2] / "web" / "replays"
OTHER = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def session(client: TestClient, owner: Member) -> TestClient:
    client.cookies.set("sc_session", owner.session_token)
    return client


@pytest.fixture
def ready(
    browser: Browser, parts: Parts, recorder: rq.Recorder, clock: FakeClock, tasks: dict[str, Any]
) -> list[Any]:
    """A finalized replay with a page error, and an open one; returns the finalized one's events."""
    events = recorded_events()
    events.append(error_event(events[-1]["timestamp"] + 1500, "TypeError: cart is undefined"))
    assert browser.send(0, events, user_id="customer-42").status_code == 202
    clock.advance(31 * 60)
    tasks["replay_finalize"].call_local()
    assert browser.send(0, recorded_events()[:4], session=OTHER).status_code == 202
    return events


def tag_an_alert_with_the_session(session: TestClient, owner: Member) -> int:
    """An alert arrives through a real Alertmanager integration with label replay_id."""
    created = session.post(
        "/api/v1/workspaces/acme/integrations",
        json={"type": "alertmanager", "name": "am"},
        headers={"X-CSRF-Token": owner.csrf},
    )
    assert created.status_code == 201, created.text
    url = "/" + created.json()["ingest_url"].split("/", 3)[3]
    payload = (FIXTURES / "alertmanager-tagged-with-replay-id.json").read_bytes()
    assert session.post(url, content=payload, headers={"Content-Type": "application/json"}).status_code == 200
    groups = session.get("/api/v1/workspaces/acme/alert-groups").json()["groups"]
    return int(groups[0]["id"])


def test_the_list_shows_sessions_and_filters_them(
    session: TestClient, ready: list[Any], owner: Member
) -> None:
    page = session.get("/w/acme/replays")
    assert page.status_code == 200
    assert page.text.count(f"/w/acme/replays/{SESSION}") >= 1 and f"/w/acme/replays/{OTHER}" in page.text
    with_errors = session.get("/w/acme/replays?errors=1").text
    assert SESSION in with_errors and OTHER not in with_errors
    assert OTHER not in session.get("/w/acme/replays?user=customer-42").text
    assert SESSION in session.get("/w/acme/replays?url=127.0.0.1").text
    assert "No replay matches" in session.get("/w/acme/replays?url=nowhere").text
    assert SESSION not in session.get("/w/acme/replays?alerts=1").text
    group_id = tag_an_alert_with_the_session(session, owner)
    assert SESSION in session.get("/w/acme/replays?alerts=1").text
    by_group = session.get(f"/w/acme/replays?group={group_id}").text
    assert SESSION in by_group and OTHER not in by_group
    assert OTHER in session.get("/w/acme/replays?status=recording").text
    assert SESSION not in session.get("/w/acme/replays?from=2099-01-01").text
    bad = session.get("/w/acme/replays?from=yesterday")
    assert bad.status_code == 400 and "use a date like" in bad.text


def test_the_player_page_marks_errors_and_tagged_alerts_and_relaxes_only_its_own_csp(
    session: TestClient, ready: list[Any], owner: Member
) -> None:
    group_id = tag_an_alert_with_the_session(session, owner)
    page = session.get(f"/w/acme/replays/{SESSION}")
    assert page.status_code == 200
    html = page.text
    marks = re.findall(r'data-kind="(\w+)" data-offset-ms="(\d+)" data-label="([^"]*)"', html)
    start = ready[0]["timestamp"]
    assert marks == [
        ("alert", str(1_795_815_478_500 - start), "TypeError: cart is undefined"),
        ("error", str(ready[-1]["timestamp"] - start), "TypeError: cart is undefined"),
    ]
    assert f'href="/w/acme/alerts/{group_id}"' in html
    assert f'data-events-url="/w/acme/replays/{SESSION}/events"' in html
    assert "customer-42" in html and "vendor/rrweb/rrweb-player.min.js" in html
    (csp,) = page.headers.get_list("content-security-policy")  # replaces the app's, not added to it
    assert "style-src 'self' 'unsafe-inline'" in csp and f"img-src 'self' data: blob: {ORIGIN}" in csp
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert session.get("/w/acme/replays").headers["content-security-policy"] == CSP  # only the player page


def test_the_events_endpoint_serves_exactly_the_stored_events(session: TestClient, ready: list[Any]) -> None:
    response = session.get(f"/w/acme/replays/{SESSION}/events")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert orjson.loads(response.content) == ready
    still_open = session.get(f"/w/acme/replays/{OTHER}")
    assert still_open.status_code == 200 and "still being recorded" in still_open.text
    assert session.get(f"/w/acme/replays/{OTHER}/events").status_code == 404
    assert session.get("/w/acme/replays/..%2F..%2Fsignalcraft.db/events").status_code in (400, 404)


def test_the_alert_group_fragment_lists_the_sessions_its_alerts_came_from(
    session: TestClient, ready: list[Any], owner: Member
) -> None:
    group_id = tag_an_alert_with_the_session(session, owner)
    fragment = session.get(f"/w/acme/replays/group/{group_id}")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f"/w/acme/replays/{SESSION}" in fragment.text and OTHER not in fragment.text
    assert "No recorded session" in session.get(f"/w/acme/replays/group/{group_id + 1}").text


def test_settings_create_the_key_and_snippet_validate_origins_and_rotate_the_key(
    session: TestClient, parts: Parts, owner: Member
) -> None:
    page = session.get("/w/acme/settings/replays")
    assert page.status_code == 200 and "Create the recorder key" in page.text
    csrf = hidden_csrf(page.text)
    bad = session.post(
        "/w/acme/settings/replays", data={"_csrf": csrf, "allowed_origins": "shop.example.com"}
    )
    assert bad.status_code == 400 and "is not an origin like" in bad.text
    saved = session.post(
        "/w/acme/settings/replays",
        data={
            "_csrf": csrf,
            "allowed_origins": "https://Shop.Example.com\nhttp://localhost:3000",
            "sample_rate": "20",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    recorder = parts.ctx.db.read(lambda c: rq.recorder_of(c, owner.workspace.id))
    assert recorder is not None and recorder.allowed_origins == (ORIGIN, "http://localhost:3000")
    assert recorder.sample_rate == 20
    page = session.get("/w/acme/settings/replays").text
    assert (
        f'src="http://127.0.0.1:8080/static/replay/recorder.js" data-key="{recorder.public_key}"'
        in page.replace("&#34;", '"')
    )
    assert (
        session.post(
            "/w/acme/settings/replays", data={"_csrf": csrf, "allowed_origins": ORIGIN, "sample_rate": "101"}
        ).status_code
        == 400
    )
    rotated = session.post(
        "/w/acme/settings/replays/rotate-key", data={"_csrf": csrf}, follow_redirects=False
    )
    assert rotated.status_code == 303
    new = parts.ctx.db.read(lambda c: rq.recorder_of(c, owner.workspace.id))
    assert new is not None and new.public_key != recorder.public_key
    assert session.get(f"/replay/{recorder.public_key}/config", headers={"Origin": ORIGIN}).status_code == 404
    assert session.get(f"/replay/{new.public_key}/config", headers={"Origin": ORIGIN}).status_code == 200
    assert "replay.rotate_key" in session.get("/w/acme/settings/audit").text


@pytest.mark.parametrize("name", sorted(p.name for p in WEB.glob("*.html")))
def test_replay_templates_keep_to_the_csp_and_csrf_rules(name: str) -> None:
    source = (WEB / name).read_text()
    assert not re.search(r"\son[a-z]+\s*=", source, re.I) and "style=" not in source
    assert "<style" not in source.lower()
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", source, re.I))
    for form in re.findall(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", source, re.S | re.I):
        assert 'name="_csrf"' in form
