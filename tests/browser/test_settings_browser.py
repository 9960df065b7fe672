"""Workspace settings in a real browser (Debian's Chromium, headless) against the real app on
loopback: the audit log's filters are labelled where they can be seen, an action name stays
on one line, and a date filter narrows the list. Screenshots go to test-artifacts/screenshots/.
The app's clock is the test's FakeClock (2027-01-15 08:00 UTC)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from signalcraft.web import api_escalation as escalation
from tests.browser.test_channels_browser import base_url, notifier, page_as  # noqa: F401
from tests.browser.test_inbox_browser import shoot
from tests.helpers import FakeClock, Member

pytestmark = pytest.mark.browser


def test_the_audit_log_filters_are_labelled_and_a_date_narrows_the_list(
    browser: Browser, base_url: str, parts: Parts, owner: Member, clock: FakeClock  # noqa: F811
) -> None:
    actor = audit.Actor(owner.user.email, owner.user.id, "127.0.0.1")
    steps = [{"targets": [{"kind": "user", "id": owner.user.id}], "wait_minutes": 0}]
    for name in ("Payments", "Checkout"):
        parts.ctx.db.write(lambda c, n=name: escalation.save_policy(
            c, owner.workspace.id, None, {"name": n, "steps": steps}, actor, clock()))
    page = page_as(browser, base_url, owner)
    page.goto("/w/acme/settings/audit")
    rows = page.locator("tbody tr[data-row]")
    assert rows.count() == 2
    for field, label in (("audit-from", "From (UTC)"), ("audit-to", "To (UTC)")):
        shown = page.locator(f"label[for={field}]")
        assert shown.is_visible() and shown.inner_text() == label
        box = shown.bounding_box()
        assert box is not None and box["width"] > 20  # not the 1px of a screen-reader-only label
    action = rows.first.locator("code")
    assert action.inner_text() == "escalation_policy.create"
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('tbody code')).lineHeight)")
    height = action.bounding_box()
    assert height is not None and height["height"] < 1.5 * line  # one line, not broken mid-word
    for scheme in ("light", "dark"):
        shoot(page, "audit-log", scheme)

    page.fill("#audit-from", "2027-01-16")  # the day after: nothing yet
    page.click("button:has-text('Filter')")
    page.wait_for_url("**/settings/audit?**from=2027-01-16**")
    assert rows.count() == 0
    assert page.inner_text(".empty-title") == "No events match these filters"
    page.fill("#audit-from", "2027-01-15")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**from=2027-01-15**")
    assert rows.count() == 2
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.is_visible("label[for=audit-to]")
    shoot(page, "audit-log-phone", "light")
    page.context.close()
