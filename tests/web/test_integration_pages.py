"""Integration pages through HTTP with a real database: create with the HTML form, the
credential shown once, rotate, revoke, edit, validation errors next to their fields, the
mapping preview, what a viewer sees, and the raw payload page (escaped, scoped)."""

from __future__ import annotations

import gzip
import html
import json
import re
import shlex
from pathlib import Path

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.integrations import USER_TYPES as SOURCES  # the types people create
from signalcraft.runtime import Parts
from signalcraft.web.integration_pages import pretty_payload
from tests.helpers import FakeClock, Member, member

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads"
BASE = "/w/acme/integrations"
JSON = {"Content-Type": "application/json"}
LIST_MAPPING = {"mapping.title": "check", "mapping.severity": "status", "mapping.dedup_key": "key",
                "mapping.status": "status", "mapping.labels": "meta", "mapping.alerts": "data.items"}


@pytest.fixture
def web(client: TestClient, owner: Member) -> TestClient:
    client.cookies.set("sc_session", owner.session_token)
    return client


@pytest.fixture
def viewer(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "viewer@example.com", Role.VIEWER, "acme", clock())


def create(web: TestClient, owner: Member, type_: str, name: str = "", **fields: str):  # type: ignore[no-untyped-def]
    form = {"_csrf": owner.csrf, "type": type_, "name": name or f"{type_} one", **fields}
    return web.post(f"{BASE}/new", data=form)


