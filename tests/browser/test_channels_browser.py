"""A real browser against the real app served by uvicorn on loopback: an admin creates a webhook
channel pointing at a local receiver, clicks "Send test" and sees "Delivered" appear inline
(htmx), and the receiver got the signed test message. A viewer sees the channel without any
control and is refused (403) when posting anyway. Screenshots go to test-artifacts/screenshots/.

The app runs in this process (not ``signalcraft serve``) so the tests can add users while it
serves; its notifier is the production one, and reaches the receiver's loopback address
because the configuration lists it (``[notify] allowed_networks``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from signalcraft.auth.rbac import Role
from signalcraft.config import NotifyConfig, Settings
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.tasks import notifier_of
from signalcraft.notify.webhook import signature
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, free_port, member
from tests.notify.test_channels import RECEIVER_HOST, Receiver, receiving

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SECRET = "browser-signing-secret-0123"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, notify=NotifyConfig(allowed_networks=(f"{RECEIVER_HOST}/32",)))


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    found = notifier_of(parts.ctx)
    yield found
    found.close()


@pytest.fixture
def base_url(parts: Parts, notifier: Notifier) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(parts.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def page_as(browser: Any, base_url: str, who: Member, *, phone: bool = False) -> Any:
    viewport = {"width": 390, "height": 844} if phone else {"width": 1366, "height": 900}
    context = browser.new_context(viewport=viewport, base_url=base_url)
    context.add_cookies([{"name": "sc_session", "value": who.session_token, "url": base_url}])
    return context.new_page()


def test_create_a_webhook_channel_and_send_a_test_from_the_browser(
    browser: Any, base_url: str, owner: Member, receiver: Receiver, clock: FakeClock
) -> None:
    page = page_as(browser, base_url, owner)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto("/w/acme/channels")
    page.click("text=New channel")
    page.click("a.kind-card:has-text('Webhook')")
    page.fill("#f-name", "ops-hook")
    page.fill("#f-url", "http://169.254.169.254/latest/meta-data/")
    page.fill("#f-secret", SECRET)
    page.click("button:has-text('Create channel')")
    assert "resolves to 169.254.169.254" in page.inner_text("#f-url-error")  # shown next to the field

    page.fill("#f-url", f"{receiver.url}/hook")
    page.fill("#f-secret", SECRET)
    page.click("button:has-text('Create channel')")
    page.wait_for_url("**/channels/*?saved=1")
    assert page.is_visible("text=Saved.")
    assert page.get_attribute("#f-secret", "value") in (None, "")  # write-only
    page.click("button:has-text('Send test')")
    page.wait_for_selector("#test-result [data-test-result]")
    assert "Delivered" in page.inner_text("#test-result")
    [request] = receiver.wait_for(1)
    assert request.json["event"] == "test"
    assert request.headers["x-signalcraft-signature"] == signature(SECRET, int(clock()), request.body)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "channel-test-delivered.png"), full_page=True)
    page.goto("/w/acme/channels")
    assert "ops-hook" in page.inner_text("table") and "OK" in page.inner_text("table")
    # the refused save is the only error answer (assets, htmx and the test all loaded)
    assert [f for f in failed if "favicon" not in f] == [f"400 {base_url}/w/acme/channels"], failed


def test_a_viewer_sees_no_controls_and_is_refused_when_posting(
    browser: Any, base_url: str, owner: Member, receiver: Receiver, parts: Parts, clock: FakeClock
) -> None:
    admin = page_as(browser, base_url, owner)
    admin.goto("/w/acme/channels/new?kind=webhook")
    admin.fill("#f-name", "ops-hook")
    admin.fill("#f-url", f"{receiver.url}/hook")
    admin.fill("#f-secret", SECRET)
    admin.click("button:has-text('Create channel')")
    admin.wait_for_url("**/channels/*?saved=1")
    channel_url = admin.url.split("?")[0]

    viewer = member(parts.ctx.db, "viewer@example.com", Role.VIEWER, "acme", clock())
    page = page_as(browser, base_url, viewer, phone=True)
    page.goto(channel_url)
    assert page.is_visible("h1:has-text('ops-hook')")
    assert page.locator("form[method=post]").count() == 1  # only the sign-out form of the account menu
    assert page.locator("text=Send test").count() == 0 and page.locator("#f-url").count() == 0
    page.screenshot(path=str(SHOTS / "channel-viewer-phone.png"), full_page=True)
    refused = page.request.post(f"{channel_url}/test", form={"_csrf": viewer.csrf},
                                headers={"X-CSRF-Token": viewer.csrf})
    assert refused.status == 403
    assert receiver.requests == []
