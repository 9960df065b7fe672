"""On-call schedules, escalation policies, maintenance windows and inhibit rules in a real browser
(Debian's Chromium, headless) against the real app served by uvicorn on loopback.

- A schedule made in the editor with a weekly layer of two people: the timeline shows them
  taking turns over the next weeks; an override and a shift swap are drawn on it.
- An escalation policy (the schedule's on-call, wait, a channel): a step is edited, and a
  policy that hands over to another one handing back is refused, the message next to the steps.
- A viewer sees these pages with no edit control.
- A maintenance window and an inhibit rule are edited, a bad value refused next to its field.
- A silence is edited, then expired now, but only once the confirmation is accepted.

Screenshots (light and dark) go to test-artifacts/screenshots/. The app's clock is the test's
FakeClock (Friday 2027-01-15 08:00 UTC), so the timeline is the same on every run.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import audit
from signalcraft.db.queries import channels as cq
from signalcraft.oncall import overrides as ov
from signalcraft.oncall import store
from signalcraft.runtime import Parts
from signalcraft.web import api_escalation as escalation
from tests.browser.test_channels_browser import SHOTS, base_url, notifier, page_as  # noqa: F401
from tests.browser.test_inbox_browser import shoot
from tests.helpers import FakeClock, Member, member

pytestmark = pytest.mark.browser

WS = "/w/acme"
FINAL_ROW = 'g.tl-row[data-row="On call"]'
OVERRIDE_ROW = 'g.tl-row[data-row="Overrides"]'


@pytest.fixture
def sam(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "sam@example.com", Role.RESPONDER, "acme", clock())


@pytest.fixture
def viewer(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "vera@example.com", Role.VIEWER, "acme", clock())


def signed_in(browser: Browser, base_url: str, who: Member) -> Page:  # noqa: F811
    page: Page = page_as(browser, base_url, who)
    page.on("dialog", lambda d: d.accept())
    return page


def bar_labels(page: Page, row: str) -> list[str]:
    return [t.strip() for t in page.locator(f"{row} text.tl-label").all_text_contents()]


def bar_titles(page: Page, row: str) -> list[str]:
    return [t.strip() for t in page.locator(f"{row} title").all_text_contents()]


def assert_rows_are_labelled_beside_them(page: Page, labels: list[str]) -> None:
    """Each row's name is on the row's line, left of its bars."""
    names = page.locator(".tl-labels li")
    assert [t.strip() for t in names.all_inner_texts()] == labels
    for i, row in enumerate(page.locator("g.tl-row").all()):
        name = names.nth(i).bounding_box()
        lane = row.locator("rect").first.bounding_box() if row.locator("rect").count() else None
        assert name is not None
        if lane is not None:
            assert abs((name["y"] + name["height"] / 2) - (lane["y"] + lane["height"] / 2)) < 4, labels[i]
            assert name["x"] + name["width"] <= lane["x"] + 1, labels[i]


def assert_day_labels_do_not_overlap(page: Page) -> None:
    boxes = [b for b in (t.bounding_box() for t in page.locator("text.tl-tick").all()) if b is not None]
    assert boxes
    for left, right in itertools.pairwise(sorted(boxes, key=lambda b: b["x"])):
        assert left["x"] + left["width"] <= right["x"], (left, right)


def assert_cells_line_up(page: Page, rows: str) -> None:
    """Every cell of a table row is as tall as the row (none pushed out of the table layout)."""
    for row in page.locator(rows).all():
        heights = row.locator("td").evaluate_all(
            "cells => cells.map(c => Math.round(c.getBoundingClientRect().height))"
        )
        assert len(set(heights)) == 1, heights


def a_schedule(parts: Parts, who: Member, clock: FakeClock, participants: list[int]) -> int:
    layer = {"unit": "weeks", "count": 1, "start": "2027-01-11T09:00", "participants": participants}
    return parts.ctx.db.write(
        lambda c: store.save_schedule(
            c, who.workspace.id, None, "Primary", "UTC", [layer], audit.CLI, clock()
        )
    ).id


def a_channel(parts: Parts, who: Member, clock: FakeClock) -> int:
    hook = {"url": "https://hooks.example.com/ops"}
    return parts.ctx.db.write(
        lambda c: cq.create(c, who.workspace.id, "webhook", "ops-hook", hook, {}, clock()).id
    )


def test_a_schedule_of_two_people_shows_their_turns_an_override_and_a_swap_on_the_timeline(
    browser: Browser, base_url: str, owner: Member, sam: Member  # noqa: F811
) -> None:
    page = signed_in(browser, base_url, owner)
    page.goto(f"{WS}/schedules/new")
    page.fill("#sc-name", "Primary")
    page.select_option("#sc-tz", "Europe/Paris")
    page.fill("#layer0_name", "Weekly")
    page.select_option("#layer0_rotation", "weekly")
    page.fill("#layer0_start_date", "2027-01-11")
    page.fill("#layer0_handoff", "09:00")
    page.fill("#layer0_participants", "")
    page.click("button:has-text('Save schedule')")
    error = page.inner_text("#layer0_participants-error")  # next to the field, without an API path
    assert error == "a schedule needs at least one rotation with participants", error
    for scheme in ("light", "dark"):
        shoot(page, "schedule-form-error", scheme)

    page.fill("#layer0_participants", "owner@example.com\nsam@example.com")
    page.click("button:has-text('Save schedule')")
    page.wait_for_url(re.compile(rf"{WS}/schedules/\d+$"))
    schedule_url = page.url
    subtitle = page.inner_text(".page-subtitle")
    assert subtitle.startswith("On call now: owner until Mon 18 Jan 09:00. Next: sam."), subtitle

    page.goto(f"{schedule_url}?weeks=4")
    turns = bar_labels(page, FINAL_ROW)
    assert set(turns) == {"owner", "sam"} and len(turns) >= 4, turns
    assert all(a != b for a, b in itertools.pairwise(turns)), turns  # they take turns
    assert any(t.startswith("sam: Mon 18 Jan 09:00 to Mon 25 Jan 09:00") for t in bar_titles(page, FINAL_ROW))
    assert bar_labels(page, 'g.tl-row[data-row="Layer 1"]') == turns
    assert page.locator(f"{OVERRIDE_ROW} rect").count() == 0
    assert_rows_are_labelled_beside_them(page, ["Layer 1: Weekly", "Overrides", "On call"])
    assert_day_labels_do_not_overlap(page)

    # An override that ends before it starts is refused next to its field.
    page.select_option("#ov-user", label="sam")
    page.fill("#ov-start", "2027-01-16T10:00")
    page.fill("#ov-end", "2027-01-16T08:00")
    page.click("button:has-text('Save')")
    assert page.inner_text("#ov-end-error") == "must be after the start"
    page.fill("#ov-end", "2027-01-16T18:00")
    page.fill("#ov-reason", "Owner at the dentist")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(rf"{WS}/schedules/\d+$"))
    page.goto(f"{schedule_url}?weeks=4")
    assert bar_titles(page, OVERRIDE_ROW) == ["sam: Sat 16 Jan 10:00 to Sat 16 Jan 18:00"]
    assert page.locator(f"{OVERRIDE_ROW} rect.is-override").count() == 1
    assert "sam: Sat 16 Jan 10:00 to Sat 16 Jan 18:00" in bar_titles(page, FINAL_ROW)
    assert "Owner at the dentist" in page.inner_text("table")
    assert_cells_line_up(page, "table tbody tr")
    assert page.locator("fieldset.choice-field").evaluate("f => getComputedStyle(f).borderTopWidth") == "0px"
    for scheme in ("light", "dark"):
        shoot(page, "schedule", scheme)
    page.set_viewport_size({"width": 390, "height": 844})
    name = page.locator(".tl-labels li").first
    left = name.bounding_box()
    chart = page.locator(".schedule-timeline")
    scrolled = chart.evaluate("e => { e.scrollLeft = 200; return e.scrollLeft; }")
    assert scrolled > 0 and name.bounding_box() == left  # the row names stay while the chart scrolls
    shoot(page, "schedule-phone", "light")
    page.set_viewport_size({"width": 1366, "height": 900})

    # Sam hands a day of their own shift to the owner: a swap, drawn as an override too.
    theirs = signed_in(browser, base_url, sam)
    theirs.goto(schedule_url)
    theirs.check("input[name=kind][value=swap]")
    theirs.select_option("#ov-user", label="owner")
    theirs.fill("#ov-start", "2027-01-20T09:00")
    theirs.fill("#ov-end", "2027-01-21T09:00")
    theirs.click("button:has-text('Save')")
    theirs.wait_for_url(re.compile(rf"{WS}/schedules/\d+$"))
    page.goto(f"{schedule_url}?weeks=4")
    assert "owner: Wed 20 Jan 09:00 to Thu 21 Jan 09:00" in bar_titles(page, OVERRIDE_ROW)
    titles = bar_titles(page, FINAL_ROW)
    assert "sam: Mon 18 Jan 09:00 to Wed 20 Jan 09:00" in titles
    assert "owner: Wed 20 Jan 09:00 to Thu 21 Jan 09:00" in titles
    assert "sam: Thu 21 Jan 09:00 to Mon 25 Jan 09:00" in titles
    theirs.context.close()
    page.context.close()


def assert_labels_fit_their_bars(page: Page) -> list[tuple[str, str]]:
    """Every name written on a bar lies inside the bar; returns (label, full name) of each bar."""
    found: list[tuple[str, str]] = []
    for bar in page.locator("g.tl-bar").all():
        text, rect = bar.locator("text.tl-label"), bar.locator("rect").bounding_box()
        label, full = text.text_content() or "", text.get_attribute("data-full") or ""
        assert rect is not None
        if label:
            box = text.bounding_box()
            assert box is not None
            inside = rect["x"] <= box["x"] and box["x"] + box["width"] <= rect["x"] + rect["width"]
            assert inside, (label, rect, box)
        found.append((label, full))
    return found


def test_short_shifts_on_a_phone_keep_their_names_readable(
    browser: Browser, base_url: str, parts: Parts, owner: Member, sam: Member, clock: FakeClock  # noqa: F811
) -> None:
    alexandra = member(parts.ctx.db, "alexandra.vandenberg@example.com", Role.RESPONDER, "acme", clock())
    schedule_id = a_schedule(parts, owner, clock, [owner.user.id, sam.user.id])
    hour = 3600.0
    for start, hours in ((clock() + 26 * hour, 3), (clock() + 50 * hour, 40), (clock() + 98 * hour, 1)):
        request = ov.OverrideRequest(alexandra.user.id, start, start + hours * hour)
        parts.ctx.db.write(lambda c, r=request: ov.add_override(
            c, owner.workspace.id, schedule_id, r, audit.CLI, may_configure=True, now=clock()))
    page = page_as(browser, base_url, owner, phone=True)
    for weeks in (1, 4):
        page.goto(f"{WS}/schedules/{schedule_id}?weeks={weeks}")
        labels = assert_labels_fit_their_bars(page)
        overrides = [label for label, full in labels if full == "alexandra.vandenberg"]
        assert overrides and set(overrides) <= {"alexandra.vandenberg", "AV", ""}, overrides
        assert "" in overrides or "AV" in overrides  # a short one is shortened, never cut
        if weeks == 1:
            assert "alexandra.vandenberg" in overrides  # 40 hours of a week: room for the name
        assert [t.strip() for t in page.locator(".tl-legend li").all_inner_texts()] == [
            "owner", "sam", "alexandra.vandenberg", "override"]
        for scheme in ("light", "dark"):
            shoot(page, f"schedule-short-shifts-{weeks}w-phone", scheme)

    # The legend says who a nameless bar is; a tap on it says who and when.
    page.goto(f"{WS}/schedules/{schedule_id}?weeks=4")
    shortest = page.locator(f"{OVERRIDE_ROW} g.tl-bar").nth(2)
    assert shortest.locator("text").text_content() == ""
    shortest.locator("rect").scroll_into_view_if_needed()
    shortest.locator("rect").click()
    assert page.inner_text("[data-tl-detail]") == "alexandra.vandenberg: Tue 19 Jan 10:00 to Tue 19 Jan 11:00"
    shoot(page, "schedule-short-shift-tapped-phone", "light")

    page.set_viewport_size({"width": 1920, "height": 1000})  # wider: longer names where they fit
    page.wait_for_timeout(100)
    wide = assert_labels_fit_their_bars(page)
    assert sum(len(label) for label, _ in wide) > sum(len(label) for label, _ in labels), (wide, labels)
    page.context.close()


def test_an_escalation_policy_is_built_step_by_step_edited_and_a_loop_is_refused(
    browser: Browser, base_url: str, parts: Parts, owner: Member, clock: FakeClock  # noqa: F811
) -> None:
    schedule_id = a_schedule(parts, owner, clock, [owner.user.id])
    channel_id = a_channel(parts, owner, clock)
    page = signed_in(browser, base_url, owner)
    page.goto(f"{WS}/escalation")
    page.click("a:has-text('New policy')")
    page.fill("#policy-name", "Payments")
    options = page.locator("#step0-targets option").count()
    assert page.get_attribute("#step0-targets", "size") == str(options)  # every target in view
    page.select_option("#step0-targets", [f"schedule:{schedule_id}"])
    page.fill("#step0-wait", "10")
    page.click("button:has-text('Save policy')")
    page.wait_for_url(re.compile(rf"{WS}/escalation$"))

    page.click("a:has-text('Payments')")
    page.select_option("#step1-targets", [f"channel:{channel_id}"])
    page.fill("#step1-wait", "0")
    page.click("button:has-text('Save policy')")
    page.wait_for_url(re.compile(rf"{WS}/escalation$"))
    summary = page.locator("tr", has_text="Payments").locator(".escalation-summary").inner_text()
    assert summary == "On call now: Primary, wait 10 min → Channel: ops-hook"

    page.click("a:has-text('Payments')")  # edit a step: wait longer before the channel
    page.fill("#step0-wait", "25")
    page.click("button:has-text('Save policy')")
    page.wait_for_url(re.compile(rf"{WS}/escalation$"))
    summary = page.locator("tr", has_text="Payments").locator(".escalation-summary").inner_text()
    assert summary == "On call now: Primary, wait 25 min → Channel: ops-hook"
    for scheme in ("light", "dark"):
        shoot(page, "escalation-policies", scheme)

    payments = next(p for p in parts.ctx.db.read(lambda c: escalation.eq.policies_of(c, owner.workspace.id)))
    assert [s["wait_minutes"] for s in payments.doc["steps"]] == [25, 0]
    page.click("a:has-text('New policy')")
    page.fill("#policy-name", "Fallback")
    page.select_option("#step0-targets", [f"policy:{payments.id}"])
    page.fill("#step0-wait", "0")
    page.click("button:has-text('Save policy')")
    page.wait_for_url(re.compile(rf"{WS}/escalation$"))
    fallback = next(p for p in parts.ctx.db.read(lambda c: escalation.eq.policies_of(c, owner.workspace.id))
                    if p.name == "Fallback")

    page.click("a:has-text('Payments')")  # hand over to Fallback, which hands back: a loop
    page.select_option("#step2-targets", [f"policy:{fallback.id}"])
    page.fill("#step2-wait", "5")
    page.click("button:has-text('Save policy')")
    error = page.locator("#steps-error")
    assert error.inner_text() == "escalation loop: Payments -> Fallback -> Payments"
    assert error.evaluate("e => e.nextElementSibling.matches('ol.escalation-steps')")
    assert page.locator("#step2-targets option:checked").all_inner_texts() == ["Hand over to: Fallback"]
    for scheme in ("light", "dark"):
        shoot(page, "escalation-loop", scheme)
    saved = parts.ctx.db.read(lambda c: escalation.existing(c, owner.workspace.id, payments.id))
    assert len(saved.doc["steps"]) == 2  # nothing was stored
    page.context.close()


def step_targets(page: Page) -> list[str]:
    """Each filled step of the policy form, by its chosen targets, top to bottom."""
    found: list[str] = page.locator("li[data-step]").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('option:checked')].map(o => o.textContent).join(', '))"
    )
    return [f for f in found if f]


def focused_label(page: Page) -> str:
    return str(page.evaluate("document.activeElement.getAttribute('aria-label') || ''"))


def test_escalation_steps_are_reordered_with_the_keyboard_and_by_dragging_and_each_move_is_saved(
    browser: Browser, base_url: str, parts: Parts, owner: Member, sam: Member, clock: FakeClock  # noqa: F811
) -> None:
    schedule_id = a_schedule(parts, owner, clock, [owner.user.id])
    channel_id = a_channel(parts, owner, clock)
    steps = [
        {"targets": [{"kind": "schedule", "id": schedule_id}], "wait_minutes": 5},
        {"targets": [{"kind": "user", "id": sam.user.id}], "wait_minutes": 10},
        {"targets": [{"kind": "channel", "id": channel_id}], "wait_minutes": 0},
    ]
    policy = parts.ctx.db.write(lambda c: escalation.save_policy(
        c, owner.workspace.id, None, {"name": "Payments", "steps": steps}, audit.CLI, clock()))
    page = signed_in(browser, base_url, owner)
    url = f"{WS}/escalation/{policy.id}"
    page.goto(url)
    assert step_targets(page) == ["On call now: Primary", "Person: sam", "Channel: ops-hook"]
    assert page.is_disabled("[aria-label='Move step 1 up']")
    assert page.is_disabled("[aria-label='Move step 3 down']")

    def saved() -> list[str]:
        doc = parts.ctx.db.read(lambda c: escalation.existing(c, owner.workspace.id, policy.id)).doc
        return [f"{t['kind']}, wait {s['wait_minutes']}" for s in doc["steps"] for t in s["targets"]]

    # With the keyboard: the channel goes up twice; the focus follows it, so Enter again moves it on.
    page.fill("#step1-wait", "15")  # an edit not saved yet is kept by the move
    page.focus("[aria-label='Move step 3 up']")
    with page.expect_navigation(url=re.compile(rf"{url}\?moved=2&way=up$")):
        page.keyboard.press("Enter")
    assert step_targets(page) == ["On call now: Primary", "Channel: ops-hook", "Person: sam"]
    assert focused_label(page) == "Move step 2 up"
    assert page.inner_text(".flash-success") == "Saved. The step is now step 2."
    assert page.input_value("#step2-wait") == "15"
    with page.expect_navigation(url=re.compile(rf"{url}\?moved=1&way=up$")):
        page.keyboard.press("Enter")
    assert step_targets(page) == ["Channel: ops-hook", "On call now: Primary", "Person: sam"]
    assert focused_label(page) == "Move step 1 down"  # it cannot go further up
    assert saved() == ["channel, wait 0", "schedule, wait 5", "user, wait 15"]
    page.keyboard.press("Enter")  # and back down one
    page.wait_for_url(re.compile(rf"{url}\?moved=2&way=down$"))
    assert step_targets(page) == ["On call now: Primary", "Channel: ops-hook", "Person: sam"]
    assert focused_label(page) == "Move step 2 down"

    # With the mouse: the person's handle dropped on the upper half of the first step.
    handle = page.locator("li[data-step='2'] [data-drag-handle]")
    with page.expect_navigation(url=re.compile(rf"{url}\?moved=1&way=up$")):
        handle.drag_to(page.locator("li[data-step='0']"), target_position={"x": 200, "y": 4})
    assert step_targets(page) == ["Person: sam", "On call now: Primary", "Channel: ops-hook"]
    assert saved() == ["user, wait 15", "schedule, wait 5", "channel, wait 0"]
    for scheme in ("light", "dark"):
        shoot(page, "escalation-reorder", scheme)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.is_visible("[aria-label='Move step 2 up']")
    shoot(page, "escalation-reorder-phone", "light")
    page.set_viewport_size({"width": 1366, "height": 900})

    # Enter in a field still saves the policy, it does not move a step.
    page.fill("#policy-name", "Payments (EU)")
    page.press("#policy-name", "Enter")
    page.wait_for_url(re.compile(rf"{WS}/escalation$"))
    assert saved() == ["user, wait 15", "schedule, wait 5", "channel, wait 0"]

    # Each move is audited with the steps before and after.
    moves = parts.ctx.db.read(
        lambda c: audit.entries(c, owner.workspace.id, action_prefix="escalation_policy.")
    )
    assert [e.action for e in moves][:5] == ["escalation_policy.update"] * 5
    assert all("steps" in str(e.detail) for e in moves[1:5])

    # The server checks the order: each step exactly once, or nothing is saved.
    form = {"_csrf": owner.csrf, "name": "Payments (EU)", "step0_targets": f"user:{sam.user.id}",
            "step0_wait": "1", "step1_targets": f"channel:{channel_id}", "step1_wait": "0"}
    for bad in ("0,0", "1", "x,1"):
        refused = page.request.post(f"{base_url}{url}/order", form={**form, "order": bad})
        assert refused.status == 400, bad
        assert "the new order must" in refused.text(), bad
    assert saved() == ["user, wait 15", "schedule, wait 5", "channel, wait 0"]
    page.context.close()


def edit_controls(page: Page) -> list[str]:
    """What in the page's main content would change something."""
    found: list[str] = page.locator("main").evaluate("""main => [
        ...main.querySelectorAll('form[method=post]')].map(f => 'form ' + f.getAttribute('action'))
      .concat([...main.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
        .filter(e => !e.matches(':disabled') && !e.closest('nav'))
        .map(e => e.tagName + ' ' + (e.name || e.textContent)))
      .concat([...main.querySelectorAll('a')].filter(a => /\\/(new|edit)$/.test(a.pathname))
        .map(a => 'link ' + a.pathname))""")
    return found


