"""SAML 2.0 single sign-on per workspace (pysaml2 + the ``xmlsec1`` binary).

The SP of workspace ``<slug>`` is ``<base_url>/sso/<slug>/metadata`` with its assertion
consumer at ``<base_url>/sso/<slug>/acs``. The IdP is whatever metadata the workspace owner
uploaded or fetched; its signing certificate(s) in that metadata are the only keys trusted.

A response is accepted only when, in this order:

1. it parses under defusedxml (no DTD, entities or external references; size-capped);
2. its ``InResponseTo`` names a request this SP issued and has not used, or it has none and
   IdP-initiated login is on for the workspace;
3. pysaml2 verifies it: the Response **and** the Assertion signed by a pinned certificate,
   audience, destination, recipient, validity window (``SKEW_SECONDS`` of clock skew);
4. :func:`signalcraft.auth.saml_xml.check_shape` finds exactly one self-signed Assertion in a
   self-signed Response (signature wrapping), and it is the one pysaml2 picked; it also
   re-checks audience, recipient, destination, issuer and the time window against ``now``;
5. in one write transaction: the request id is consumed, the assertion id is recorded
   (a replay is refused), the user is found or created (JIT), and a session opens.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import apsw

from signalcraft.auth.rbac import RANK, Role
from signalcraft.auth.saml_xml import (
    EMAIL_FORMAT,
    CheckedAssertion,
    Expectations,
    SamlRejected,
    check_shape,
    decode_post,
    parse_untrusted,
    response_in_response_to,
)
from signalcraft.auth.secrets import new_token, token_hash
from signalcraft.config import Settings
from signalcraft.db import Database
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.db.queries import sso as sq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.notify.http import PROBE_POLICY, OutboundHttp, OutboundRefused, OutboundTrouble

if TYPE_CHECKING:
    from saml2.config import SPConfig

__all__ = ["SamlRejected", "SsoLogin", "consume_response", "start_login"]

# pysaml2 (and the XML schema machinery it loads) costs about a second to import: it is
# imported on first use, so a process that never sees SSO starts without it. The binding
# names are the SAML 2.0 URNs (saml2.BINDING_HTTP_POST / BINDING_HTTP_REDIRECT).
BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

SKEW_SECONDS = 90.0
REQUEST_SECONDS = 600.0  # how long an SP-initiated login may take at the IdP
# IdPs are often internal (Keycloak, ADFS on the LAN): private addresses are allowed, cloud
# metadata endpoints are not.
IDP_METADATA_POLICY = PROBE_POLICY
SSO_ROLES = (Role.ADMIN, Role.RESPONDER, Role.VIEWER)  # an IdP never makes an owner


def xmlsec_binary() -> str:
    return shutil.which("xmlsec1") or "/usr/bin/xmlsec1"


@dataclass(frozen=True, slots=True)
class SpUrls:
    entity_id: str
    acs_url: str
    login_url: str


def sp_urls(base_url: str, slug: str) -> SpUrls:
    root = f"{base_url.rstrip('/')}/sso/{slug}"
    return SpUrls(f"{root}/metadata", f"{root}/acs", f"{root}/login")


def sp_config(urls: SpUrls, sso: sq.SsoSettings | None) -> SPConfig:
    """pysaml2's SP configuration for one workspace (never signs; always wants both signatures)."""
    conf: dict[str, Any] = {
        "entityid": urls.entity_id,
        "xmlsec_binary": xmlsec_binary(),
        "accepted_time_diff": int(SKEW_SECONDS),
        "only_use_keys_in_metadata": True,  # never a key from the message itself
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(urls.acs_url, BINDING_HTTP_POST)]},
                "want_response_signed": True,
                "want_assertions_signed": True,
                "want_assertions_or_response_signed": True,
                "authn_requests_signed": False,
                "allow_unsolicited": bool(sso and sso.idp_initiated),
                "name_id_format_allow_create": True,
            }
        },
    }
    if sso is not None and sso.idp_metadata_xml:
        conf["metadata"] = {"inline": [sso.idp_metadata_xml]}
    from saml2.config import SPConfig

    config = SPConfig()
    config.load(conf)
    return config


