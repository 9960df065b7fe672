"""Invitations: an admin invites an email with a role and gets a one-time link (shown once);
a new person sets a name and password and is signed in; an existing user, signed in with the
invited email, joins with one click; links expire, can be revoked (after confirming) and work
once; every step is in the audit log with before/after."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from signalcraft.auth.invitations import INVITATION_SECONDS
from signalcraft.auth.rbac import Role
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from tests.helpers import PASSWORD, FakeClock, Member, hidden_csrf, member

PAGE = "/w/acme/settings/invitations"
NEW_PASSWORD = "a fresh passphrase 42"


@pytest.fixture
def admin(client: TestClient, owner: Member) -> TestClient:
    client.cookies.set("sc_session", owner.session_token)
    return client


def invite(client: TestClient, who: Member, email: str, role: str = "responder") -> str:
    """The invitation link's path, as shown once on the page."""
    page = client.post(PAGE, data={"_csrf": who.csrf, "email": email, "role": role})
    assert page.status_code == 200, page.text
    found = re.search(r'<code id="invite-link">http://[^/]+(/invite/[A-Za-z0-9_-]+)</code>', page.text)
    assert found, "no invitation link on the page"
    return found.group(1)


def form_csrf(html: str) -> str:
    """The token of the accept form (the signed-in layout's sign-out form has its own)."""
    found = re.search(r'action="/invite/[^"]+">\s*<input type="hidden" name="_csrf" value="([^"]+)"', html)
    assert found, "no accept form on the page"
    return found.group(1)


def accept_as_new(client: TestClient, path: str, name: str = "Nia", password: str = NEW_PASSWORD) -> object:
    client.cookies.delete("sc_session")
    page = client.get(path)
    if page.status_code != 200:
        return page
    csrf = hidden_csrf(page.text)
    return client.post(path, data={"_csrf": csrf, "name": name, "password": password,
                                   "password_confirm": password}, follow_redirects=False)


def test_a_new_person_sets_a_password_and_joins_with_the_invited_role(
    admin: TestClient, owner: Member, parts: Parts
) -> None:
    path = invite(admin, owner, "nia@example.com", "responder")
    assert "nia@example.com" in admin.get(PAGE).text  # listed as pending
    assert path not in admin.get(PAGE).text  # the link is shown once only
    page = (admin.cookies.delete("sc_session"), admin.get(path))[1]
    assert "Join Acme" in page.text and "responder" in page.text and 'name="password"' in page.text
    joined = accept_as_new(admin, path)
    assert joined.status_code == 303 and joined.headers["location"] == "/w/acme/"  # type: ignore[attr-defined]
    assert admin.get("/w/acme/").status_code == 200  # signed in as the new user
    user = parts.ctx.db.read(lambda c: q.user_by_email(c, "nia@example.com"))
    assert user is not None and user.name == "Nia"
    assert parts.ctx.db.read(lambda c: q.role_in(c, user.id, owner.workspace.id)) is Role.RESPONDER
    assert admin.get(path).status_code == 404  # works once
    entries = parts.ctx.db.read(lambda c: audit.entries(c, owner.workspace.id, action_prefix="invitation."))
    assert {e.action for e in entries} == {"invitation.create", "invitation.accept"}
    accepted = next(e for e in entries if e.action == "invitation.accept")
    assert accepted.detail == {"before": {"role": None}, "after": {"role": "responder"}}
    created = next(e for e in entries if e.action == "invitation.create")
    assert created.detail["after"]["email"] == "nia@example.com" and created.detail["before"] == {}


def test_the_accept_form_shows_errors_next_to_their_fields(admin: TestClient, owner: Member) -> None:
    path = invite(admin, owner, "nia@example.com")
    short = accept_as_new(admin, path, password="short")
    assert short.status_code == 400  # type: ignore[attr-defined]
    assert re.search(r'id="invite-password-error">[^<]+', short.text)  # type: ignore[attr-defined]
    nameless = accept_as_new(admin, path, name="")
    assert nameless.status_code == 400 and 'id="invite-name-error"' in nameless.text  # type: ignore[attr-defined]