def shown(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</code>', page, re.S)
    assert found, element_id
    return html.unescape(found.group(1))


def field_error(page: str, input_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{input_id}-error">(.*?)</p>', page)
    assert found, f"no error under {input_id}"
    assert re.search(rf'id="{input_id}"[^>]*aria-invalid="true"', page, re.S), input_id
    return html.unescape(found.group(1))


def path_of(url: str) -> str:
    return url.split("8080", 1)[1]


def integration_id(page: str) -> int:
    found = re.search(r'href="/w/acme/integrations/(\d+)"', page)
    assert found
    return int(found.group(1))


# ------------------------------------------------------------------ create and the credential


def test_create_through_the_form_shows_the_credential_once_then_never_again(
    web: TestClient, owner: Member
) -> None:
    page = create(web, owner, "alertmanager", "Prod Alertmanager", group_by="alertname, cluster")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    token = shown(page.text, "credential")
    url = shown(page.text, "ingest-url")
    assert re.fullmatch(r"[0-9a-f]{32}", token) and url == f"http://127.0.0.1:8080/ingest/{token}"
    assert f'url: "{url}"' in shown(page.text, "snippet-alertmanager-text")
    assert 'data-copy-target="#snippet-alertmanager-text"' in page.text
    ident = integration_id(page.text)
    # the curl snippet is a working request
    words = shlex.split(shown(page.text, "snippet-curl-text"))
    assert web.post(path_of(words[4]), content=words[-1], headers=JSON).status_code == 200
    detail = web.get(f"{BASE}/{ident}").text
    listing = web.get(BASE).text
    for later in (detail, listing):
        assert token not in later and token[:6] in later
    assert "alertname" in detail and "cluster" in detail
    assert f"/ingest/{token[:6]}…" in detail
    assert "Accepted" in detail and "1 created" in detail
    row = re.search(r"<tbody>.*?</tbody>", listing, re.S)
    assert row and "Prod Alertmanager" in row.group(0) and "Prometheus Alertmanager" in row.group(0)
    assert "Active" in row.group(0) and "data-relative" in row.group(0)  # last received, as a relative time


def test_every_type_is_created_with_its_snippets_carrying_the_credential(
    web: TestClient, owner: Member
) -> None:
    for type_ in SOURCES:
        fields = {"mapping.title": "title"} if type_ == "webhook" else {}
        page = create(web, owner, type_, **fields)
        assert page.status_code == 200, page.text[:500]
        token = shown(page.text, "credential").rsplit("@", 1)[0].rsplit("/", 1)[-1]
        snippets = re.findall(r'<code id="(snippet-[\w-]+-text)">(.*?)</code>', page.text, re.S)
        assert snippets and snippets[-1][0] == "snippet-curl-text", type_
        for element_id, text in snippets:
            if element_id != "snippet-datadog-payload-text":
                assert token in html.unescape(text), (type_, element_id)


def test_validation_errors_are_shown_next_to_their_fields(
    web: TestClient, owner: Member, parts: Parts
) -> None:
    page = web.post(f"{BASE}/new", data={"_csrf": owner.csrf, "name": "  "})
    assert page.status_code == 400
    assert field_error(page.text, "integration-name") == "is required"
    assert 'id="type-error"' in page.text
    bad_path = create(web, owner, "webhook", "Keep me", **{"mapping.title": "a..b", "mapping.labels": "x"})
    assert bad_path.status_code == 400
    assert "invalid path 'a..b'" in field_error(bad_path.text, "mapping-title")
    # the form keeps what was typed
    assert 'value="Keep me"' in bad_path.text and 'value="x"' in bad_path.text
    no_title = create(web, owner, "webhook", **{"mapping.severity": "sev"})
    assert "is required" in field_error(no_title.text, "mapping-title")
    bad_labels = create(web, owner, "webhook", **{"mapping.title": "t", "mapping.labels": "tags[x]"})
    assert "invalid path" in field_error(bad_labels.text, "mapping-labels")
    too_many = create(web, owner, "alertmanager", group_by=" ".join(f"l{i}" for i in range(40)))
    assert field_error(too_many.text, "group-by") == "at most 32 names"
    secret = create(web, owner, "sentry", "S", client_secret="x" * 600)
    assert "at most 500" in field_error(secret.text, "client-secret")
    assert "x" * 600 not in secret.text  # a secret is never echoed back
    assert parts.ctx.db.read(lambda c: c.execute("SELECT count(*) FROM integrations").fetchall()) == [(0,)]


def test_rotate_shows_a_new_credential_once_and_the_old_one_stops_working(
    web: TestClient, owner: Member
) -> None:
    first = create(web, owner, "grafana")
    old, ident = shown(first.text, "credential"), integration_id(first.text)
    detail = web.get(f"{BASE}/{ident}").text
    confirm = re.search(r'action="/w/acme/integrations/\d+/rotate"\s+data-confirm="([^"]*)"', detail)
    assert confirm and "The old credential stops working at once" in confirm.group(1)
    rotated = web.post(f"{BASE}/{ident}/rotate", data={"_csrf": owner.csrf})
    assert rotated.status_code == 200 and "New credential for grafana one" in rotated.text
    new = shown(rotated.text, "credential")
    assert new != old
    body = json.loads(shlex.split(shown(rotated.text, "snippet-curl-text"))[-1])
    assert web.post(f"/ingest/{old}", json=body).status_code == 401
    assert web.post(f"/ingest/{new}", json=body).status_code == 200
    assert new not in web.get(f"{BASE}/{ident}").text


def test_revoke_refuses_the_credential_and_removes_the_controls(web: TestClient, owner: Member) -> None:
    page = create(web, owner, "datadog")
    token, ident = shown(page.text, "credential"), integration_id(page.text)
    detail = web.get(f"{BASE}/{ident}").text
    assert re.search(r'action="/w/acme/integrations/\d+/revoke"\s+data-confirm="Revoke', detail)
    revoked = web.post(f"{BASE}/{ident}/revoke", data={"_csrf": owner.csrf}, follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == f"{BASE}/{ident}"
    after = web.get(f"{BASE}/{ident}").text
    assert "Revoked" in after and "/rotate" not in after and "/revoke" not in after
    assert web.post(f"/ingest/{token}", json={"title": "x"}).status_code == 401
    assert web.post(f"{BASE}/{ident}/rotate", data={"_csrf": owner.csrf}).status_code == 400


def test_edit_changes_name_and_settings_and_keeps_a_secret_left_blank(
    web: TestClient, owner: Member, parts: Parts
) -> None:
    ident = integration_id(create(web, owner, "sentry", "Errors", client_secret="s3cret-value").text)
    detail = web.get(f"{BASE}/{ident}").text
    assert "s3cret-value" not in detail and "********" in detail
    saved = web.post(f"{BASE}/{ident}/edit", data={"_csrf": owner.csrf, "name": "Web errors",
                                                   "group_by": "release", "client_secret": ""})
    assert saved.status_code == 200 and "Saved." in saved.text and "Web errors" in saved.text
    settings = parts.ctx.db.read(lambda c: c.execute("SELECT settings FROM integrations").fetchall())[0][0]
    assert json.loads(settings) == {"group_by": ["release"], "client_secret": "s3cret-value"}
    refused = web.post(f"{BASE}/{ident}/edit", data={"_csrf": owner.csrf, "name": ""})
    assert refused.status_code == 400 and field_error(refused.text, "integration-name") == "is required"


def test_editing_a_webhook_mapping_checks_each_path(web: TestClient, owner: Member) -> None:
    ident = integration_id(create(web, owner, "webhook", **LIST_MAPPING).text)
    form = web.get(f"{BASE}/{ident}").text
    assert 'name="mapping.alerts"' in form and 'value="data.items"' in form
    refused = web.post(f"{BASE}/{ident}/edit", data={"_csrf": owner.csrf, "name": "w", **LIST_MAPPING,
                                                     "mapping.dedup_key": "a[b]"})
    assert refused.status_code == 400 and "invalid path" in field_error(refused.text, "mapping-dedup_key")


# ------------------------------------------------------------------ preview


def preview(web: TestClient, owner: Member, sample: str, **mapping: str) -> str:
    response = web.post(f"{BASE}/preview", data={"sample": sample, **mapping},
                        headers={"X-CSRF-Token": owner.csrf, "HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text  # a fragment for htmx to swap in
    return response.text


def test_preview_shows_the_normalized_alerts(web: TestClient, owner: Member) -> None:
    sample = (PAYLOADS / "webhook" / "002-list-of-alerts.json").read_text()
    out = preview(web, owner, sample, **LIST_MAPPING)
    assert "The sample gives 3 alerts" in out
    assert out.count("HTTP /health") == 2 and "TLS expiry" in out
    assert 'class="badge sev-critical"' in out and "http-api" in out and "resolved" in out


def test_preview_names_the_field_that_fails(web: TestClient, owner: Member) -> None:
    missing = (PAYLOADS / "webhook" / "900-missing-title.json").read_text()
    out = preview(web, owner, missing, **LIST_MAPPING)
    assert "<code>data.items[1].check</code>" in out and "is missing or blank" in out
    assert "Sample:" in preview(web, owner, "{nope", **LIST_MAPPING)
    assert "invalid JSON" in preview(web, owner, "{nope", **LIST_MAPPING)
    bad = preview(web, owner, "{}", **{**LIST_MAPPING, "mapping.labels": "tags..x"})
    assert "Mapping, labels:" in bad and "invalid path" in bad
    hostile = preview(web, owner, '{"check": "<script>alert(1)</script>"}', **{"mapping.title": "check"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile and "<script>alert" not in hostile


# ------------------------------------------------------------------ viewers


def test_a_viewer_sees_no_controls_and_every_change_is_refused(
    client: TestClient, owner: Member, viewer: Member
) -> None:
    client.cookies.set("sc_session", owner.session_token)
    ident = integration_id(create(client, owner, "webhook", **{"mapping.title": "t"}).text)
    client.cookies.set("sc_session", viewer.session_token)
    listing = client.get(BASE)
    detail = client.get(f"{BASE}/{ident}")
    assert listing.status_code == 200 and detail.status_code == 200
    assert f"{BASE}/new" not in listing.text
    for control in ("/rotate", "/revoke", "/edit", 'name="mapping.title"', "Preview"):
        assert control not in detail.text, control
    assert client.get(f"{BASE}/new").status_code == 403
    for path in (f"{BASE}/new", f"{BASE}/preview", f"{BASE}/{ident}/edit", f"{BASE}/{ident}/rotate",
                 f"{BASE}/{ident}/revoke"):
        response = client.post(path, data={"_csrf": viewer.csrf, "name": "x", "type": "datadog"})
        assert response.status_code == 403, path


# ------------------------------------------------------------------ raw payloads


def test_raw_payload_page_is_pretty_printed_escaped_and_scoped(
    web: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    page = create(web, owner, "webhook", **{"mapping.title": "title"})
    token, ident = shown(page.text, "credential"), integration_id(page.text)
    other = integration_id(create(web, owner, "webhook", "other", **{"mapping.title": "title"}).text)
    hostile = '<script>alert("x")</script>'
    assert web.post(f"/ingest/{token}", json={"title": hostile, "nested": {"a": [1, 2]}}).status_code == 200
    assert web.post(f"/ingest/{token}", json={"nope": 1}).status_code == 400
    detail = web.get(f"{BASE}/{ident}").text
    assert "Refused" in detail and "title: is missing or blank" in detail
    links = re.findall(rf'href="{BASE}/{ident}/payloads/(\d+)"', detail)
    assert len(links) == 1  # refused payloads are not kept
    payload = web.get(f"{BASE}/{ident}/payloads/{links[0]}")
    assert payload.status_code == 200
    assert "<script>alert" not in payload.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in payload.text or \
        "&lt;script&gt;alert(\\&#34;x\\&#34;)&lt;/script&gt;" in payload.text
    assert '\n  "nested": {\n    "a": [\n      1,' in html.unescape(payload.text)
    # the same raw id through another integration, or another workspace: not found
    assert web.get(f"{BASE}/{other}/payloads/{links[0]}").status_code == 404
    stranger = member(parts.ctx.db, "b@example.com", Role.OWNER, "beta", clock())
    web.cookies.set("sc_session", stranger.session_token)
    assert web.get(f"/w/beta/integrations/{ident}/payloads/{links[0]}").status_code == 404
    assert web.get(f"{BASE}/{ident}/payloads/{links[0]}").status_code == 404


def test_a_sentry_envelope_is_shown_per_document_without_the_dsn_key(web: TestClient, owner: Member) -> None:
    dsn = shown(create(web, owner, "sentry").text, "credential")
    key, project = dsn.split("//", 1)[1].split("@")[0], dsn.rsplit("/", 1)[1]
    envelope = (PAYLOADS / "sentry" / "002-message.envelope").read_bytes().replace(
        b"abcdef0123456789abcdef0123456789", key.encode())
    response = web.post(f"/api/{project}/envelope/", content=gzip.compress(envelope),
                        headers={"Content-Encoding": "gzip", "X-Sentry-Auth": f"Sentry sentry_key={key}"})
    assert response.status_code == 200
    ident = int(project)
    raw_id = re.findall(rf'href="{BASE}/{ident}/payloads/(\d+)"', web.get(f"{BASE}/{ident}").text)[0]
    page = web.get(f"{BASE}/{ident}/payloads/{raw_id}").text
    assert key not in page and "[sentry_key]" in page  # redacted before storage
    assert "Payment provider slow" in page


def test_pretty_payload_keeps_text_that_is_not_json() -> None:
    text, truncated = pretty_payload(b"plain <b>text</b>", "abcdef")
    assert (text, truncated) == ("plain <b>text</b>", False)
    assert pretty_payload(b"x" * 300_000, "abcdef")[1] is True


# ------------------------------------------------------------------ page hygiene


def test_pages_keep_to_the_csp_and_every_post_form_carries_the_csrf_token(
    web: TestClient, owner: Member
) -> None:
    created = create(web, owner, "webhook", **{"mapping.title": "title"})
    ident = integration_id(created.text)
    token = shown(created.text, "credential")
    web.post(f"/ingest/{token}", json={"title": "t"})
    raw = re.findall(r"/payloads/(\d+)", web.get(f"{BASE}/{ident}").text)[0]
    pages = [created.text] + [web.get(p).text for p in (BASE, f"{BASE}/new", f"{BASE}/{ident}",
                                                       f"{BASE}/{ident}/payloads/{raw}")]
    for text in pages:
        assert not re.search(r"\sstyle\s*=", text)
        assert not re.search(r"\son[a-z]+\s*=", text)
        assert not re.search(r"<script(?![^>]*\ssrc=)", text)
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, re.S):
            if 'method="post"' in form:
                assert f'name="_csrf" value="{owner.csrf}"' in form, form[:200]