def sp_metadata_xml(urls: SpUrls, sso: sq.SsoSettings | None) -> str:
    from saml2.metadata import entity_descriptor

    without_idp = None if sso is None else replace(sso, idp_metadata_xml="")
    return str(entity_descriptor(sp_config(urls, without_idp)))


# --- IdP metadata -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdpMetadata:
    xml: str
    entity_id: str
    sso_url: str
    cert_fingerprints: str  # sha256 of each pinned signing certificate, comma-separated


def read_idp_metadata(data: bytes) -> IdpMetadata:
    """Validate uploaded or fetched IdP metadata: one IdP, a redirect SSO URL, a signing cert."""
    try:
        parse_untrusted(data)
    except SamlRejected as exc:
        raise InvalidInput(f"the metadata is not acceptable XML: {exc.reason}", field="metadata") from None
    xml = data.decode("utf-8", errors="strict")
    try:
        mds = sp_config(
            SpUrls("urn:probe", "urn:probe", "urn:probe"),
            sq.SsoSettings(workspace_id=0, idp_metadata_xml=xml),
        ).metadata
        idps = list(mds.identity_providers())
    except Exception as exc:  # pysaml2 raises many unrelated types for bad metadata
        raise InvalidInput(
            f"the metadata could not be read ({type(exc).__name__})", field="metadata"
        ) from None
    if len(idps) != 1:
        raise InvalidInput("the metadata must describe exactly one identity provider", field="metadata")
    entity_id = idps[0]
    certs = [c for _, c in mds.certs(entity_id, "idpsso", "signing")]
    if not certs:
        raise InvalidInput("the metadata has no signing certificate to pin", field="metadata")
    services = mds.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT)
    if not services:
        raise InvalidInput("the metadata has no HTTP-Redirect SingleSignOnService", field="metadata")
    prints = ",".join(hashlib.sha256(base64.b64decode("".join(c.split()))).hexdigest() for c in certs)
    return IdpMetadata(xml, entity_id, services[0]["location"], prints)


def pinned_certs(sso: sq.SsoSettings) -> frozenset[str]:
    mds = sp_config(SpUrls("urn:probe", "urn:probe", "urn:probe"), sso).metadata
    return frozenset("".join(c.split()) for _, c in mds.certs(sso.idp_entity_id, "idpsso", "signing"))


async def fetch_idp_metadata(http: OutboundHttp, url: str) -> IdpMetadata:
    """Fetch metadata through the one outbound client (see :data:`IDP_METADATA_POLICY`)."""
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("must be an http(s) URL", field="metadata_url")
    try:
        result = await http.request("GET", url, headers={"Accept": "application/samlmetadata+xml"})
    except (OutboundRefused, OutboundTrouble) as exc:
        raise InvalidInput(f"could not fetch the metadata: {exc}", field="metadata_url") from None
    if result.status != 200:
        raise InvalidInput(f"the metadata URL answered HTTP {result.status}", field="metadata_url")
    return read_idp_metadata(result.body)


# --- logins -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SsoLogin:
    token: str
    csrf_token: str
    user: q.User
    workspace: q.Workspace


def _load(conn: apsw.Connection, slug: str) -> tuple[q.Workspace, sq.SsoSettings]:
    ws = q.workspace_by_slug(conn, slug)
    sso = sq.sso_settings(conn, ws.id) if ws else None
    if ws is None or sso is None or not sso.enabled or not sso.idp_metadata_xml:
        raise SamlRejected("SSO is not enabled for this workspace")
    return ws, sso


