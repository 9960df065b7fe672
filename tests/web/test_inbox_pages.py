"""The inbox and alert group pages as HTML: filters, search, cursor, saved views, forms with
errors next to their field, and hostile payload content that must stay text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db import migrate
from signalcraft.db.connection import open_connection, rows
from signalcraft.db.queries import alert_work as aw
from signalcraft.runtime import Parts
from signalcraft.web import inbox_pages
from tests.helpers import FakeClock, Member, member
from tests.web.test_alert_actions import WS, as_member, fire, integration_url, sentry_api

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "payloads"
HOSTILE_TITLE = "<img src=x onerror=window.__pwned=1> Disk full"


@pytest.fixture
def api(client: TestClient, owner: Member) -> TestClient:
    return as_member(client, owner)


@pytest.fixture
def am(api: TestClient) -> str:
    return integration_url(api)


def titles(html: str) -> list[str]:
    """Alert titles of the inbox rows, in order (unescaped as a browser shows them)."""
    found = re.findall(r"data-row-link>(.*?)</a>", html)
    return [
        t.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"').replace("&amp;", "&") for t in found
    ]


def inbox(client: TestClient, **params: str) -> str:
    response = client.get("/w/acme/inbox", params=params)
    assert response.status_code == 200, response.text[:500]
    return response.text


def test_the_inbox_lists_open_groups_newest_first_with_their_facts(
    api: TestClient,
    am: str,
    clock: FakeClock,
) -> None:
    old = fire(api, am, "DiskFull", severity="warning", labels={"service": "postgres"})
    clock.advance(60)
    fire(api, am, "NodeDown", severity="critical")
    clock.advance(60)
    done = fire(api, am, "Solved")
    api.post(f"{WS}/alert-groups/{done}/resolve")
    api.post(f"{WS}/alert-groups/{old}/assign", json={"user_id": 1})
    html = inbox(api)
    assert titles(html) == ["NodeDown fired", "DiskFull fired"]
    row = html[html.index(f'data-group-id="{old}"') :]
    row = row[: row.index("</tr>")]
    for fact in ("sev-warning", "status-triggered", "Alertmanager", "postgres", ">owner<"):
        assert fact in row, fact
    assert 'hx-trigger="sse:groups"' in html and 'sse-connect="/w/acme/live"' in html
    assert titles(inbox(api, status="resolved")) == ["Solved fired"]
    assert len(titles(inbox(api, status="all"))) == 3


def test_filters_narrow_the_inbox(api: TestClient, am: str, parts: Parts, clock: FakeClock) -> None:
    fire(api, am, "Payments", severity="critical", labels={"env": "prod", "team": "pay"})
    fire(
        api,
        am,
        "Staging",
        severity="warning",
        labels={"env": "staging"},
        annotations={"description": "replica lag on db-2"},
    )
    snoozed = fire(api, am, "Later", severity="info")
    api.post(f"{WS}/alert-groups/{snoozed}/snooze", json={"minutes": 30})
    mine = fire(api, am, "Mine", severity="error")
    api.post(f"{WS}/alert-groups/{mine}/assign", json={"user_id": 1})
    other = integration_url(api)
    fire(api, other, "ElseWhere", severity="critical")
    other_id = api.get(f"{WS}/integrations").json()[-1]["id"]
    assert titles(inbox(api, severity="critical")) == ["ElseWhere fired", "Payments fired"]
    assert titles(inbox(api, severity="critical,error")) == [
        "ElseWhere fired",
        "Mine fired",
        "Payments fired",
    ]
    assert titles(inbox(api, label="env=staging")) == ["Staging fired"]
    assert titles(inbox(api, label="team=pay", severity="critical")) == ["Payments fired"]
    assert titles(inbox(api, integration=str(other_id))) == ["ElseWhere fired"]
    assert titles(inbox(api, source="alertmanager", status="snoozed")) == ["Later fired"]
    assert titles(inbox(api, assignee="me")) == ["Mine fired"]
    assert "Mine fired" not in titles(inbox(api, assignee="none"))
    assert titles(inbox(api, q="replica lag")) == ["Staging fired"]
    assert titles(inbox(api, q="nothing-like-this")) == []


def test_older_pages_follow_the_cursor(
    api: TestClient,
    am: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbox_pages, "PAGE_SIZE", 2)
    for name in ("A", "B", "C", "D", "E"):
        fire(api, am, name)
        clock.advance(10)
    first = inbox(api)
    assert titles(first) == ["E fired", "D fired"]
    cursors = re.findall(r'href="/w/acme/inbox\?cursor=([^"]+)" rel="next"', first)
    assert len(cursors) == 1
    second = inbox(api, cursor=cursors[0].replace("%5F", "_"))
    assert titles(second) == ["C fired", "B fired"]
    assert "data-live-refresh" not in second and "data-live-notice" in second  # older pages do not move
    bad = api.get("/w/acme/inbox", params={"cursor": "yesterday"})
    assert bad.status_code == 400 and "not a cursor" in bad.text


def test_a_bad_filter_is_reported_next_to_its_field(api: TestClient, am: str) -> None:
    fire(api, am, "A")
    response = api.get("/w/acme/inbox", params={"label": "just-a-key", "q": "x"})
    assert response.status_code == 400
    field = re.search(r'<input id="inbox-label"[^>]*>', response.text)
    assert field and 'aria-invalid="true"' in field.group(0) and 'value="just-a-key"' in field.group(0)
    assert 'id="inbox-label-error">write key=value' in response.text
    assert titles(response.text) == []


def test_hostile_payload_content_stays_text(api: TestClient, am: str) -> None:
    gid = fire(
        api,
        am,
        "<script>window.__pwned=2</script>",
        summary=HOSTILE_TITLE,
        labels={"team": "<script>window.__pwned=3</script>", "<b>k</b>": "v"},
        annotations={
            "runbook_url": "javascript:alert(document.cookie)",
            "description": "<iframe src=//evil.example></iframe>",
        },
        generator_url="javascript:alert(1)",
    )
    project, auth = sentry_api(api)
    event = {
        "event_id": "a" * 32,
        "level": "error",
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "<svg onload=alert(4)>",
                    "value": "<img src=x onerror=alert(5)>",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "<img src=x onerror=alert(6)>.py",
                                "function": "<b>run</b>",
                                "lineno": 3,
                                "in_app": True,
                                "context_line": "x = '</code><script>alert(7)</script>'",
                            }
                        ]
                    },
                }
            ]
        },
    }
    stored = api.post(f"{project}/store/", json=event, headers=auth)
    assert stored.status_code == 200, stored.text
    trace_gid = next(
        g["id"] for g in api.get(f"{WS}/alert-groups").json()["groups"] if g["source"] == "sentry"
    )
    pages = [inbox(api), api.get(f"/w/acme/alerts/{gid}").text, api.get(f"/w/acme/alerts/{trace_gid}").text]
    for html in pages:
        assert (
            "<img" not in html and "<iframe" not in html and "<svg onload" not in html and "<b>" not in html
        )
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline <script> from a payload"
        assert not re.search(r"""href=["']?\s*javascript:""", html, re.IGNORECASE)
    inbox_html, group_html, trace_html = pages
    assert "&lt;img src=x onerror=window.__pwned=1&gt; Disk full" in inbox_html
    assert "&lt;script&gt;window.__pwned=3&lt;/script&gt;" in group_html
    assert "javascript:alert(document.cookie)" in group_html  # shown, as text
    assert 'class="unsafe-link"' in group_html
    assert "&lt;svg onload=alert(4)&gt;" in trace_html and "&lt;/code&gt;&lt;script&gt;alert(7)" in trace_html


