"""The app on a phone-sized screen (390 by 844) in a real browser (Debian's Chromium, headless)
against a real ``signalcraft serve``: every inbox filter is there and works, and pages load
without a failed request or a console error (the browser's icon request included).
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.test_inbox_browser import SHOTS, Instance, complete_setup, csrf_of, running_instance, shoot
from tests.web.test_alert_actions import am_payload

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("served")) as found:
        yield found


def test_every_inbox_filter_is_on_a_phone_and_the_integration_filter_works(
    instance: Instance, browser: Browser
) -> None:
    context = browser.new_context(
        base_url=instance.served.url, viewport=PHONE, is_mobile=True, has_touch=True
    )
    page: Page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    complete_setup(page, instance, "Pia", "pia@example.com")
    for name, alert in (("Prometheus", "DiskFull"), ("Staging", "QueueStuck")):
        created = page.request.post(
            "/api/v1/workspaces/ops/integrations",
            headers={"X-CSRF-Token": csrf_of(page)},
            data={"type": "alertmanager", "name": name},
        )
        assert created.status == 201, created.text()
        ingest = instance.served.url + "/" + created.json()["ingest_url"].split("/", 3)[3]
        assert httpx.post(ingest, json=am_payload(alert, summary=f"{alert} from {name}")).status_code == 200

    page.goto("/w/ops/inbox")
    page.locator("#inbox-results tr[data-row]").nth(1).wait_for()
    for control in ("#inbox-q", "#inbox-severity", "#inbox-source", "#inbox-integration", "#inbox-assignee",
                    "#inbox-label"):
        box = page.locator(control).bounding_box()
        assert page.is_visible(control) and box is not None, control
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (control, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    shoot(page, "inbox-filters-phone", "light")

    page.select_option("#inbox-integration", label="Staging")
    page.locator("button:has-text('Apply')").tap()
    page.wait_for_url(re.compile(r"integration=\d+"))
    titles = page.locator("#inbox-results tr[data-row]").all_inner_texts()
    assert len(titles) == 1 and "QueueStuck from Staging" in titles[0], titles
    assert failed == []
    context.close()