async def start_login(db: Database, base_url: str, slug: str, now: float) -> str:
    """SP-initiated login: store a fresh request id, return the IdP URL to redirect to."""
    try:
        ws, sso = await db.aread(lambda c: _load(c, slug))
    except SamlRejected:
        raise NotFound("single sign-on is not set up for this workspace") from None
    from saml2.client import Saml2Client

    client = Saml2Client(sp_config(sp_urls(base_url, slug), sso))
    request_id, info = client.prepare_for_authenticate(
        entityid=sso.idp_entity_id, binding=BINDING_HTTP_REDIRECT
    )
    location = dict(info["headers"])["Location"]
    await db.awrite(lambda c: sq.add_request(c, ws.id, request_id, now, now + REQUEST_SECONDS))
    return str(location)


def _verify_with_pysaml2(urls: SpUrls, sso: sq.SsoSettings, raw: bytes, in_response_to: str | None) -> str:
    """pysaml2's verdict; returns the id of the assertion it selected."""
    from saml2.client import Saml2Client

    client = Saml2Client(sp_config(urls, sso))
    outstanding = {in_response_to: urls.login_url} if in_response_to else {}
    try:
        response = client.parse_authn_request_response(
            base64.b64encode(raw).decode(), BINDING_HTTP_POST, outstanding=outstanding
        )
    except Exception as exc:  # pysaml2 signals a bad message with many unrelated exception types
        raise SamlRejected(f"pysaml2 refused the response: {type(exc).__name__}: {str(exc)[:200]}") from None
    if response is None or response.assertion is None:
        raise SamlRejected("pysaml2 found no acceptable assertion")
    if len(getattr(response, "assertions", [response.assertion])) != 1:
        raise SamlRejected("pysaml2 saw more than one assertion")
    return str(response.assertion.id)


async def consume_response(
    db: Database, settings: Settings, slug: str, saml_response: str, *, ip: str, user_agent: str, now: float
) -> SsoLogin:
    """Verify a POSTed ``SAMLResponse`` and open a session, or raise :class:`SamlRejected`."""
    raw = decode_post(saml_response)
    root = parse_untrusted(raw)
    ws, sso = await db.aread(lambda c: _load(c, slug))
    in_response_to = response_in_response_to(root)
    if in_response_to is None:
        if not sso.idp_initiated:
            raise SamlRejected("unsolicited response and IdP-initiated login is off")
    elif not await db.aread(lambda c: sq.request_is_outstanding(c, ws.id, in_response_to, now)):
        raise SamlRejected("InResponseTo does not match an outstanding request")
    urls = sp_urls(settings.server.public_url(), slug)
    verified_id = await asyncio.to_thread(_verify_with_pysaml2, urls, sso, raw, in_response_to)
    expect = Expectations(urls.entity_id, urls.acs_url, sso.idp_entity_id, pinned_certs(sso), SKEW_SECONDS)
    checked = check_shape(root, expect, now)
    if checked.assertion_id != verified_id:
        raise SamlRejected("the verified assertion is not the one in the response")
    person = mapped_person(checked, sso)
    hours = settings.auth.session_absolute_hours
    return await db.awrite(lambda c: _complete(c, ws, sso, checked, person, ip, user_agent, now, hours))


# --- attribute mapping, users, sessions ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str
    role: Role


def mapped_role(values: list[str], role_map: dict[str, Role], default: Role) -> Role:
    """The highest role any of the IdP's values maps to; ``default`` when none does."""
    mapped = [role_map[v] for v in values if v in role_map and role_map[v] in SSO_ROLES]
    return max(mapped, key=lambda r: RANK[r]) if mapped else default


def mapped_person(checked: CheckedAssertion, sso: sq.SsoSettings) -> Person:
    emails = checked.attributes.get(sso.email_attribute) or []
    email = emails[0] if emails else (checked.name_id if checked.name_id_format == EMAIL_FORMAT else "")
    try:
        email = q.check_email(email.strip())
    except InvalidInput:
        raise SamlRejected("the assertion has no usable email address") from None
    names = checked.attributes.get(sso.name_attribute) or []
    name = (names[0] if names else email.split("@")[0])[:100]
    values = checked.attributes.get(sso.role_attribute, []) if sso.role_attribute else []
    return Person(email, name, mapped_role(values, sso.role_map, sso.default_role))


