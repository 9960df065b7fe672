"""The inbox in a real browser (Debian's Chromium, headless) against a real ``signalcraft
serve``: first-run setup, sign-in, an alert arriving live, keyboard acknowledgement, what a
viewer may do, and hostile payloads that must run no script. Screenshots of the inbox and
an alert group page (light, dark, phone) go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from signalcraft.auth.rbac import Role
from signalcraft.config import load_settings
from signalcraft.db import Database
from tests.helpers import PASSWORD, free_port, member
from tests.system.conftest import Served, start, write_config
from tests.web.test_alert_actions import am_payload

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SENTRY = (
    Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "sentry" / "001-exception.envelope.gz"
)
OWNER = "ana@example.com"
HOSTILE_TITLE = "<img src=x onerror=window.__pwned=1> Hostile"


class Instance:
    """A served instance whose stderr is read continuously (the first-run link is printed there)."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.served.proc.stderr is not None
        for line in self.served.proc.stderr:
            self.lines.append(line)

    def setup_link(self) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for line in self.lines:
                found = re.search(r"(http://\S+/setup/\S+)", line)
                if found:
                    return found.group(1)
            time.sleep(0.05)
        raise AssertionError("no setup link printed:\n" + "".join(self.lines))


def complete_setup(page: Page, instance: Instance, name: str, email: str) -> None:
    """The one-time setup page filled in: ``email`` becomes the owner of workspace "ops"."""
    page.goto(instance.setup_link())
    page.fill("#setup-name", name)
    page.fill("#setup-email", email)
    page.fill("#setup-password", PASSWORD)
    page.fill("#setup-password_confirm", PASSWORD)
    page.fill("#setup-workspace_name", "Ops")
    page.fill("#setup-workspace_slug", "ops")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/w/ops/$"))


@contextmanager
def running_instance(workdir: Path) -> Iterator[Instance]:
    """``signalcraft serve`` on a free port with its data in ``workdir``, stopped afterwards."""
    port = free_port()
    served = start(workdir, write_config(workdir, port), port)
    try:
        yield Instance(served)
    finally:
        if served.proc.poll() is None:
            served.stop()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("served")) as found:
        yield found


class Watched:
    """A page that records dialogs (dismissed) and console errors, so a script that runs is seen."""

    def __init__(self, context: BrowserContext) -> None:
        self.page: Page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def pwned(self) -> Any:
        return self.page.evaluate("window.__pwned")


def csrf_of(page: Page) -> str:
    return str(page.locator('meta[name="csrf-token"]').get_attribute("content"))


