"""Channel pages: create per kind with the right fields, secrets write-only (masked after save,
blank keeps them on edit), save-time errors next to their field, "send test" answered inline
(htmx) from a real loopback receiver, broken channels shown and repaired, delete asks first,
and a viewer sees no controls and is refused when posting."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import channels as cq
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.webhook import signature
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member
from tests.notify.test_channels import Receiver, Reply, alert_group, enqueue, notifying, receiving

BASE = "/w/acme/channels"
SECRET = "s3cret-signing-key-0123"
NEW_SECRET = "another-secret-0123456"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    yield from notifying(parts)


@pytest.fixture
def admin(client: TestClient, owner: Member, notifier: Notifier) -> TestClient:
    client.cookies.set("sc_session", owner.session_token)
    return client


def post(client: TestClient, owner: Member, url: str, **data: str) -> object:
    return client.post(url, data={"_csrf": owner.csrf, **data}, follow_redirects=False)


def create_webhook(client: TestClient, owner: Member, receiver: Receiver, name: str = "ops-hook") -> int:
    response = post(client, owner, BASE, kind="webhook", name=name,
                    **{"config.url": f"{receiver.url}/hook", "config.secret": SECRET})
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    found = re.search(r"/channels/(\d+)", response.headers["location"])  # type: ignore[attr-defined]
    assert found
    return int(found.group(1))


def secret_used(
    client: TestClient, owner: Member, receiver: Receiver, channel_id: int, clock: FakeClock
) -> str:
    """The signing secret the channel really sends with: the one whose signature matches."""
    before = len(receiver.requests)
    client.post(f"{BASE}/{channel_id}/test", headers={"HX-Request": "true", "X-CSRF-Token": owner.csrf})
    request = receiver.wait_for(before + 1)[-1]
    for candidate in (SECRET, NEW_SECRET):
        if request.headers["x-signalcraft-signature"] == signature(candidate, int(clock()), request.body):
            return candidate
    return "(neither)"


def field_error(html: str, input_id: str) -> str:
    """The message shown under the input ``input_id`` ('' when none)."""
    found = re.search(rf'<p class="field-error" id="{input_id}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_the_new_page_offers_every_kind_and_each_kind_its_own_fields(admin: TestClient) -> None:
    picker = admin.get(f"{BASE}/new").text
    for kind in ("slack", "teams", "discord", "email", "webhook", "ntfy", "apprise"):
        assert f"/channels/new?kind={kind}" in picker
    email = admin.get(f"{BASE}/new?kind=email").text
    for name in ("config.to", "config.from_address", "config.host", "config.security", "config.port",
                 "config.password"):
        assert f'name="{name}"' in email
    assert 'name="config.webhook_url"' not in email
    webhook = admin.get(f"{BASE}/new?kind=webhook").text
    assert 'name="config.url"' in webhook
    assert re.search(r'<input id="f-secret" name="config.secret"[^>]*type="password"', webhook)


def test_a_created_channel_is_listed_and_its_secret_never_shown_again(
    admin: TestClient, owner: Member, receiver: Receiver, clock: FakeClock
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    page = admin.get(f"{BASE}/{channel_id}?saved=1").text
    assert "Saved." in page and "leave blank to keep" in page
    assert SECRET not in page and f"{receiver.url}/hook" in page
    listing = admin.get(BASE).text
    assert "ops-hook" in listing and "Webhook" in listing and "badge-ok" in listing
    assert SECRET not in listing and "********" in listing
    assert secret_used(admin, owner, receiver, channel_id, clock) == SECRET


def test_a_metadata_address_is_refused_next_to_the_url_field(admin: TestClient, owner: Member) -> None:
    response = post(admin, owner, BASE, kind="webhook", name="meta",
                    **{"config.url": "http://169.254.169.254/latest/meta-data/", "config.secret": SECRET})
    assert response.status_code == 400  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert "169.254.169.254 resolves to" in field_error(html, "f-url")
    assert 'name="config.url"' in html and 'aria-invalid="true" aria-errormessage="f-url-error"' in html
    assert 'value="meta"' in html  # what was typed is kept


def test_a_bad_email_address_is_refused_next_to_the_recipients(admin: TestClient, owner: Member) -> None:
    response = post(admin, owner, BASE, kind="email", name="mail",
                    **{"config.to": "ops@example.com\nnot-an-address", "config.from_address": "a@example.com",
                       "config.host": "127.0.0.1", "config.security": "none"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert field_error(html, "f-to") or field_error(html, "f-host")
    assert "ops@example.com\nnot-an-address" in html


def test_a_template_that_does_not_render_is_refused_next_to_the_template(
    admin: TestClient, owner: Member, receiver: Receiver
) -> None:
    response = post(admin, owner, BASE, kind="discord", name="d",
                    **{"config.webhook_url": f"{receiver.url}/d", "config.template": "{{ title | nosuch }}"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert "nosuch" in field_error(html, "f-template")
    assert '<details class="advanced" open>' in html  # the advanced section opens to show it


def test_a_port_that_is_not_a_number_is_refused_next_to_the_port(admin: TestClient, owner: Member) -> None:
    response = post(admin, owner, BASE, kind="email", name="mail", **{"config.port": "smtp"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert field_error(response.text, "f-port") == "enter a whole number"  # type: ignore[attr-defined]


def test_editing_with_the_secret_left_blank_keeps_it_and_a_new_one_replaces_it(
    admin: TestClient, owner: Member, receiver: Receiver, parts: Parts, clock: FakeClock
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    kept = post(admin, owner, f"{BASE}/{channel_id}", name="renamed",
                **{"config.url": f"{receiver.url}/hook2", "config.secret": ""})
    assert kept.status_code == 303  # type: ignore[attr-defined]
    stored = parts.ctx.db.read(lambda c: cq.get(c, owner.workspace.id, channel_id))
    assert (stored.name, stored.config["url"]) == ("renamed", f"{receiver.url}/hook2")
    assert secret_used(admin, owner, receiver, channel_id, clock) == SECRET
    post(admin, owner, f"{BASE}/{channel_id}", name="renamed",
         **{"config.url": f"{receiver.url}/hook2", "config.secret": NEW_SECRET})
    assert secret_used(admin, owner, receiver, channel_id, clock) == NEW_SECRET
    short = post(admin, owner, f"{BASE}/{channel_id}", name="renamed",
                 **{"config.url": f"{receiver.url}/hook2", "config.secret": "short"})
    assert short.status_code == 400  # type: ignore[attr-defined]
    assert "at least 16" in field_error(short.text, "f-secret")  # type: ignore[attr-defined]


def test_send_test_shows_delivered_inline_and_the_receiver_got_it(
    admin: TestClient, owner: Member, receiver: Receiver
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    page = admin.get(f"{BASE}/{channel_id}").text
    assert f'hx-post="{BASE}/{channel_id}/test"' in page
    ok = admin.post(f"{BASE}/{channel_id}/test", headers={"HX-Request": "true", "X-CSRF-Token": owner.csrf})
    assert ok.status_code == 200 and "Delivered" in ok.text and "HTTP 200" in ok.text
    assert "<html" not in ok.text  # a fragment for htmx to swap in
    [request] = receiver.wait_for(1)
    assert request.json["event"] == "test"

    receiver.reply("/hook", Reply(410, b"gone"))
    gone = admin.post(f"{BASE}/{channel_id}/test", headers={"HX-Request": "true", "X-CSRF-Token": owner.csrf})
    assert "Not delivered" in gone.text and "HTTP 410: gone" in gone.text and "fix the settings" in gone.text


def test_send_test_without_javascript_shows_the_outcome_on_the_page(
    admin: TestClient, owner: Member, receiver: Receiver
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    page = post(admin, owner, f"{BASE}/{channel_id}/test")
    assert page.status_code == 200 and "<html" in page.text and "Delivered" in page.text  # type: ignore[attr-defined]


def test_a_broken_channel_shows_why_and_since_when_and_repair_clears_it(
    admin: TestClient, owner: Member, receiver: Receiver, notifier: Notifier, parts: Parts, clock: FakeClock
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    group_id = alert_group(parts.ctx.db, "acme", clock())
    receiver.reply("/hook", Reply(404, b"no such hook"))
    notifier.run(notifier.deliver(enqueue(parts.ctx.db, channel_id, group_id, "triggered", clock())))
    listing = admin.get(BASE).text
    assert "Broken" in listing and "HTTP 404: no such hook" in listing
    page = admin.get(f"{BASE}/{channel_id}").text
    assert "Deliveries stopped" in page and "See the alert it raised" in page
    assert re.search(r'action="[^"]*/repair"\s+data-confirm=', page)
    assert post(admin, owner, f"{BASE}/{channel_id}/repair").status_code == 303  # type: ignore[attr-defined]
    stored = parts.ctx.db.read(lambda c: cq.get(c, owner.workspace.id, channel_id))
    assert stored.broken_at is None
    assert "Broken" not in admin.get(BASE).text


def test_the_list_shows_the_last_delivery(
    admin: TestClient, owner: Member, receiver: Receiver, notifier: Notifier, parts: Parts, clock: FakeClock
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    assert "Never" in admin.get(BASE).text
    group_id = alert_group(parts.ctx.db, "acme", clock())
    notifier.run(notifier.deliver(enqueue(parts.ctx.db, channel_id, group_id, "triggered", clock())))
    assert "Delivered" in admin.get(BASE).text


def test_delete_asks_first_and_removes_the_channel(
    admin: TestClient, owner: Member, receiver: Receiver
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    page = admin.get(f"{BASE}/{channel_id}").text
    assert re.search(r'action="[^"]*/delete"\s+data-confirm="Delete the channel', page)
    assert post(admin, owner, f"{BASE}/{channel_id}/delete").status_code == 303  # type: ignore[attr-defined]
    assert "ops-hook" not in admin.get(BASE).text
    assert admin.get(f"{BASE}/{channel_id}").status_code == 404


def test_a_viewer_sees_no_controls_and_is_refused_when_posting(
    admin: TestClient, owner: Member, receiver: Receiver, parts: Parts, clock: FakeClock
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    viewer = member(parts.ctx.db, "viewer@example.com", Role.VIEWER, "acme", clock())
    admin.cookies.set("sc_session", viewer.session_token)
    listing = admin.get(BASE).text
    assert "ops-hook" in listing and "New channel" not in listing
    page = admin.get(f"{BASE}/{channel_id}").text
    assert 'method="post" action="/w/acme/channels' not in page and "Send test" not in page
    assert SECRET not in page and "********" in page
    assert admin.get(f"{BASE}/new").status_code == 403
    for url in (BASE, f"{BASE}/{channel_id}", f"{BASE}/{channel_id}/test", f"{BASE}/{channel_id}/delete",
                f"{BASE}/{channel_id}/repair"):
        assert post(admin, viewer, url, name="x").status_code == 403, url  # type: ignore[attr-defined]
    assert receiver.requests == []


def test_channel_pages_keep_to_the_csp_and_carry_csrf_on_every_post_form(
    admin: TestClient, owner: Member, receiver: Receiver
) -> None:
    channel_id = create_webhook(admin, owner, receiver)
    for url in (BASE, f"{BASE}/new", f"{BASE}/new?kind=email", f"{BASE}/{channel_id}"):
        html = admin.get(url).text
        assert not re.search(r"\sstyle=|\son[a-z]+=|<script(?![^>]*\ssrc=)", html), url
        for form in re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S):
            assert f'name="_csrf" value="{owner.csrf}"' in form, form[:100]
