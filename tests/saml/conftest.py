"""Fixtures for the SAML tests: one in-process IdP per session, a workspace trusting it."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient
from saml2 import BINDING_HTTP_REDIRECT

from signalcraft.auth import saml
from signalcraft.auth.rbac import Role
from signalcraft.db.queries import sso as sq
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member
from tests.saml.idp import TestIdp

BASE_URL = "http://127.0.0.1:8080"  # the conftest client's base URL, and the default public URL
SLUG = "acme"
URLS = saml.sp_urls(BASE_URL, SLUG)


@pytest.fixture
def clock() -> FakeClock:
    # pysaml2 reads the real clock for validity windows; our own checks take ``now``: keep them aligned.
    return FakeClock(time.time())


@pytest.fixture(scope="session")
def idp(tmp_path_factory: pytest.TempPathFactory) -> TestIdp:
    return TestIdp(tmp_path_factory.mktemp("idp"), saml.sp_metadata_xml(URLS, None))


@pytest.fixture
def configure(parts: Parts, owner: Member, idp: TestIdp, clock: FakeClock) -> Callable[..., sq.SsoSettings]:
    """Store SSO settings for workspace acme trusting the test IdP; keyword arguments override."""
    md = saml.read_idp_metadata(idp.metadata_xml.encode())

    def apply(**changes: object) -> sq.SsoSettings:
        base = sq.SsoSettings(
            workspace_id=owner.workspace.id,
            enabled=True,
            idp_metadata_xml=md.xml,
            idp_entity_id=md.entity_id,
            idp_sso_url=md.sso_url,
            idp_cert_sha256=md.cert_fingerprints,
            email_attribute="email",
            name_attribute="name",
            role_attribute="groups",
            role_map={"ops": Role.RESPONDER, "admins": Role.ADMIN},
            default_role=Role.VIEWER,
            jit_create=True,
            idp_initiated=False,
        )
        settings = replace(base, **changes)  # type: ignore[arg-type]
        parts.ctx.db.write(lambda c: sq.save_sso_settings(c, settings, clock()))
        return settings

    apply()
    return apply


def start_login(client: TestClient, idp: TestIdp) -> str:  # type: ignore[type-arg]
    """SP-initiated: follow our redirect to the IdP and let the IdP parse the AuthnRequest; its id."""
    response = client.get(f"/sso/{SLUG}/login", follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("https://idp.test/sso?")
    saml_request = parse_qs(urlsplit(location).query)["SAMLRequest"][0]
    request = idp.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
    return str(request.message.id)


def fresh(
    idp: TestIdp,
    in_response_to: str | None,
    email: str = "ada@example.com",
    groups: tuple[str, ...] = ("ops",),
) -> ET.Element:
    return idp.unsigned(
        sp_entity_id=URLS.entity_id,
        acs_url=URLS.acs_url,
        in_response_to=in_response_to,
        email=email,
        groups=groups,
    )
