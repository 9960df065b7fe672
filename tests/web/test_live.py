"""Live updates over Server-Sent Events, against the app served by a real uvicorn on loopback
(the in-process test client buffers whole responses, so it cannot read an endless stream)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from signalcraft.auth import service
from signalcraft.auth.rbac import Role
from signalcraft.db.queries import accounts as q
from signalcraft.events import bus_of
from signalcraft.runtime import Parts
from signalcraft.web.live import LiveTiming
from tests.helpers import FakeClock, Member, free_port, member
from tests.web.test_alert_actions import am_payload

FAST = LiveTiming(heartbeat=0.2, recheck=0.2, poll=0.05, coalesce=0.02, retry_ms=100)


@pytest.fixture
def base_url(parts: Parts) -> Iterator[str]:
    parts.ctx.extras["live_timing"] = FAST
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            parts.app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    parts.ctx.health.draining = True
    server.should_exit = True
    thread.join(10)


@dataclass
class Event:
    kind: str = ""
    data: str = ""
    comments: list[str] = field(default_factory=list)


class Stream:
    """An open ``/w/{slug}/live`` response, read event by event."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self._cm = client.stream("GET", url)
        self.response = self._cm.__enter__()
        self._lines = self.response.iter_lines()
        self.comments: list[str] = []

    def next_event(self, timeout: float = 3.0) -> Event | None:
        """The next named event; None when the stream ends or ``timeout`` passes (pings keep it moving)."""
        deadline, event = time.monotonic() + timeout, Event()
        for line in self._lines:
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
            elif line.startswith("event:"):
                event.kind = line[6:].strip()
            elif line.startswith("data:"):
                event.data = line[5:].strip()
            elif not line and event.kind:
                return event
            if time.monotonic() > deadline:
                return None
        return None

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


def session_client(base_url: str, who: Member) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        cookies={"sc_session": who.session_token},
        headers={"X-CSRF-Token": who.csrf},
        timeout=5.0,
        follow_redirects=False,
    )


@pytest.fixture
def people(parts: Parts, clock: FakeClock) -> dict[str, Member]:
    db, now = parts.ctx.db, clock()
    return {
        "ana": member(db, "ana@example.com", Role.ADMIN, "acme", now),
        "bo": member(db, "bo@example.com", Role.VIEWER, "acme", now),
        "cy": member(db, "cy@example.com", Role.OWNER, "beta", now),
    }


def ingest_url(client: httpx.Client, slug: str) -> str:
    response = client.post(
        f"/api/v1/workspaces/{slug}/integrations", json={"type": "alertmanager", "name": "am"}
    )
    assert response.status_code == 201, response.text
    return "/" + response.json()["ingest_url"].split("/", 3)[3]


def test_an_alert_ingested_over_http_reaches_members_of_its_workspace_only(
    base_url: str, people: dict[str, Member], parts: Parts
) -> None:
    ana, cy = session_client(base_url, people["ana"]), session_client(base_url, people["cy"])
    url = ingest_url(ana, "acme")
    mine, theirs = Stream(ana, "/w/acme/live"), Stream(cy, "/w/beta/live")
    assert mine.response.status_code == 200
    assert mine.response.headers["content-type"].startswith("text/event-stream")
    deadline = time.monotonic() + 5
    while bus_of(parts.ctx.extras).subscriber_count(1) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert httpx.post(base_url + url, json=am_payload("DiskFull"), timeout=5).status_code == 200
    event = mine.next_event()
    assert event is not None and event.kind == "groups"
    group_id = int(event.data)
    assert ana.post(f"/api/v1/workspaces/acme/alert-groups/{group_id}/acknowledge").status_code == 200
    again = mine.next_event()
    assert again is not None and (again.kind, again.data) == ("groups", str(group_id))
    assert theirs.next_event(timeout=0.6) is None  # another workspace hears nothing...
    assert "ping" in theirs.comments  # ...but its stream is alive
    for stream in (mine, theirs):
        stream.close()
    ana.close()
    cy.close()


def test_a_signed_out_client_goes_to_sign_in_and_a_non_member_gets_404(
    base_url: str, people: dict[str, Member]
) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        response = client.get("/w/acme/live")
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    with session_client(base_url, people["cy"]) as stranger:
        response = stranger.get("/w/acme/live")
        assert response.status_code == 404 and "event:" not in response.text


def test_a_stream_closes_when_its_session_is_revoked_or_its_member_removed(
    base_url: str, people: dict[str, Member], parts: Parts
) -> None:
    ana, bo = session_client(base_url, people["ana"]), session_client(base_url, people["bo"])
    revoked, removed = Stream(ana, "/w/acme/live"), Stream(bo, "/w/acme/live")
    assert revoked.response.status_code == removed.response.status_code == 200
    token = people["ana"].session_token
    ws_id, bo_id = people["bo"].workspace.id, people["bo"].user.id
    service_sign_out(parts, token)
    parts.ctx.db.write(lambda c: q.remove_membership(c, ws_id, bo_id))
    for stream in (revoked, removed):
        closing = stream.next_event()
        assert closing is not None and closing.kind == "closed"
        assert stream.next_event(timeout=1) is None  # and then the stream ends
        stream.close()
    ana.close()
    bo.close()


def service_sign_out(parts: Parts, token: str) -> None:
    asyncio.run(service.sign_out(parts.ctx.db, token))


def test_streams_end_promptly_when_the_server_drains(
    base_url: str, people: dict[str, Member], parts: Parts
) -> None:
    with session_client(base_url, people["ana"]) as ana:
        stream = Stream(ana, "/w/acme/live")
        assert stream.next_event(timeout=0.3) is None and stream.comments  # connected, pinging
        started = time.monotonic()
        parts.ctx.health.draining = True
        assert stream.next_event(timeout=3) is None
        assert time.monotonic() - started < 1.0
        stream.close()
    deadline = time.monotonic() + 2
    while (
        bus_of(parts.ctx.extras).subscriber_count(people["ana"].workspace.id) and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert bus_of(parts.ctx.extras).subscriber_count(people["ana"].workspace.id) == 0