def _may_vouch(conn: apsw.Connection, user: q.User, ws: q.Workspace, sso: sq.SsoSettings) -> None:
    """A workspace's IdP speaks only for users whose every workspace trusts that same IdP:
    otherwise one tenant's IdP could sign in a member of another tenant."""
    for membership in q.memberships_of(conn, user.id):
        if membership.workspace.id == ws.id:
            continue
        other = sq.sso_settings(conn, membership.workspace.id)
        if other is None or not other.enabled or other.idp_entity_id != sso.idp_entity_id:
            raise SamlRejected("the user belongs to a workspace that does not trust this IdP")
    if user.is_instance_admin and q.role_in(conn, user.id, ws.id) is None:
        raise SamlRejected("an instance administrator is never added by SSO")


def _resolve_user(
    conn: apsw.Connection,
    ws: q.Workspace,
    sso: sq.SsoSettings,
    person: Person,
    actor: audit.Actor,
    now: float,
) -> q.User:
    user = q.user_by_email(conn, person.email)
    if user is None:
        if not sso.jit_create:
            raise SamlRejected("no user with this email and just-in-time creation is off")
        user = q.create_user(conn, person.email, person.name, None, now)
        q.set_membership(conn, ws.id, user.id, person.role, now)
        audit.record(
            conn,
            actor,
            "user.create",
            now,
            workspace_id=ws.id,
            target=person.email,
            detail={"after": {"role": person.role.value, "via": "saml-jit"}},
        )
        return user
    if user.disabled:
        raise SamlRejected("the user is disabled")
    _may_vouch(conn, user, ws, sso)
    current = q.role_in(conn, user.id, ws.id)
    if current is None:
        if not sso.jit_create:
            raise SamlRejected("the user is not a member of this workspace and JIT is off")
        q.set_membership(conn, ws.id, user.id, person.role, now)
    elif sso.role_attribute and current is not Role.OWNER and current is not person.role:
        q.set_membership(conn, ws.id, user.id, person.role, now)  # the IdP's groups stay the source of truth
        audit.record(
            conn,
            actor,
            "member.role",
            now,
            workspace_id=ws.id,
            target=person.email,
            detail={"before": {"role": current.value}, "after": {"role": person.role.value}},
        )
    return user


def _complete(
    conn: apsw.Connection,
    ws: q.Workspace,
    sso: sq.SsoSettings,
    checked: CheckedAssertion,
    person: Person,
    ip: str,
    user_agent: str,
    now: float,
    session_hours: float,
) -> SsoLogin:
    irt = checked.in_response_to
    if irt is not None and not sq.consume_request(conn, ws.id, irt, now):
        raise SamlRejected("the request was already answered or has expired")
    keep_until = max(checked.not_on_or_after, now) + SKEW_SECONDS
    if not sq.consume_assertion(conn, ws.id, checked.assertion_id, now, keep_until):
        raise SamlRejected("assertion replayed")
    actor = audit.Actor(person.email, None, ip)
    user = _resolve_user(conn, ws, sso, person, actor, now)
    token, csrf = new_token(), new_token()
    # The same session row password sign-in creates (signalcraft.auth.service.sign_in).
    expires = now + session_hours * 3600.0
    q.create_session(conn, token_hash(token), user.id, csrf, now, expires, ip, user_agent)
    audit.record(
        conn,
        audit.Actor(user.email, user.id, ip),
        "login.success",
        now,
        workspace_id=ws.id,
        target=user.email,
        detail={"method": "saml", "assertion_id": checked.assertion_id},
    )
    return SsoLogin(token, csrf, user, ws)
