"""SSO-only enforcement with a break-glass owner, IdP metadata intake, the SP endpoints and the
owner's settings page."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from litestar.testing import TestClient

from signalcraft.auth import saml
from signalcraft.auth.rbac import Role
from signalcraft.auth.saml_policy import password_login_allowed
from signalcraft.db.queries import sso as sq
from signalcraft.errors import InvalidInput
from signalcraft.notify.http import OutboundHttp
from signalcraft.runtime import Parts
from tests.conftest import signed_in
from tests.helpers import FakeClock, Member, free_port, member
from tests.saml.conftest import SLUG
from tests.saml.idp import IDP_ENTITY, TestIdp

Client = TestClient  # type: ignore[type-arg]


def allowed(parts: Parts, who: Member) -> bool:
    return parts.ctx.db.read(lambda c: password_login_allowed(c, who.user.id))


def test_without_sso_only_everyone_may_use_a_password(
    configure: Callable[..., object], parts: Parts, owner: Member, clock: FakeClock
) -> None:
    viewer = member(parts.ctx.db, "v@example.com", Role.VIEWER, SLUG, clock())
    assert allowed(parts, owner) and allowed(parts, viewer)


def test_sso_only_refuses_passwords_for_members_but_not_for_the_break_glass_owner(
    configure: Callable[..., object], parts: Parts, owner: Member, clock: FakeClock
) -> None:
    viewer = member(parts.ctx.db, "v@example.com", Role.VIEWER, SLUG, clock())
    other_owner = member(parts.ctx.db, "o2@example.com", Role.OWNER, SLUG, clock())
    outsider = member(parts.ctx.db, "x@example.com", Role.VIEWER, "elsewhere", clock())
    configure(sso_only=True, break_glass_user_id=owner.user.id)
    assert allowed(parts, owner)
    assert not allowed(parts, viewer)
    assert not allowed(parts, other_owner)
    assert allowed(parts, outsider)


def test_a_break_glass_account_that_is_no_longer_an_owner_loses_the_exception(
    configure: Callable[..., object], parts: Parts, owner: Member, clock: FakeClock
) -> None:
    configure(sso_only=True, break_glass_user_id=owner.user.id)
    member(parts.ctx.db, owner.user.email, Role.ADMIN, SLUG, clock())  # demoted
    assert not allowed(parts, owner)


def test_sso_only_in_a_disabled_configuration_does_not_apply(
    configure: Callable[..., object], parts: Parts, owner: Member, clock: FakeClock
) -> None:
    viewer = member(parts.ctx.db, "v@example.com", Role.VIEWER, SLUG, clock())
    configure(sso_only=True, break_glass_user_id=owner.user.id, enabled=False)
    assert allowed(parts, viewer)


def test_an_idp_of_one_workspace_cannot_sign_in_a_member_of_another(
    configure: Callable[..., object], client: Client, parts: Parts, idp: TestIdp, clock: FakeClock
) -> None:
    from tests.saml.test_acs import assert_rejected, fresh, start_login

    outsider = member(parts.ctx.db, "x@example.com", Role.ADMIN, "elsewhere", clock())
    root = fresh(idp, start_login(client, idp), email=outsider.user.email)
    assert_rejected(parts, client, idp.sign(root), "does not trust this IdP")


# --- metadata and endpoints ------------------------------------------------------------------


def test_the_sp_metadata_names_the_entity_id_and_the_acs(
    configure: Callable[..., object], client: Client
) -> None:
    response = client.get(f"/sso/{SLUG}/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    assert 'entityID="http://127.0.0.1:8080/sso/acme/metadata"' in response.text
    assert "http://127.0.0.1:8080/sso/acme/acs" in response.text
    assert 'WantAssertionsSigned="true"' in response.text


def test_sp_metadata_and_login_of_a_workspace_without_sso_are_not_found(
    client: Client, owner: Member
) -> None:
    assert client.get(f"/sso/{SLUG}/metadata").status_code == 404
    assert client.get(f"/sso/{SLUG}/login", follow_redirects=False).status_code == 404


def test_idp_metadata_with_a_dtd_is_refused(idp: TestIdp) -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + idp.metadata_xml.encode().split(b"?>", 1)[-1]
    with pytest.raises(InvalidInput, match="forbidden XML construct"):
        saml.read_idp_metadata(bomb)


def test_idp_metadata_pins_the_signing_certificate(idp: TestIdp) -> None:
    md = saml.read_idp_metadata(idp.metadata_xml.encode())
    assert md.entity_id == IDP_ENTITY
    assert saml.pinned_certs(sq.SsoSettings(0, idp_metadata_xml=md.xml, idp_entity_id=md.entity_id)) == {
        idp.keys.cert_b64
    }


class _Metadata(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.end_headers()
        self.wfile.write(_Metadata.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metadata_url(idp: TestIdp) -> Iterator[str]:
    _Metadata.body = idp.metadata_xml.encode()
    server = HTTPServer(("127.0.0.1", free_port()), _Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/idp.xml"
    finally:
        server.shutdown()
        server.server_close()


async def _fetch(url: str) -> saml.IdpMetadata:
    http = OutboundHttp(policy=saml.IDP_METADATA_POLICY, timeout=2.0)
    try:
        return await saml.fetch_idp_metadata(http, url)
    finally:
        await http.aclose()


def test_idp_metadata_is_fetched_through_the_outbound_client_from_a_private_address(
    metadata_url: str,
) -> None:
    assert asyncio.run(_fetch(metadata_url)).entity_id == IDP_ENTITY


def test_a_metadata_url_at_a_cloud_metadata_address_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not allowed"):
        asyncio.run(_fetch("http://169.254.169.254/latest/meta-data"))


def test_the_owner_configures_sso_by_fetching_metadata_from_a_url(
    client: Client, parts: Parts, owner: Member, metadata_url: str
) -> None:
    signed_in(client, owner)
    page = client.get(f"/w/{SLUG}/settings/sso")
    assert page.status_code == 200
    response = client.post(
        f"/w/{SLUG}/settings/sso",
        data={
            "_csrf": owner.csrf,
            "metadata_url": metadata_url,
            "fetch": "1",
            "enabled": "1",
            "email_attribute": "email",
            "role_attribute": "groups",
            "role_map": "ops=responder",
            "default_role": "viewer",
            "sso_only": "1",
            "break_glass_user_id": str(owner.user.id),
        },
    )
    assert response.status_code == 200, response.text
    saved = parts.ctx.db.read(lambda c: sq.sso_settings(c, owner.workspace.id))
    assert saved is not None and saved.enabled and saved.idp_entity_id == IDP_ENTITY
    assert saved.role_map == {"ops": Role.RESPONDER} and saved.break_glass_user_id == owner.user.id


def test_sso_only_without_a_break_glass_owner_is_refused(client: Client, owner: Member, idp: TestIdp) -> None:
    signed_in(client, owner)
    response = client.post(
        f"/w/{SLUG}/settings/sso",
        data={
            "_csrf": owner.csrf,
            "metadata_xml": idp.metadata_xml,
            "enabled": "1",
            "email_attribute": "email",
            "default_role": "viewer",
            "sso_only": "1",
        },
    )
    assert response.status_code == 400
    assert "break-glass" in response.text


def test_an_admin_cannot_open_the_sso_settings(
    client: Client, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    admin = member(parts.ctx.db, "a@example.com", Role.ADMIN, SLUG, clock())
    signed_in(client, admin)
    assert client.get(f"/w/{SLUG}/settings/sso").status_code == 403
