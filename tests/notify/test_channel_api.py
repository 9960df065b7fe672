"""The channel API: save-time validation naming the field (a metadata-address URL, a template
that does not render, an unknown kind), secrets masked in every answer and kept when the
mask is sent back, viewers read but cannot change, "send test" reaches a local receiver
and reports failures, repair clears the broken mark, and the delivery log of a group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import channels as cq
from signalcraft.notify.deliver import Notifier
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member
from tests.notify.test_channels import Receiver, Reply, alert_group, enqueue, notifying, receiving

SLACK_HOOK = "/services/T000/B000/XXXXSECRET"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    yield from notifying(parts)


@pytest.fixture
def api(client: TestClient, owner: Member, notifier: Notifier) -> TestClient:
    client.cookies.set("sc_session", owner.session_token)
    client.headers["X-CSRF-Token"] = owner.csrf
    return client


def channels_url(path: str = "") -> str:
    return f"/api/v1/workspaces/acme/channels{path}"


def create(api: TestClient, kind: str, config: dict[str, Any], name: str = "ops") -> Any:
    return api.post(channels_url(), json={"kind": kind, "name": name, "config": config})


def discord_and_group(api: TestClient, parts: Parts, receiver: Receiver, clock: FakeClock) -> tuple[int, int]:
    """A Discord channel pointed at the receiver, and an alert group to notify about."""
    channel_id = create(api, "discord", {"webhook_url": f"{receiver.url}/d"}).json()["id"]
    return channel_id, alert_group(parts.ctx.db, "acme", clock())


def error_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    found: dict[str, Any] = response.json()["error"]
    return found


def test_a_url_pointing_at_the_metadata_service_is_refused_naming_the_field(api: TestClient) -> None:
    response = create(api, "webhook", {"url": "http://169.254.169.254/latest/meta-data/", "secret": "x" * 20})
    error = error_of(response)
    assert error["field"] == "config.url" and "169.254.169.254" in error["message"]


def test_a_template_that_does_not_render_is_refused_naming_the_field(
    api: TestClient,
    receiver: Receiver,
) -> None:
    response = create(
        api, "discord", {"webhook_url": f"{receiver.url}/d", "template": "{{ title | nosuch }}"}
    )
    error = error_of(response)
    assert error["field"] == "config.template" and "nosuch" in error["message"]


def test_an_unknown_kind_is_refused(api: TestClient) -> None:
    error = error_of(create(api, "carrier-pigeon", {}))
    assert error["field"] == "kind" and "slack" in error["message"]


def test_secrets_are_masked_in_every_answer_and_kept_when_the_mask_comes_back(
    api: TestClient,
    receiver: Receiver,
    parts: Parts,
) -> None:
    created = create(api, "slack", {"webhook_url": f"{receiver.url}{SLACK_HOOK}"})
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["config"] == {"webhook_url": "********"} and channel["kind"] == "slack"
    listed = api.get(channels_url())
    fetched = api.get(channels_url(f"/{channel['id']}"))
    for answer in (created, listed, fetched):
        assert "XXXXSECRET" not in answer.text
    assert listed.json()[0]["id"] == channel["id"]

    renamed = api.patch(
        channels_url(f"/{channel['id']}"), json={"name": "ops-2", "config": {"webhook_url": "********"}}
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "ops-2"
    stored = parts.ctx.db.read(lambda c: cq.by_id(c, channel["id"]))
    assert stored is not None and "XXXXSECRET" not in str(stored.secret_config)  # sealed at rest
    kept = parts.ctx.db.read(lambda c: cq.secrets_of(c, stored))
    assert kept == {"webhook_url": f"{receiver.url}{SLACK_HOOK}"}
    assert stored.config == {}  # the secret is kept apart from the public configuration


def test_names_are_unique_in_a_workspace(api: TestClient, receiver: Receiver) -> None:
    assert create(api, "discord", {"webhook_url": f"{receiver.url}/a"}).status_code == 201
    taken = create(api, "discord", {"webhook_url": f"{receiver.url}/b"})
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "name"


def test_a_viewer_reads_channels_but_cannot_change_or_test_them(
    api: TestClient,
    parts: Parts,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    channel_id = create(api, "discord", {"webhook_url": f"{receiver.url}/d"}).json()["id"]
    viewer = member(parts.ctx.db, "viewer@example.com", Role.VIEWER, "acme", clock())
    api.cookies.set("sc_session", viewer.session_token)
    api.headers["X-CSRF-Token"] = viewer.csrf
    assert api.get(channels_url()).status_code == 200
    assert create(api, "discord", {"webhook_url": f"{receiver.url}/x"}, name="mine").status_code == 403
    for method, path in (
        ("PATCH", f"/{channel_id}"),
        ("DELETE", f"/{channel_id}"),
        ("POST", f"/{channel_id}/test"),
        ("POST", f"/{channel_id}/repair"),
    ):
        assert api.request(method, channels_url(path), json={}).status_code == 403, (method, path)
    assert receiver.requests == []


def test_send_test_reaches_the_receiver_and_reports_what_it_answered(
    api: TestClient,
    receiver: Receiver,
) -> None:
    channel_id = create(api, "webhook", {"url": f"{receiver.url}/hook", "secret": "x" * 20}).json()["id"]
    ok = api.post(channels_url(f"/{channel_id}/test"))
    assert ok.status_code == 200 and ok.json()["ok"] is True and ok.json()["status_code"] == 200
    [request] = receiver.wait_for(1)
    assert request.json["event"] == "test" and request.json["workspace"]["slug"] == "acme"
    assert request.json["group"]["url"] == "http://127.0.0.1:8080/w/acme/alerts"

    receiver.reply("/hook", Reply(410, b"gone"))
    gone = api.post(channels_url(f"/{channel_id}/test")).json()
    assert (gone["ok"], gone["status_code"], gone["permanent"], gone["error"]) == (
        False,
        410,
        True,
        "HTTP 410: gone",
    )
    after = api.get(channels_url(f"/{channel_id}")).json()
    assert after["broken_at"] is None  # a test never breaks a channel


def test_repair_clears_the_broken_mark_and_resolves_the_alert_it_raised(
    api: TestClient,
    parts: Parts,
    notifier: Notifier,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    channel_id, group_id = discord_and_group(api, parts, receiver, clock)
    receiver.reply("/d", Reply(404, b"Unknown Webhook"))
    notifier.run(notifier.deliver(enqueue(parts.ctx.db, channel_id, group_id, "triggered", clock())))
    broken = api.get(channels_url(f"/{channel_id}")).json()
    assert broken["broken_at"] is not None and broken["broken_reason"] == "HTTP 404: Unknown Webhook"
    alert_id = broken["broken_alert_group_id"]
    assert (
        api.get(f"/api/v1/workspaces/acme/alert-groups/{alert_id}").json()["group"]["status"] == "triggered"
    )

    repaired = api.post(channels_url(f"/{channel_id}/repair")).json()
    assert repaired["broken_at"] is None and repaired["broken_alert_group_id"] is None
    alert = api.get(f"/api/v1/workspaces/acme/alert-groups/{alert_id}").json()
    assert alert["group"]["status"] == "resolved" and alert["timeline"][-1]["kind"] == "group_resolved"


def test_the_delivery_log_of_a_group_lists_each_notification_with_its_attempts(
    api: TestClient,
    parts: Parts,
    notifier: Notifier,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    channel_id, group_id = discord_and_group(api, parts, receiver, clock)
    receiver.reply("/d", Reply(503, b"busy"))
    nid = enqueue(parts.ctx.db, channel_id, group_id, "triggered", clock())
    assert notifier.run(notifier.deliver(nid)) == "retry"
    clock.advance(3600)
    assert notifier.run(notifier.deliver(nid)) == "delivered"

    [entry] = api.get(f"/api/v1/workspaces/acme/alert-groups/{group_id}/notifications").json()
    assert (entry["channel_name"], entry["channel_kind"], entry["event_kind"]) == (
        "ops",
        "discord",
        "triggered",
    )
    assert (entry["status"], entry["attempts"], entry["next_attempt_at"]) == ("delivered", 2, None)
    assert [(a["outcome"], a["status_code"], a["error"]) for a in entry["log"]] == [
        ("retry", 503, "HTTP 503: busy"),
        ("delivered", 200, ""),
    ]
    assert api.get("/api/v1/workspaces/acme/alert-groups/999999/notifications").status_code == 404


def test_a_deleted_channel_is_gone_from_the_api_and_sends_nothing_more(
    api: TestClient,
    parts: Parts,
    notifier: Notifier,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    channel_id, group_id = discord_and_group(api, parts, receiver, clock)
    nid = enqueue(parts.ctx.db, channel_id, group_id, "triggered", clock())
    assert api.delete(channels_url(f"/{channel_id}")).status_code == 204
    assert api.get(channels_url(f"/{channel_id}")).status_code == 404
    assert notifier.run(notifier.deliver(nid)) == "skipped" and receiver.requests == []
    assert create(api, "discord", {"webhook_url": f"{receiver.url}/d"}).status_code == 201  # the name is free