def test_a_viewer_sees_schedules_and_policies_without_edit_controls(
    browser: Browser, base_url: str, parts: Parts, owner: Member, viewer: Member, clock: FakeClock  # noqa: F811
) -> None:
    schedule_id = a_schedule(parts, owner, clock, [owner.user.id])
    steps = [{"targets": [{"kind": "schedule", "id": schedule_id}], "wait_minutes": 5},
             {"targets": [{"kind": "user", "id": owner.user.id}], "wait_minutes": 0}]  # no move arrows
    policy = parts.ctx.db.write(lambda c: escalation.save_policy(
        c, owner.workspace.id, None, {"name": "Payments", "steps": steps}, audit.CLI, clock()))
    page = signed_in(browser, base_url, viewer)
    page.goto(f"{WS}/schedules")
    shoot(page, "schedules-viewer", "light")
    for path in ("/schedules", f"/schedules/{schedule_id}", "/escalation", f"/escalation/{policy.id}"):
        page.goto(f"{WS}{path}")
        assert page.locator("main h1").count() == 1, path
        assert edit_controls(page) == [], path
    page.goto(f"{WS}/schedules/{schedule_id}")
    assert bar_labels(page, FINAL_ROW) == ["owner"] * len(bar_labels(page, FINAL_ROW)) != []
    page.goto(f"{WS}/escalation/{policy.id}")
    assert page.locator("#step0-targets option:checked").all_inner_texts() == ["On call now: Primary"]
    for scheme in ("light", "dark"):
        shoot(page, "escalation-policy-viewer", scheme)
    refused = page.request.post(
        f"{base_url}{WS}/escalation/{policy.id}", form={"_csrf": viewer.csrf, "name": "x"}
    )
    assert refused.status == 403
    page.context.close()


