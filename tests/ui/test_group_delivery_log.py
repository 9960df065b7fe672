"""The alert group page shows how the group was routed and every notification with each
attempt: an alert posted over HTTP, routed by the real task to a webhook channel whose real
loopback receiver fails once (503) and then accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from litestar.testing import TestClient

from signalcraft.db.connection import rows
from signalcraft.notify.deliver import Notifier
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member
from tests.ingest_http.conftest import Make, api, groups, make_integration  # noqa: F401
from tests.notify.test_channels import Receiver, Reply, notifying, receiving

WS = "/api/v1/workspaces/acme"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    yield from notifying(parts)


class Woken:
    """Stands in for the delivery worker while routing runs, so the test drives each attempt."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def submit(self, notification_id: int) -> None:
        self.ids.append(notification_id)


def fire(client: TestClient, url: str, alertname: str) -> None:
    alert = {"status": "firing", "labels": {"alertname": alertname}, "annotations": {"summary": alertname},
             "startsAt": "2026-11-27T19:31:44Z", "endsAt": "0001-01-01T00:00:00Z"}
    body = orjson.dumps({"receiver": "all", "status": "firing", "alerts": [alert]})
    response = client.post(url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def test_the_group_page_lists_the_routing_and_each_delivery_attempt(
    api: TestClient,  # noqa: F811
    make_integration: Make,  # noqa: F811
    parts: Parts,
    owner: Member,
    notifier: Notifier,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    created = api.post("/w/acme/channels", data={
        "_csrf": owner.csrf, "kind": "webhook", "name": "ops-hook",
        "config.url": f"{receiver.url}/hook", "config.secret": "s" * 20}, follow_redirects=False)
    assert created.status_code == 303, created.text
    channel_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    assert api.put(f"{WS}/routing/default", json={"actions": {"notify": [channel_id]}}).status_code == 200

    ingest_url = make_integration("alertmanager")["ingest_url"].split("8080", 1)[1]
    fire(api, ingest_url, "DiskFull")
    woken = parts.ctx.extras["notifier"] = Woken()
    event_ids = parts.ctx.db.read(lambda c: [r[0] for r in rows(c, "SELECT id FROM alert_events")])
    parts.ctx.extras["tasks"]["route_ingest"].call_local(owner.workspace.id, event_ids)
    parts.ctx.extras["notifier"] = notifier
    [notification_id] = woken.ids

    receiver.reply("/hook", Reply(503, b"try later"))
    assert notifier.run(notifier.deliver(notification_id)) == "retry"
    clock.advance(3600)
    assert notifier.run(notifier.deliver(notification_id)) == "delivered"
    assert len(receiver.requests) == 2

    [group] = groups(api)
    html = api.get(f"/w/acme/alerts/{group['id']}").text
    section = html[html.index('id="delivery-log"'):html.index('id="occurrences-title"')]
    assert "default route → ops-hook" in section
    assert f'href="/w/acme/channels/{channel_id}">ops-hook</a>' in section
    assert "triggered" in section and "badge-ok\">delivered" in section and "2 attempts" in section
    attempts: list[Any] = re.findall(
        r'<td class="dl-outcome-(\w+)">[^<]*</td>\s*<td class="mono">([^<]*)</td>'
        r'.*?<td class="dl-error">([^<]*)</td>',
        section, re.S)
    assert attempts == [("retry", "503", "HTTP 503: try later"), ("delivered", "200", "")]
    assert '<details class="dl-item">' in section  # delivered: collapsed


def test_a_group_without_notifications_says_so(
    api: TestClient, make_integration: Make, parts: Parts  # noqa: F811
) -> None:
    fire(api, make_integration("alertmanager")["ingest_url"].split("8080", 1)[1], "Quiet")
    [group] = groups(api)
    html = api.get(f"/w/acme/alerts/{group['id']}").text
    assert "Nothing was routed or sent for this group." in html
