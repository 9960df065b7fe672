"""Routing and silences in a real browser (Debian's Chromium, headless) against a real
``signalcraft serve``: drag a rule above another and the order survives a reload; silence an
alert from its group page with the pre-filled form. Screenshots of the rule list and the
silence form (light, dark, phone) go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.test_inbox_browser import SHOTS, Instance, complete_setup, csrf_of, running_instance, shoot
from tests.web.test_alert_actions import am_payload

pytestmark = pytest.mark.browser

OWNER = "rae@example.com"


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("served")) as found:
        yield found


@pytest.fixture(scope="module")
def page(instance: Instance, browser: Browser) -> Iterator[Page]:
    """The first-run administrator, signed in, in workspace "ops"."""
    context = browser.new_context(base_url=instance.served.url, viewport={"width": 1366, "height": 900})
    found = context.new_page()
    found.on("dialog", lambda d: d.accept())
    complete_setup(found, instance, "Rae", OWNER)
    yield found
    context.close()


def rule_names(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("tr[data-rule-id] .cell-primary").all_inner_texts()]


def test_dragging_a_rule_above_another_saves_the_order(page: Page) -> None:
    for name in ("Page the database team", "Drop flapping checks", "Everything else to ops"):
        page.goto("/w/ops/routing/rules/new")
        page.fill("#rule-name", name)
        page.click("button:has-text('Create rule')")
        page.wait_for_url(re.compile(r"/w/ops/routing$"))
    assert rule_names(page) == ["Page the database team", "Drop flapping checks", "Everything else to ops"]

    last = page.locator("tr[data-rule-id]", has_text="Everything else to ops").locator("[data-drag-handle]")
    first = page.locator("tr[data-rule-id]", has_text="Page the database team")
    with page.expect_navigation(url=re.compile(r"/w/ops/routing$")):
        last.drag_to(first, target_position={"x": 40, "y": 3})  # the upper half: drop before it
    page.reload()
    assert rule_names(page) == ["Everything else to ops", "Page the database team", "Drop flapping checks"]

    SHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        shoot(page, "routing-rules", scheme)


def test_silencing_an_alert_from_its_group_page(page: Page, instance: Instance) -> None:
    created = page.request.post(
        "/api/v1/workspaces/ops/integrations",
        headers={"X-CSRF-Token": csrf_of(page)},
        data={"type": "alertmanager", "name": "Prometheus"},
    )
    assert created.status == 201, created.text()
    ingest = instance.served.url + "/" + created.json()["ingest_url"].split("/", 3)[3]
    alert = am_payload("DiskFull", summary="Disk /var at 97% on db-1", labels={"instance": "db-1"})
    assert httpx.post(ingest, json=alert).status_code == 200
    groups = page.request.get("/api/v1/workspaces/ops/alert-groups").json()["groups"]
    group_id = next(g["id"] for g in groups if "db-1" in g["title"] or g["title"] == "DiskFull")

    page.goto(f"/w/ops/alerts/{group_id}")
    page.click("a:has-text('Silence…')")
    page.wait_for_url(re.compile(rf"/w/ops/silences/new\?group={group_id}$"))
    matchers = page.locator("#silence-matchers").input_value()
    assert 'alertname="DiskFull"' in matchers and 'instance="db-1"' in matchers
    page.wait_for_selector("#silence-preview:has-text('1 open alert matches')")
    page.fill("#silence-duration", "4h")
    page.fill("#silence-comment", "Replacing the disk tonight")
    for scheme in ("light", "dark"):
        shoot(page, "silence-form", scheme)
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "silence-form-phone", "light")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.click("button:has-text('Create silence')")
    page.wait_for_url(re.compile(r"/w/ops/silences\?tab=active$"))
    row = page.locator(".silence-table tbody tr", has_text="Replacing the disk tonight")
    assert row.count() == 1
    assert "db-1" in row.inner_text() and OWNER in row.inner_text()
    assert f"from alert group #{group_id}" in row.inner_text()