def test_a_maintenance_window_and_an_inhibit_rule_are_edited_with_errors_next_to_the_field(
    browser: Browser, base_url: str, parts: Parts, owner: Member  # noqa: F811
) -> None:
    page = signed_in(browser, base_url, owner)
    page.goto(f"{WS}/maintenance")
    page.fill("#win-name", "DB upgrade")
    page.fill("#win-start", "2027-01-16T01:00")
    page.fill("#win-end", "2027-01-16T03:00")
    page.fill("#win-matchers", "team=db")
    page.click("button:has-text('Create window')")
    page.wait_for_url(re.compile(rf"{WS}/maintenance$"))
    page.click("a[aria-label='Edit DB upgrade']")
    assert page.input_value("#win-name") == "DB upgrade"
    assert page.input_value("#win-matchers") == 'team="db"'
    page.fill("#win-end", "2027-01-15T23:00")  # before the start
    page.click("button:has-text('Save window')")
    assert page.inner_text("#win-end-error") == "must be later than starts_at"
    assert page.get_attribute("#win-end", "aria-invalid") == "true"
    page.check("input[name=kind][value=weekly]")  # the once fields hide, the weekly ones show
    assert page.is_hidden("#win-start") and page.is_visible("#win-wstart")
    for day in page.locator("input[name=weekly_weekdays]").all():
        day.uncheck()
    page.locator("input[name=weekly_weekdays][value='6']").check()
    page.fill("#win-wstart", "01:30")
    page.fill("#win-minutes", "90")
    page.fill("#win-name", "DB upgrade (Sundays)")
    for scheme in ("light", "dark"):
        shoot(page, "maintenance-edit", scheme)
    page.click("button:has-text('Save window')")
    page.wait_for_url(re.compile(rf"{WS}/maintenance$"))
    row = page.locator("tr", has_text="DB upgrade (Sundays)")
    assert "Every Sun at 01:30 for 90 min (UTC)" in row.inner_text()
    assert page.locator("tbody tr").count() == 1

    page.goto(f"{WS}/inhibition")
    page.fill("#inh-name", "Node down")
    page.fill("#inh-source", "alertname=NodeDown")
    page.fill("#inh-target", "alertname=DiskFull")
    page.fill("#inh-equal", "host")
    page.click("button:has-text('Create inhibit rule')")
    page.wait_for_url(re.compile(rf"{WS}/inhibition$"))
    page.click("a[aria-label='Edit Node down']")
    page.fill("#inh-target", "alertname=~Disk(Full")
    page.click("button:has-text('Save inhibit rule')")
    assert "regex" in page.inner_text("#inh-target-error")
    assert page.input_value("#inh-target") == "alertname=~Disk(Full"  # what was typed is kept
    page.fill("#inh-target", "alertname=~Disk.*")
    page.fill("#inh-equal", "host, cluster")
    page.click("button:has-text('Save inhibit rule')")
    page.wait_for_url(re.compile(rf"{WS}/inhibition$"))
    row = page.locator("tr", has_text="Node down")
    assert 'alertname=~"Disk.*"' in row.inner_text() and "host, cluster" in row.inner_text()
    assert_cells_line_up(page, "table tbody tr")
    page.context.close()