def shoot(page: Page, name: str, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.wait_for_timeout(150)
    page.screenshot(path=str(SHOTS / f"{name}-{scheme}.png"), full_page=True)


def test_the_inbox_in_a_browser(instance: Instance, browser: Browser) -> None:
    base = instance.served.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 900})
    owner = Watched(context)
    page = owner.page

    # First run: the printed link creates the administrator and the workspace.
    page.goto(instance.setup_link())
    page.fill("#setup-name", "Ana")
    page.fill("#setup-email", OWNER)
    page.fill("#setup-password", PASSWORD)
    page.fill("#setup-password_confirm", PASSWORD)
    page.fill("#setup-workspace_name", "Ops")
    page.fill("#setup-workspace_slug", "ops")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/w/ops/$"))

    # Sign out and in again through the sign-in page.
    page.click(".user-menu summary")
    page.click("form[action='/logout'] button")
    page.wait_for_url(re.compile(r"/login"))
    page.goto("/login?next=/w/ops/inbox")
    page.fill("#login-email", OWNER)
    page.fill("#login-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/w/ops/inbox$"))
    created = page.request.post(
        "/api/v1/workspaces/ops/integrations",
        headers={"X-CSRF-Token": csrf_of(page)},
        data={"type": "alertmanager", "name": "Prometheus prod"},
    )
    assert created.status == 201, created.text()
    ingest = base + "/" + created.json()["ingest_url"].split("/", 3)[3]

    # An alert posted over HTTP appears in the open inbox without a reload.
    page.wait_for_selector("[data-live-status][data-state=live]")
    page.evaluate("window.__samePage = 'yes'")
    assert (
        httpx.post(
            ingest,
            json=am_payload(
                "DiskFull",
                severity="warning",
                summary="Disk /var at 91% on db-1",
                labels={"service": "postgres", "instance": "db-1"},
            ),
        ).status_code
        == 200
    )
    row = page.locator("#inbox-results tr[data-row]", has_text="Disk /var at 91% on db-1")
    row.wait_for(timeout=5000)
    assert page.evaluate("window.__samePage") == "yes"

    # j selects it, a acknowledges it.
    page.keyboard.press("j")
    assert "is-selected" in (row.get_attribute("class") or "")
    page.keyboard.press("a")
    page.locator("#inbox-results tr[data-status=acknowledged]", has_text="Disk /var").wait_for(timeout=5000)
    assert page.evaluate("window.__samePage") == "yes"

    # A hostile alert runs nothing: not in the inbox, not on its page.
    hostile = am_payload(
        "<script>window.__pwned=2</script>",
        summary=HOSTILE_TITLE,
        labels={"team": "<script>window.__pwned=3</script>"},
        annotations={"runbook_url": "javascript:window.__pwned=4"},
        generator_url="javascript:alert(document.domain)",
    )
    assert httpx.post(ingest, json=hostile).status_code == 200
    page.locator("#inbox-results tr[data-row]", has_text="Hostile").wait_for(timeout=5000)
    for name, severity, summary in (
        ("NodeDown", "critical", "node-7 is unreachable"),
        ("LatencyP99", "error", "p99 latency 2.4 s on search-api"),
        ("CertExpiry", "info", "TLS certificate for api.example.com expires in 12 days"),
    ):
        httpx.post(ingest, json=am_payload(name, severity=severity, summary=summary, labels={"env": "prod"}))
    page.locator("#inbox-results tr[data-row]", has_text="node-7").wait_for(timeout=5000)
    assert owner.pwned() is None and owner.dialogs == []
    page.locator("#inbox-results a[data-row-link]", has_text="Hostile").click()
    page.wait_for_url(re.compile(r"/w/ops/alerts/\d+$"))
    assert page.locator("a[href^='javascript:' i]").count() == 0
    assert page.locator(".link-list", has_text="javascript:alert(document.domain)").count() == 1  # as text
    page.locator("#raw-payload summary").click()
    assert owner.pwned() is None and owner.dialogs == []

    # Screenshots: a group with a stack trace, notes and an assignee; the inbox; light, dark, phone.
    sentry_group = sentry_alert(page, base)
    page.goto(f"/w/ops/alerts/{sentry_group}")
    page.fill("#note-body", "Divides by the item count; empty carts reach it. Rolling back to 1.4.1.")
    page.click("#note-form button[type=submit]")
    page.locator(".tl-note", has_text="Rolling back").wait_for(timeout=5000)
    page.select_option("#assign-select", label="Ana (me)")
    page.click(".assign-form button[type=submit]")
    page.locator(".tl-text", has_text="assigned it to").wait_for(timeout=5000)
    for scheme in ("light", "dark"):
        shoot(page, "group", scheme)
    page.goto("/w/ops/inbox?status=all")
    page.keyboard.press("j")
    page.keyboard.press("j")
    for scheme in ("light", "dark"):
        shoot(page, "inbox", scheme)
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "inbox-phone", "dark")
    page.goto(f"/w/ops/alerts/{sentry_group}")
    shoot(page, "group-phone", "light")
    assert owner.pwned() is None and owner.dialogs == []

    # A viewer sees no edit controls, and posting anyway is refused.
    settings = load_settings(instance.served.config)
    db = Database.from_settings(settings)
    db.open()
    try:
        viewer = member(db, "vic@example.com", Role.VIEWER, "ops", time.time())
    finally:
        db.close()
    watcher = browser.new_context(base_url=base)
    watcher.add_cookies([{"name": "sc_session", "value": viewer.session_token, "url": base}])
    seen = Watched(watcher)
    seen.page.goto("/w/ops/inbox")
    assert seen.page.locator("#inbox-results tr[data-row]").count() >= 4
    assert seen.page.locator("#bulk-form, [data-row-check], .save-view").count() == 0
    seen.page.keyboard.press("j")
    seen.page.keyboard.press("a")  # no such shortcut for a viewer
    seen.page.goto(f"/w/ops/alerts/{sentry_group}")
    assert seen.page.locator(".group-actions, #note-form, .assign-form").count() == 0
    refused = seen.page.request.post(
        f"/w/ops/alerts/{sentry_group}/acknowledge", form={"_csrf": csrf_of(seen.page)}
    )
    assert refused.status == 403
    api_refused = seen.page.request.post(
        f"/api/v1/workspaces/ops/alert-groups/{sentry_group}/resolve",
        headers={"X-CSRF-Token": csrf_of(seen.page)},
    )
    assert api_refused.status == 403
    assert seen.pwned() is None and seen.dialogs == []

    # SIGTERM with live streams open (both pages above): they end at once, the process exits 0.
    page.wait_for_selector("[data-live-status][data-state=live]")
    started = time.monotonic()
    assert instance.served.stop(timeout=30) == 0
    assert time.monotonic() - started < 8, "an open live stream held the shutdown"
    watcher.close()
    context.close()


def sentry_alert(page: Page, base: str) -> int:
    """A Sentry exception (with its stack trace) sent as the SDK sends it; returns its group id."""
    created = page.request.post(
        "/api/v1/workspaces/ops/integrations",
        headers={"X-CSRF-Token": csrf_of(page)},
        data={"type": "sentry", "name": "Shop backend"},
    )
    dsn = created.json()["credential"]["dsn"]
    key, project = dsn.split("//", 1)[1].split("@")[0], dsn.rsplit("/", 1)[1]
    reply = httpx.post(
        f"{base}/api/{project}/envelope/",
        content=SENTRY.read_bytes(),
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "Content-Encoding": "gzip",
            "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        },
    )
    assert reply.status_code == 200, reply.text
    listing = page.request.get("/api/v1/workspaces/ops/alert-groups").json()["groups"]
    return int(next(g["id"] for g in listing if g["source"] == "sentry"))