def test_the_group_page_tells_the_whole_story(api: TestClient) -> None:
    project, auth = sentry_api(api)
    envelope = (SAMPLES / "sentry" / "001-exception.envelope.gz").read_bytes()
    headers = {"Content-Type": "application/x-sentry-envelope", "Content-Encoding": "gzip", **auth}
    for _ in range(2):
        assert api.post(f"{project}/envelope/", content=envelope, headers=headers).status_code == 200
    gid = api.get(f"{WS}/alert-groups").json()["groups"][0]["id"]
    api.post(f"{WS}/alert-groups/{gid}/notes", json={"body": "Divides by the item count: empty carts."})
    api.post(f"{WS}/alert-groups/{gid}/acknowledge")
    html = api.get(f"/w/acme/alerts/{gid}").text
    for piece in (
        "ZeroDivisionError: division by zero",
        "shop/payments.py",
        "unit_price",
        'class="frame is-in-app"',
        "return cart[&#34;total&#34;] / cart[&#34;items&#34;]",  # the context line
        "<strong>owner@example.com</strong> acknowledged the group",
        "<strong>owner@example.com</strong> added a note",
        "Divides by the item count: empty carts.",
        "Alert received",
        'release</span><span class="v">shop@1.4.2',  # a shared label
        'id="raw-code"',
        "&#34;exception&#34;",  # the payload, pretty-printed and escaped
        'data-shortcut="r"',
        'data-confirm="Resolve',
    ):
        assert piece in html, piece
    assert html.index("added a note") > html.index("acknowledged the group")  # newest first
    assert api.get("/w/acme/alerts/999999").status_code == 404