def test_an_existing_user_signed_in_with_that_email_joins_with_one_click(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    other = member(parts.ctx.db, "sam@example.com", Role.OWNER, "other", clock())
    client.cookies.set("sc_session", owner.session_token)
    path = invite(client, owner, "sam@example.com", "viewer")
    client.cookies.set("sc_session", other.session_token)
    page = client.get(path).text
    assert "Join Acme" in page and 'name="password"' not in page
    joined = client.post(path, data={"_csrf": form_csrf(page)}, follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"] == "/w/acme/"
    assert parts.ctx.db.read(lambda c: q.role_in(c, other.user.id, owner.workspace.id)) is Role.VIEWER
    # the workspace switcher now offers both workspaces
    home = client.get("/w/acme/").text
    start = home.index('class="menu ws-switcher"')
    switcher = home[start:home.index("</details>", start)]
    assert 'href="/w/acme/"' in switcher and 'href="/w/other/"' in switcher


def test_someone_else_signed_in_is_told_and_cannot_accept(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    stranger = member(parts.ctx.db, "eve@example.com", Role.OWNER, "other", clock())
    client.cookies.set("sc_session", owner.session_token)
    path = invite(client, owner, "sam@example.com")
    client.cookies.set("sc_session", stranger.session_token)
    page = client.get(path).text
    assert "You are signed in as eve@example.com" in page
    refused = client.post(path, data={"_csrf": client.cookies.get("sc_csrf")}, follow_redirects=False)
    assert refused.status_code == 403 and "this invitation is for sam@example.com" in refused.text
    assert parts.ctx.db.read(lambda c: q.role_in(c, stranger.user.id, owner.workspace.id)) is None


def test_a_signed_out_existing_user_is_sent_to_sign_in_first(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    member(parts.ctx.db, "sam@example.com", Role.OWNER, "other", clock())
    client.cookies.set("sc_session", owner.session_token)
    path = invite(client, owner, "sam@example.com")
    client.cookies.delete("sc_session")
    page = client.get(path).text
    assert f'href="/login?next={path}"' in page and 'name="password"' not in page
    csrf = hidden_csrf(client.get("/login").text)
    signed = client.post("/login", data={"_csrf": csrf, "email": "sam@example.com", "password": PASSWORD,
                                         "next": path}, follow_redirects=False)
    assert signed.headers["location"] == path


def test_an_expired_or_revoked_link_is_refused(
    admin: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    expired = invite(admin, owner, "old@example.com")
    revoked = invite(admin, owner, "gone@example.com")
    page = admin.get(PAGE).text
    form = re.search(r'<form method="post" action="(/w/acme/settings/invitations/\d+/revoke)"\s+'
                     r'data-confirm="Revoke the invitation for gone@example.com', page)
    assert form, "revoke asks for confirmation"
    assert admin.post(form.group(1), data={"_csrf": owner.csrf}, follow_redirects=False).status_code == 303
    assert "gone@example.com" not in admin.get(PAGE).text
    assert accept_as_new(admin, revoked).status_code == 404  # type: ignore[attr-defined]
    clock.advance(INVITATION_SECONDS + 1)
    assert admin.get(expired).status_code == 404
    assert accept_as_new(admin, expired).status_code == 404  # type: ignore[attr-defined]
    assert parts.ctx.db.read(lambda c: q.user_by_email(c, "old@example.com")) is None
    entries = parts.ctx.db.read(
        lambda c: audit.entries(c, owner.workspace.id, action_prefix="invitation.revoke"))
    assert [e.detail for e in entries] == [{"before": {"status": "pending"}, "after": {"status": "revoked"}}]


def test_a_new_invitation_replaces_the_pending_one_for_the_same_email(
    admin: TestClient, owner: Member
) -> None:
    first = invite(admin, owner, "nia@example.com")
    second = invite(admin, owner, "nia@example.com", "viewer")
    assert admin.get(PAGE).text.count('<span class="cell-primary">nia@example.com</span>') == 1
    assert accept_as_new(admin, first).status_code == 404  # type: ignore[attr-defined]
    assert accept_as_new(admin, second).status_code == 303  # type: ignore[attr-defined]


def test_bad_input_is_refused_next_to_the_field(
    admin: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    bad = admin.post(PAGE, data={"_csrf": owner.csrf, "email": "not-an-email", "role": "viewer"})
    assert bad.status_code == 400 and 'id="invite-email-error"' in bad.text
    member(parts.ctx.db, "in@example.com", Role.VIEWER, "acme", clock())
    taken = admin.post(PAGE, data={"_csrf": owner.csrf, "email": "in@example.com", "role": "viewer"})
    assert taken.status_code == 409 and "already a member" in taken.text


def test_an_admin_cannot_invite_an_owner_and_a_viewer_cannot_invite_at_all(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    admin_member = member(parts.ctx.db, "adm@example.com", Role.ADMIN, "acme", clock())
    client.cookies.set("sc_session", admin_member.session_token)
    page = client.get(PAGE).text
    assert '<option value="owner"' not in page
    refused = client.post(PAGE, data={"_csrf": admin_member.csrf, "email": "x@example.com", "role": "owner"})
    assert refused.status_code == 403 and 'id="invite-role-error"' in refused.text
    viewer = member(parts.ctx.db, "v@example.com", Role.VIEWER, "acme", clock())
    client.cookies.set("sc_session", viewer.session_token)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data={"_csrf": viewer.csrf, "email": "x@example.com",
                                   "role": "viewer"}).status_code == 403
