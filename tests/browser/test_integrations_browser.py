"""A real browser against a real ``signalcraft serve``: sign in, create an integration, copy its
snippet through the clipboard, and screenshot the integration pages and the dashboard in the
light and dark themes, on a desktop and a 390 px phone (test-artifacts/screenshots/).

The instance is made as an operator would (``signalcraft init``); a week of alert history is
written beforehand through the real pipeline (parsers, prepare, apply) at past times, so the
dashboard has something to draw.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import httpx
import pytest

from signalcraft import integrations as svc
from signalcraft.db import Database
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import audit
from signalcraft.db.queries import integrations as iq
from signalcraft.ingest import alertmanager, pagerduty
from signalcraft.ingest.model import ParseResult
from signalcraft.pipeline.process import RawBody, apply, prepare
from tests.helpers import free_port
from tests.system.conftest import Served, cli, start, write_config

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
OWNER, PASSWORD = "owner@example.com", "correct horse battery staple"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


# ------------------------------------------------------------------ a week of history


Event = tuple[ParseResult, bytes]


def _record(conn: apsw.Connection, integration: iq.Integration, event: Event, at: float) -> None:
    result, body = event
    raw = RawBody("application/json", len(body), aq.compress(body))
    apply(
        conn,
        integration,
        prepare(result, integration),
        (),
        raw,
        request_id=uuid.uuid4().hex,
        now=at,
        window_seconds=300.0,
    )


def _pd(key: str, action: str, summary: str = "", severity: str = "critical") -> Event:
    body: dict[str, Any] = {"routing_key": "[routing_key]", "event_action": action, "dedup_key": key}
    if action == "trigger":
        body["payload"] = {"summary": summary, "source": "prod", "severity": severity}
    return pagerduty.parse_event(body, {}, generated_key=key), json.dumps(body).encode()


def _am(name: str, instance: str, severity: str, status: str = "firing") -> Event:
    alert = {
        "status": status,
        "labels": {"alertname": name, "instance": instance, "severity": severity},
        "annotations": {"summary": f"{name} on {instance}"},
    }
    body = {
        "version": "4",
        "status": status,
        "receiver": "signalcraft",
        "alerts": [alert],
        "groupLabels": {"alertname": name},
    }
    return alertmanager.parse_webhook(body, {}), json.dumps(body).encode()


INCIDENTS = [
    ("checkout-latency", "Checkout p99 latency above 2 s", "critical"),
    ("db-disk", "Disk 92% full on db-primary", "error"),
    ("payments-5xx", "Payments API returns 5xx", "critical"),
    ("queue-backlog", "Order queue backlog above 10k", "warning"),
    ("cert-expiry", "TLS certificate expires in 7 days", "info"),
]


def seed_history(database: Path, now: float) -> None:
    rnd = random.Random(7)
    db = Database(database)
    db.open()
    try:
        ws = db.read(lambda c: q.workspace_by_slug(c, "acme"))
        assert ws is not None
        pd = db.write(
            lambda c: svc.create(c, ws.id, "pagerduty", "PagerDuty bridge", {}, audit.CLI, now - 40 * 86400)
        ).integration
        grouped = {"group_by": ["alertname"]}
        am = db.write(
            lambda c: svc.create(
                c, ws.id, "alertmanager", "Prod Alertmanager", grouped, audit.CLI, now - 40 * 86400
            )
        ).integration
        events: list[tuple[float, iq.Integration, Event]] = []
        for n in range(34):
            key, summary, severity = rnd.choice(INCIDENTS)
            start_at = now - rnd.uniform(0.2, 13.5) * 86400
            dedup = f"{key}-{n}"
            events.append((start_at, pd, _pd(dedup, "trigger", summary, severity)))
            for _ in range(rnd.randint(0, 4)):
                events.append((start_at + rnd.uniform(60, 900), pd, _pd(dedup, "trigger", summary, severity)))
            if rnd.random() < 0.75:
                events.append((start_at + rnd.uniform(60, 1800), pd, _pd(dedup, "acknowledge")))
            events.append((start_at + rnd.uniform(1900, 9000), pd, _pd(dedup, "resolve")))
        for _ in range(60):  # a flapping Alertmanager alert and its resends
            at = now - rnd.uniform(0.1, 6.5) * 86400
            name, inst = rnd.choice(
                [("HighErrorRate", "pod-2"), ("NodeMemoryPressure", "node-7"), ("HighErrorRate", "pod-5")]
            )
            severity = "critical" if name == "HighErrorRate" else "warning"
            for resend in range(rnd.randint(1, 5)):
                events.append((at + resend * 60, am, _am(name, inst, severity)))
            events.append((at + 900, am, _am(name, inst, severity, "resolved")))
        ordered = sorted(events, key=lambda e: e[0])
        db.write(lambda c: [_record(c, integration, event, at) for at, integration, event in ordered])
    finally:
        db.close()


# ------------------------------------------------------------------ the instance


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("browser")
    port, config, data = free_port(), workdir / "signalcraft.toml", workdir / "data"
    made = cli(
        "init",
        "--email",
        OWNER,
        "--workspace",
        "acme",
        "--workspace-name",
        "Acme",
        "--data-dir",
        str(data),
        "--config",
        str(config),
        "--password-file",
        "-",
        cwd=workdir,
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    write_config(workdir, port)  # the same data directory, on a free port
    seed_history(data / "signalcraft.db", time.time())
    server = start(workdir, config, port)
    log: list[str] = []
    stream = server.proc.stderr
    assert stream is not None
    threading.Thread(target=lambda: log.extend(stream), daemon=True).start()  # never let the pipe fill
    yield server
    server.stop()


def signed_in(browser: Any, served: Served, *, viewport: dict[str, int], dark: bool) -> Any:
    context = browser.new_context(
        viewport=viewport, base_url=served.url, color_scheme="dark" if dark else "light"
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    page = context.new_page()
    page.goto("/login")
    page.fill("#login-email", OWNER)
    page.fill("#login-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# ------------------------------------------------------------------ the tests


def test_create_an_integration_and_copy_its_snippet(browser: Any, served: Served) -> None:
    page = signed_in(browser, served, viewport=DESKTOP, dark=False)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/w/acme/integrations")
    page.click("text=New integration")
    page.check("#type-webhook")
    assert page.is_visible("#mapping-title") and not page.is_visible("#client-secret")
    page.fill("#integration-name", "Shop checks")
    page.fill("#mapping-title", "check.name")
    page.fill("#mapping-severity", "check.level")
    page.fill("#sample", '{"check": {"name": "Checkout is slow", "level": "critical"}}')
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#preview-result table")
    assert "Checkout is slow" in page.inner_text("#preview-result")
    page.fill("#sample", '{"check": {}}')
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#preview-result .flash-error")
    assert "check.name" in page.inner_text("#preview-result")
    page.check("#type-alertmanager")
    assert not page.is_visible("#mapping-title")
    page.fill("#integration-name", "Staging Alertmanager")
    page.click("button:has-text('Create integration')")
    page.wait_for_selector("#credential")
    token = page.inner_text("#credential").strip()
    snippet = page.inner_text("#snippet-alertmanager-text")
    assert f"/ingest/{token}" in snippet
    page.click("#snippet-alertmanager button.copy-btn")
    page.wait_for_selector("#snippet-alertmanager button.copy-btn.is-copied")
    assert page.inner_text("#snippet-alertmanager button.copy-btn") == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == snippet.strip()
    shot(page, "integration-created-light")
    # the credential works, and the page that showed it will not show it again
    url = page.inner_text("#ingest-url").strip()
    alert = {"status": "firing", "labels": {"alertname": "BrowserTest"}, "annotations": {"summary": "Test"}}
    body = {"version": "4", "status": "firing", "alerts": [alert]}
    assert httpx.post(url, json=body, timeout=10).status_code == 200
    page.click("text=Done")
    page.wait_for_selector("table.ingest-log")
    assert token not in page.content()
    assert "Accepted" in page.inner_text("table.ingest-log")
    assert not errors, errors
    page.context.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_screenshots(browser: Any, served: Served, dark: bool) -> None:
    theme = "dark" if dark else "light"
    page = signed_in(browser, served, viewport=DESKTOP, dark=dark)
    page.goto("/w/acme/integrations")
    assert page.is_visible("text=Prod Alertmanager")
    shot(page, f"integrations-list-{theme}")
    page.goto("/w/acme/integrations/new?type=webhook")
    shot(page, f"integration-new-{theme}")
    page.goto("/w/acme/dashboard?period=7d")
    assert page.locator(".chart-bar").count() > 0
    shot(page, f"dashboard-7d-{theme}")
    page.goto("/w/acme/integrations")
    page.click("text=PagerDuty bridge")
    page.wait_for_selector("table.ingest-log")
    shot(page, f"integration-detail-{theme}")
    page.goto("/w/acme/integrations/new?type=datadog")
    page.fill("#integration-name", f"Datadog monitors ({theme})")
    page.click("button:has-text('Create integration')")
    page.wait_for_selector("#snippet-datadog-payload")
    shot(page, f"integration-created-datadog-{theme}")
    page.context.close()
    phone = signed_in(browser, served, viewport=PHONE, dark=dark)
    for path, name in (
        ("/w/acme/dashboard?period=30d", "dashboard-30d"),
        ("/w/acme/integrations", "integrations-list"),
        ("/w/acme/integrations/1", "integration-detail"),
    ):
        phone.goto(path)
        assert_fits(phone, path)
        shot(phone, f"{name}-phone-{theme}")
    phone.goto("/w/acme/integrations/new")
    phone.check("#type-sentry")
    phone.fill("#integration-name", f"Web app errors ({theme})")
    assert_fits(phone, "the new integration form")
    shot(phone, f"integration-new-phone-{theme}")
    phone.click("button:has-text('Create integration')")
    phone.wait_for_selector("#snippet-sentry-python")
    assert_fits(phone, "the Sentry snippets")
    shot(phone, f"integration-created-phone-{theme}")
    phone.context.close()


def assert_fits(page: Any, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} scrolls sideways at 390 px ({width})"