def test_forms_redirect_back_or_show_the_error_next_to_the_field(
    api: TestClient,
    am: str,
    clock: FakeClock,
) -> None:
    gid = fire(api, am, "A")
    csrf = api.headers["X-CSRF-Token"]
    base = f"/w/acme/alerts/{gid}"
    ack = api.post(f"{base}/acknowledge", data={"_csrf": csrf}, follow_redirects=False)
    assert ack.status_code == 303 and ack.headers["location"] == base
    past = api.post(f"{base}/snooze", data={"_csrf": csrf, "duration": "custom", "until": "2020-01-01T00:00"})
    assert past.status_code == 400
    assert re.search(r'<input id="snooze-until"[^>]*aria-invalid="true"', past.text)
    assert 'id="snooze-until-error">pick a time at least a minute from now' in past.text
    assert '<details class="menu snooze-menu" open>' in past.text
    blank = api.post(f"{base}/notes", data={"_csrf": csrf, "body": "   "})
    assert blank.status_code == 400 and 'id="note-error">write something first' in blank.text
    snooze = api.post(
        f"{base}/snooze",
        data={"_csrf": csrf, "duration": "1h", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert snooze.status_code == 303 and snooze.headers["location"] == base  # only pages of this workspace
    assert api.get(f"{WS}/alert-groups/{gid}").json()["group"]["status"] == "snoozed"
    other = fire(api, am, "B")
    back = "/w/acme/inbox?severity=critical"
    bulk = api.post(
        "/w/acme/inbox/bulk",
        data={"_csrf": csrf, "ids": [str(gid), str(other)], "action": "resolve", "next": back},
        follow_redirects=False,
    )
    assert bulk.status_code == 303 and bulk.headers["location"] == back
    assert {g["status"] for g in api.get(f"{WS}/alert-groups").json()["groups"]} == {"resolved"}
    empty = api.post("/w/acme/inbox/bulk", data={"_csrf": csrf, "action": "acknowledge", "next": back})
    assert empty.status_code == 400 and "select at least one alert group" in empty.text


def test_saved_views_from_the_inbox(api: TestClient, am: str) -> None:
    fire(api, am, "A")
    csrf = api.headers["X-CSRF-Token"]
    saved = api.post(
        "/w/acme/inbox/views",
        data={"_csrf": csrf, "name": "Critical prod", "query": "label=env%3Dprod&severity=critical"},
        follow_redirects=False,
    )
    assert (
        saved.status_code == 303
        and saved.headers["location"] == "/w/acme/inbox?severity=critical&label=env%3Dprod"
    )
    html = inbox(api)
    assert '<a href="/w/acme/inbox?severity=critical&amp;label=env%3Dprod">Critical prod</a>' in html
    taken = api.post("/w/acme/inbox/views", data={"_csrf": csrf, "name": "Critical prod", "query": ""})
    assert taken.status_code == 409 and 'id="view-name-error">a view named' in taken.text
    gone = api.post(
        "/w/acme/inbox/views/Critical%20prod/delete", data={"_csrf": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert "Critical prod" not in inbox(api)


def test_a_viewer_sees_no_controls_that_change_anything(
    api: TestClient,
    am: str,
    parts: Parts,
    clock: FakeClock,
) -> None:
    gid = fire(api, am, "A")
    viewer = as_member(api, member(parts.ctx.db, "view@example.com", Role.VIEWER, "acme", clock()))
    for html in (inbox(viewer), viewer.get(f"/w/acme/alerts/{gid}").text):
        assert "A fired" in html
        assert 'method="post" action="/w/acme/alerts' not in html and 'id="bulk-form"' not in html
        assert 'id="note-form"' not in html and "Save view" not in html and "data-can-respond" not in html


def test_the_inbox_reads_use_the_indexes(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "db")
    migrate.apply(conn)
    cases = [aw.InboxFilter(statuses=("triggered", "acknowledged")), aw.InboxFilter(assignee_id=3)]
    for f in cases:
        clauses, params = aw._where(conn, 1, f)
        plan = rows(conn, "EXPLAIN QUERY PLAN " + aw._inbox_select(" AND ".join(clauses)), (*params, 50))
        details = " ".join(str(r[-1]) for r in plan)
        assert "USING INDEX alert_groups_" in details and "SCAN alert_groups" not in details, details
    conn.close()