def test_a_silence_is_edited_and_expired_now_only_once_confirmed(
    browser: Browser, base_url: str, owner: Member  # noqa: F811
) -> None:
    page: Page = page_as(browser, base_url, owner)
    asked: list[str] = []
    answer = {"accept": False}

    def on_dialog(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept() if answer["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"{WS}/silences/new")
    page.fill("#silence-matchers", "alertname=DiskFull")
    page.fill("#silence-duration", "2h")
    page.fill("#silence-comment", "replacing the disk")
    page.click("button:has-text('Create silence')")
    page.wait_for_url(re.compile(rf"{WS}/silences\?tab=active$"))

    page.click("a:has-text('Edit')")
    assert page.input_value("#silence-matchers") == 'alertname="DiskFull"'
    assert page.input_value("#silence-start") == "2027-01-15T08:00"
    assert "blank = unchanged" in page.inner_text("label[for=silence-start]")
    page.fill("#silence-matchers", "alertname=~(Disk")
    page.click("button:has-text('Save silence')")
    assert "regex" in page.inner_text("#silence-matchers-error")
    page.fill("#silence-matchers", 'alertname="DiskFull"')
    page.fill("#silence-end", "2027-01-15T14:00")
    page.fill("#silence-comment", "replacing the disk, slowly")
    shoot(page, "silence-edit", "light")
    page.click("button:has-text('Save silence')")
    page.wait_for_url(re.compile(rf"{WS}/silences\?tab=active$"))
    row = page.locator(".silence-table tbody tr")
    assert row.count() == 1 and "replacing the disk, slowly" in row.inner_text()

    page.click("button:has-text('Expire now')")  # dismissed: nothing happens
    assert asked == ["Expire this silence now? Matching alerts will page again."]
    assert page.url.endswith("?tab=active") and row.count() == 1
    answer["accept"] = True
    with page.expect_navigation(url=re.compile(rf"{WS}/silences\?tab=expired$")):
        page.click("button:has-text('Expire now')")
    assert len(asked) == 2 and "replacing the disk, slowly" in page.inner_text(".silence-table")
    assert page.locator("a:has-text('Edit')").count() == 0  # an ended silence is not edited
    page.context.close()
