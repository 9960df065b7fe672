"""Accounts end to end through HTTP: first-run setup, sign-in and its throttling, sessions
and their expiry, password change and reset links, API keys, members, audit log."""

from __future__ import annotations

import re

import orjson
from litestar.testing import TestClient

from signalcraft.auth import service
from signalcraft.auth.rbac import Role
from signalcraft.auth.secrets import token_hash
from signalcraft.config import Settings
from signalcraft.db.connection import scalar
from signalcraft.db.queries import accounts as q
from signalcraft.runtime import Parts, announce_setup
from tests.helpers import PASSWORD, FakeClock, Member, hidden_csrf, member


def login(client: TestClient, email: str, password: str, next_url: str = "/"):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "next": next_url, "_csrf": hidden_csrf(page.text)},
        follow_redirects=False,
    )


def test_first_run_setup_link_creates_the_admin_and_works_once(client: TestClient, parts: Parts) -> None:
    url = announce_setup(parts)
    assert url is not None
    path = url.split("8080", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and 'name="workspace_slug"' in page.text
    form = {
        "name": "Ada",
        "email": "ada@example.com",
        "password": "a long passphrase",
        "password_confirm": "a long passphrase",
        "workspace_name": "Ops",
        "workspace_slug": "ops",
        "_csrf": hidden_csrf(page.text),
    }
    done = client.post(path, data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/w/ops/"
    home = client.get("/w/ops/")
    assert home.status_code == 200 and "Ops" in home.text
    assert client.get(path).status_code == 404  # used up
    assert announce_setup(parts) is None  # the instance has a user now: no new link


def test_setup_form_errors_are_shown_next_to_the_field(client: TestClient, parts: Parts) -> None:
    path = announce_setup(parts).split("8080", 1)[1]  # type: ignore[union-attr]
    page = client.get(path)
    bad = client.post(
        path,
        data={
            "name": "A",
            "email": "ada@example.com",
            "password": "short",
            "password_confirm": "short",
            "workspace_name": "Ops",
            "workspace_slug": "ops",
            "_csrf": hidden_csrf(page.text),
        },
    )
    assert bad.status_code == 400 and "at least 10 characters" in bad.text
    assert parts.ctx.db.read(q.count_users) == 0


def test_sign_in_issues_a_new_session_with_safe_cookie_flags(client: TestClient, owner: Member) -> None:
    tokens = set()
    for _ in range(2):
        client.cookies.clear()
        response = login(client, owner.user.email, PASSWORD, "/w/acme/settings/members")
        assert response.status_code == 303 and response.headers["location"] == "/w/acme/settings/members"
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("sc_session="))
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
        tokens.add(re.search(r"sc_session=([^;]+)", cookie).group(1))  # type: ignore[union-attr]
    assert len(tokens) == 2 and owner.session_token not in tokens


def test_cookies_are_secure_behind_a_trusted_tls_proxy(settings: Settings, clock: FakeClock) -> None:
    import asyncio
    from dataclasses import replace

    import httpx

    from signalcraft.config import with_overrides
    from signalcraft.runtime import build

    parts = build(
        with_overrides(settings, server=replace(settings.server, trusted_proxies=("10.0.0.0/8",))),
        clock=clock,
    )
    parts.ctx.db.open()
    owner = member(parts.ctx.db, "owner@example.com", Role.OWNER, "acme", clock())

    async def scenario(peer: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=parts.app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://alerts.example") as client:
            headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
            page = await client.get("/login", headers=headers)
            # the pre-session cookie may be Secure; send it back by hand over this plain-http transport
            headers["Cookie"] = f"sc_csrf={page.cookies['sc_csrf']}"
            return await client.post(
                "/login",
                headers=headers,
                data={
                    "email": owner.user.email,
                    "password": PASSWORD,
                    "next": "/",
                    "_csrf": hidden_csrf(page.text),
                },
            )

    via_proxy = asyncio.run(scenario("10.1.2.3"))
    cookie = next(c for c in via_proxy.headers.get_list("set-cookie") if c.startswith("sc_session="))
    assert "Secure" in cookie and "strict-transport-security" in via_proxy.headers
    # the audit log has the client's address from X-Forwarded-For, not the proxy's
    assert (
        parts.ctx.db.read(
            lambda c: scalar(
                c, "SELECT ip FROM audit_log WHERE action = 'login.success' ORDER BY id DESC LIMIT 1"
            )
        )
        == "203.0.113.9"
    )
    # an untrusted peer cannot claim TLS or another address
    direct = asyncio.run(scenario("192.0.2.7"))
    cookie = next(c for c in direct.headers.get_list("set-cookie") if c.startswith("sc_session="))
    assert "Secure" not in cookie and "strict-transport-security" not in direct.headers
    assert (
        parts.ctx.db.read(
            lambda c: scalar(
                c, "SELECT ip FROM audit_log WHERE action = 'login.success' ORDER BY id DESC LIMIT 1"
            )
        )
        == "192.0.2.7"
    )
    parts.ctx.db.close()


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient, owner: Member
) -> None:
    wrong = login(client, owner.user.email, "not the password")
    unknown = login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password" in wrong.text and "Wrong email or password" in unknown.text


def test_sign_in_is_throttled_per_account(client: TestClient, owner: Member, parts: Parts) -> None:
    limit = parts.ctx.settings.auth.login_max_failures_per_account
    for _ in range(limit):
        assert login(client, owner.user.email, "nope").status_code == 401
    blocked = login(client, owner.user.email, PASSWORD)  # even the right password waits
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def test_sign_in_throttling_ends_after_the_window(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    for _ in range(parts.ctx.settings.auth.login_max_failures_per_account):
        login(client, owner.user.email, "nope")
    clock.advance(parts.ctx.settings.auth.login_window_minutes * 60 + 1)
    assert login(client, owner.user.email, PASSWORD).status_code == 303


def test_sign_in_is_throttled_per_address(client: TestClient, parts: Parts) -> None:
    for n in range(parts.ctx.settings.auth.login_max_failures_per_ip):
        login(client, f"guess{n}@example.com", "nope")
    assert login(client, "another@example.com", "nope").status_code == 429


def test_an_idle_session_expires(client: TestClient, owner: Member, parts: Parts, clock: FakeClock) -> None:
    client.cookies.set("sc_session", owner.session_token)
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(parts.ctx.settings.auth.session_idle_minutes * 60 + 1)
    response = client.get("/w/acme/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/api/v1/me").status_code == 401


def test_an_active_session_still_ends_at_its_absolute_expiry(
    client: TestClient, parts: Parts, clock: FakeClock, owner: Member
) -> None:
    signed = login(client, owner.user.email, PASSWORD)
    assert signed.status_code == 303
    hours = parts.ctx.settings.auth.session_absolute_hours
    step = parts.ctx.settings.auth.session_idle_minutes * 60 / 2
    for _ in range(int(hours * 3600 / step) + 1):
        clock.advance(step)
        last = client.get("/api/v1/me")
    assert last.status_code == 401


def test_sign_out_ends_the_session(client: TestClient, owner: Member) -> None:
    client.cookies.set("sc_session", owner.session_token)
    out = client.post("/logout", data={"_csrf": owner.csrf}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("sc_session", owner.session_token)
    assert client.get("/api/v1/me").status_code == 401


def test_changing_the_password_ends_every_session(client: TestClient, owner: Member, parts: Parts) -> None:
    client.cookies.set("sc_session", owner.session_token)
    bad = client.post(
        "/account/password",
        data={
            "current_password": "wrong",
            "new_password": "x" * 12,
            "new_password_confirm": "x" * 12,
            "_csrf": owner.csrf,
        },
    )
    assert bad.status_code == 400 and "not your current password" in bad.text
    ok = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a new passphrase",
            "new_password_confirm": "a new passphrase",
            "_csrf": owner.csrf,
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert client.get("/api/v1/me").status_code == 401
    assert login(client, owner.user.email, "a new passphrase").status_code == 303


def test_an_admin_issued_reset_link_sets_a_password_once(
    client: TestClient, owner: Member, parts: Parts
) -> None:
    client.cookies.set("sc_session", owner.session_token)
    added = client.post(
        "/api/v1/workspaces/acme/members",
        json={"email": "new@example.com", "role": "responder"},
        headers={"X-CSRF-Token": owner.csrf},
    )
    assert added.status_code == 201, added.text
    link = added.json()["reset_link"]
    path = link.split("8080", 1)[1]
    client.cookies.clear()
    page = client.get(path)
    assert page.status_code == 200 and "new@example.com" in page.text
    done = client.post(
        path,
        data={
            "password": "fresh passphrase",
            "password_confirm": "fresh passphrase",
            "_csrf": hidden_csrf(page.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get(path).status_code == 404
    assert login(client, "new@example.com", "fresh passphrase").status_code == 303


def test_an_expired_reset_link_is_refused(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    from signalcraft.db.queries import audit

    token = parts.ctx.db.write(
        lambda c: service.issue_reset_link(c, parts.ctx.settings.auth, owner.user.id, audit.CLI, clock())
    )
    clock.advance(parts.ctx.settings.auth.reset_link_hours * 3600 + 1)
    assert client.get(f"/reset/{token}").status_code == 404


def test_api_key_is_shown_once_stored_hashed_and_works_until_revoked(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    client.cookies.set("sc_session", owner.session_token)
    created = client.post(
        "/api/v1/workspaces/acme/api-keys",
        json={"name": "ci", "role": "responder"},
        headers={"X-CSRF-Token": owner.csrf},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key, key_id = body["key"], body["api_key"]["id"]
    assert key.startswith(body["api_key"]["prefix"] + "_")
    listed = client.get("/api/v1/workspaces/acme/api-keys").json()
    assert key not in orjson.dumps(listed).decode()
    stored = parts.ctx.db.read(lambda c: scalar(c, "SELECT key_hash FROM api_keys WHERE id = ?", (key_id,)))
    assert stored == token_hash(key) and key not in stored
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/workspaces/acme/members", headers=auth).status_code == 200
    last_used = parts.ctx.db.read(
        lambda c: scalar(c, "SELECT last_used_at FROM api_keys WHERE id = ?", (key_id,))
    )
    assert last_used == clock()
    client.cookies.set("sc_session", owner.session_token)
    assert (
        client.delete(
            f"/api/v1/workspaces/acme/api-keys/{key_id}", headers={"X-CSRF-Token": owner.csrf}
        ).status_code
        == 204
    )
    client.cookies.clear()
    revoked = client.get("/api/v1/workspaces/acme/members", headers=auth)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]


def test_an_expired_api_key_is_refused(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    from signalcraft.db.queries import audit

    new = parts.ctx.db.write(
        lambda c: service.create_api_key(
            c, owner.workspace.id, "tmp", Role.VIEWER, audit.CLI, clock(), clock() + 60
        )
    )
    auth = {"Authorization": f"Bearer {new.key}"}
    assert client.get("/api/v1/workspaces/acme/", headers=auth).status_code == 200
    clock.advance(61)
    assert client.get("/api/v1/workspaces/acme/", headers=auth).status_code == 401


def test_malformed_bearer_values_get_401_not_500(client: TestClient) -> None:
    for value in ("Bearer", "Bearer x", "Basic abc", "Bearer sck_short_x", "Bearer " + "a" * 5000):
        assert client.get("/api/v1/workspaces/acme/", headers={"Authorization": value}).status_code == 401


def test_api_validation_errors_name_the_field(client: TestClient, owner: Member) -> None:
    client.cookies.set("sc_session", owner.session_token)
    bad = client.post(
        "/api/v1/workspaces/acme/api-keys",
        json={"name": "x", "role": "owner"},
        headers={"X-CSRF-Token": owner.csrf},
    )
    assert bad.status_code == 400
    bad = client.post(
        "/api/v1/workspaces/acme/members",
        json={"email": "x@example.com", "role": "emperor"},
        headers={"X-CSRF-Token": owner.csrf},
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"]


def test_an_admin_cannot_make_an_owner_and_the_last_owner_stays(
    client: TestClient, parts: Parts, clock: FakeClock, owner: Member
) -> None:
    admin = member(parts.ctx.db, "admin@example.com", Role.ADMIN, "acme", clock())
    client.cookies.set("sc_session", admin.session_token)
    refused = client.patch(
        f"/api/v1/workspaces/acme/members/{admin.user.id}",
        json={"role": "owner"},
        headers={"X-CSRF-Token": admin.csrf},
    )
    assert refused.status_code == 403
    client.cookies.set("sc_session", owner.session_token)
    last = client.patch(
        f"/api/v1/workspaces/acme/members/{owner.user.id}",
        json={"role": "viewer"},
        headers={"X-CSRF-Token": owner.csrf},
    )
    assert last.status_code == 409 and "at least one owner" in last.json()["error"]["message"]


def test_changes_and_sign_ins_are_in_the_audit_log(client: TestClient, owner: Member) -> None:
    login(client, owner.user.email, "wrong")
    client.cookies.set("sc_session", owner.session_token)
    client.post(
        "/api/v1/workspaces/acme/api-keys",
        json={"name": "ci", "role": "viewer"},
        headers={"X-CSRF-Token": owner.csrf},
    )
    entries = client.get("/api/v1/workspaces/acme/audit").json()
    actions = [e["action"] for e in entries]
    assert "apikey.create" in actions
    created = next(e for e in entries if e["action"] == "apikey.create")
    assert created["actor"] == owner.user.email and created["ip"]
    assert created["detail"]["after"]["role"] == "viewer"
    export = client.get("/w/acme/settings/audit.jsonl")
    assert export.status_code == 200
    assert all(orjson.loads(line)["action"] for line in export.text.splitlines())


def test_every_html_page_renders_for_an_owner(client: TestClient, owner: Member) -> None:
    client.cookies.set("sc_session", owner.session_token)
    for path in (
        "/w/acme/",
        "/w/acme/settings/members",
        "/w/acme/settings/api-keys",
        "/w/acme/settings/audit",
        "/account/password",
        "/api/docs",
    ):
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        assert 'name="csrf-token"' in response.text


def test_members_page_creates_a_member_and_shows_the_link_once(client: TestClient, owner: Member) -> None:
    client.cookies.set("sc_session", owner.session_token)
    page = client.post(
        "/w/acme/settings/members",
        data={"email": "bob@example.com", "name": "Bob", "role": "viewer", "_csrf": owner.csrf},
    )
    assert page.status_code == 200 and "/reset/" in page.text and "bob@example.com" in page.text
    again = client.get("/w/acme/settings/members")
    assert "/reset/" not in again.text


def test_session_token_is_stored_hashed(parts: Parts, owner: Member) -> None:
    found = parts.ctx.db.read(
        lambda c: scalar(
            c, "SELECT count(*) FROM sessions WHERE token_hash = ?", (token_hash(owner.session_token),)
        )
    )
    raw = parts.ctx.db.read(
        lambda c: scalar(c, "SELECT count(*) FROM sessions WHERE token_hash = ?", (owner.session_token,))
    )
    assert (found, raw) == (1, 0)


def test_me_answers_for_an_api_key_too(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    from signalcraft.db.queries import audit

    new = parts.ctx.db.write(
        lambda c: service.create_api_key(
            c, owner.workspace.id, "ci", Role.RESPONDER, audit.CLI, clock(), None
        )
    )
    body = client.get("/api/v1/me", headers={"Authorization": f"Bearer {new.key}"}).json()
    assert body["api_key"]["role"] == "responder" and body["workspaces"][0]["slug"] == "acme"
    assert new.key not in str(body)
