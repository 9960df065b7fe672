"""The uptime pages through the real app: list, monitor page, the form (create, test, edit),
run now, pause, delete; the public status page shows only what was chosen, under public names,
and nothing internal; badges; every page keeps to the CSP and every POST form carries _csrf."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from litestar.testing import TestClient

from signalcraft.db.connection import rows, scalar
from signalcraft.runtime import Parts
from tests.conftest import signed_in
from tests.helpers import FakeClock, Member, hidden_csrf
from tests.uptime.conftest import Target, create_monitor

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_csp_clean(html: str) -> None:
    parser = Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag != "style" and "style" not in attrs, (tag, attrs)
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/"), attrs
    for form in re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S | re.I):
        assert 'name="_csrf"' in form, form[:200]


def test_pages_render_and_keep_to_the_csp(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock, target: Target
) -> None:
    signed_in(client, owner)
    web = create_monitor(
        parts, owner, clock, kind="http", interval_seconds=60, name="Web <b>", settings={"url": target.url}
    )
    beat = create_monitor(
        parts,
        owner,
        clock,
        kind="heartbeat",
        name="Backup",
        settings={"cron": "0 3 * * *", "timezone": "Europe/Paris"},
    )
    client.get(f"/ping/{beat.ping_key}")
    pages = [
        "/w/acme/monitors",
        f"/w/acme/monitors/{web.id}",
        f"/w/acme/monitors/{beat.id}",
        "/w/acme/monitors/new",
        "/w/acme/monitors/new?kind=heartbeat",
        "/w/acme/monitors/new?kind=dns",
        "/w/acme/monitors/new?kind=tls",
        f"/w/acme/monitors/{web.id}/edit",
        "/w/acme/settings/status-page",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Web <b>" not in response.text
        assert_csp_clean(response.text)
    page = client.get(f"/w/acme/monitors/{beat.id}").text
    assert f"http://127.0.0.1:8080/ping/{beat.ping_key}" in page and "cron 0 3 * * * (Europe/Paris)" in page
    listing = client.get("/w/acme/monitors").text
    assert "Web &lt;b&gt;" in listing and 'class="spark' in listing


def test_create_test_edit_run_pause_and_delete_from_the_form(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock, target: Target
) -> None:
    signed_in(client, owner)
    csrf = hidden_csrf(client.get("/w/acme/monitors/new").text)
    form = {
        "_csrf": csrf,
        "kind": "http",
        "name": "Shop",
        "url": target.url,
        "method": "GET",
        "expected_status": "200-299",
        "interval_seconds": "60",
        "timeout_seconds": "5",
        "follow_redirects": "0",
        "verify_tls": "1",
        "keyword_absent": "0",
    }
    tested = client.post("/w/acme/monitors/new", data={**form, "test": "1"})
    assert tested.status_code == 200 and "Check passed" in tested.text
    assert (
        parts.ctx.db.read(lambda c: scalar(c, "SELECT count(*) FROM monitors")) == 0
    )  # a test stores nothing
    bad = client.post("/w/acme/monitors/new", data={**form, "url": "gopher://x"})
    assert bad.status_code == 400 and "unsupported scheme &#39;gopher&#39;" in bad.text
    created = client.post("/w/acme/monitors/new", data=form, follow_redirects=False)
    assert created.status_code == 303
    url = created.headers["location"]
    settings = parts.ctx.db.read(lambda c: scalar(c, "SELECT settings FROM monitors"))
    assert '"follow_redirects":false' in settings and '"verify_tls":true' in settings
    edited = client.post(
        f"{url}/edit", data={**form, "name": "Shop front", "keyword": "ok"}, follow_redirects=False
    )
    assert edited.status_code == 303
    ran = client.post(f"{url}/run", data={"_csrf": csrf})
    assert ran.status_code == 200 and "Check passed" in ran.text and "Shop front" in ran.text
    client.post(f"{url}/pause", data={"_csrf": csrf})
    assert parts.ctx.db.read(lambda c: scalar(c, "SELECT paused FROM monitors")) == 1
    client.post(f"{url}/resume", data={"_csrf": csrf})
    client.post(f"{url}/delete", data={"_csrf": csrf})
    assert parts.ctx.db.read(lambda c: scalar(c, "SELECT count(*) FROM monitors")) == 0


def test_the_status_page_shows_only_chosen_monitors_under_public_names(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    shown = create_monitor(
        parts,
        owner,
        clock,
        kind="http",
        name="api-internal-prod",
        settings={"url": "http://10.1.2.3:8443/healthz?token=s3cret"},
    )
    hidden = create_monitor(
        parts, owner, clock, kind="tcp", name="secret-db", settings={"host": "db1.corp.lan", "port": 5432}
    )
    parts.ctx.db.write(
        lambda c: c.execute(
            "UPDATE monitors SET status = 'down', status_since = ?,"
            " last_message = 'connection refused by 10.1.2.3'",
            (clock() - 60,),
        )
    )
    assert client.get("/status/acme").status_code == 404  # not enabled yet: same as no such workspace
    assert client.get("/status/nope").status_code == 404
    signed_in(client, owner)
    csrf = hidden_csrf(client.get("/w/acme/settings/status-page").text)
    unnamed = client.post(
        "/w/acme/settings/status-page", data={"_csrf": csrf, "enabled": "1", f"show_{shown.id}": "1"}
    )
    assert unnamed.status_code == 400 and "public name" in unnamed.text
    svg_logo = client.post(
        "/w/acme/settings/status-page",
        data={"_csrf": csrf, "enabled": "1"},
        files={"logo": ("logo.svg", b"<svg onload='x()'/>", "image/svg+xml")},
    )
    assert svg_logo.status_code == 400 and "PNG, JPEG, GIF or WebP" in svg_logo.text
    saved = client.post(
        "/w/acme/settings/status-page",
        data={
            "_csrf": csrf,
            "enabled": "1",
            "title": "Acme status",
            f"show_{shown.id}": "1",
            f"public_name_{shown.id}": "Public API",
        },
        files={"logo": ("logo.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    client.post(
        "/w/acme/settings/status-page/notes",
        data={
            "_csrf": csrf,
            "kind": "maintenance",
            "title": "Database upgrade",
            "body": "Read-only for a minute.",
            "starts_at": "2030-01-01T10:00",
            "ends_at": "2030-01-01T11:00",
        },
    )
    client.cookies.clear()
    page = client.get("/status/acme")
    assert page.status_code == 200
    html = page.text
    for expected in (
        "Acme status",
        "Public API",
        "Public API</strong> is down",
        "Database upgrade",
        "Major outage",
        "data:image/png;base64,",
    ):
        assert expected in html, expected
    for leak in (
        "api-internal-prod",
        "10.1.2.3",
        "8443",
        "healthz",
        "s3cret",
        "secret-db",
        "db1.corp.lan",
        "connection refused",
        shown.public_id,
        hidden.public_id,
        "/w/acme",
        "_csrf",
        "<script",
    ):
        assert leak not in html, leak
    assert_csp_clean(html)
    ws_rows = parts.ctx.db.read(
        lambda c: rows(c, "SELECT action FROM audit_log WHERE action LIKE 'status_page%'")
    )
    assert [r[0] for r in ws_rows] == ["status_page.update", "status_page.note_add"]


def test_badges_show_status_and_uptime_without_naming_the_monitor(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    monitor = create_monitor(
        parts, owner, clock, kind="tcp", name="secret-db", settings={"host": "db1.corp.lan", "port": 5432}
    )
    status = client.get(f"/badge/{monitor.public_id}.svg")
    assert status.status_code == 200 and status.headers["content-type"].startswith("image/svg+xml")
    assert "status: pending" in status.text and "secret-db" not in status.text and "corp" not in status.text
    uptime = client.get(
        f"/badge/{monitor.public_id}.svg", params={"style": "uptime", "period": "7d", "label": "<b>db</b>"}
    )
    assert "&lt;b&gt;db&lt;/b&gt;: —" in uptime.text
    assert (
        client.get(f"/badge/{monitor.public_id}.svg", params={"style": "uptime", "period": "1y"}).status_code
        == 400
    )
    assert client.get("/badge/unknown.svg").status_code == 404
    assert client.get(f"/badge/{monitor.public_id}").status_code == 404
