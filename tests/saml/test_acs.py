"""The assertion consumer, end to end: a real pysaml2 IdP signs, the real app verifies.

Every negative case is posted to ``POST /sso/acme/acs`` and must be REJECTED: 403, no session
cookie, no new session row, and a ``login.failure`` audit entry naming the reason. Cases that
change a field before signing are validly signed by the pinned IdP key: only the named check
can refuse them. Cases that change the document after signing must be caught by signatures.
See docs/security.md ("SAML: what each test proves").
"""

from __future__ import annotations

import copy
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from litestar.testing import TestClient

from signalcraft.db.connection import scalar
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, free_port
from tests.saml.conftest import SLUG, fresh, start_login
from tests.saml.idp import DS, SAML, SAMLP, TestIdp, assertion_of, iso, post_value, strip_signatures, to_bytes

Client = TestClient  # type: ignore[type-arg]


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def post(client: Client, xml: bytes | str) -> object:
    value = post_value(xml if isinstance(xml, bytes) else xml.encode())
    return client.post(f"/sso/{SLUG}/acs", data={"SAMLResponse": value}, follow_redirects=False)


def sessions(parts: Parts) -> int:
    return int(parts.ctx.db.read(lambda c: scalar(c, "SELECT count(*) FROM sessions")))


def assert_rejected(parts: Parts, client: Client, xml: bytes | str, reason: str) -> None:
    before = sessions(parts)
    response = post(client, xml)
    assert response.status_code == 403, response.text  # type: ignore[attr-defined]
    assert "sc_session" not in response.headers.get("set-cookie", "")  # type: ignore[attr-defined]
    assert "Single sign-on failed" in response.text  # type: ignore[attr-defined]
    assert sessions(parts) == before
    last = parts.ctx.db.read(lambda c: audit.entries(c, None, limit=1, action_prefix="login."))[0]
    assert last.action == "login.failure"
    assert reason.lower() in last.detail["reason"].lower(), last.detail["reason"]
    assert last.detail["reason"].lower() not in response.text.lower()  # type: ignore[attr-defined]


def assert_signed_in(parts: Parts, client: Client, xml: bytes, email: str) -> q.User:
    response = post(client, xml)
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    assert response.headers["location"] == f"/w/{SLUG}/"  # type: ignore[attr-defined]
    assert "sc_session=" in response.headers["set-cookie"]  # type: ignore[attr-defined]
    page = client.get(f"/w/{SLUG}/", follow_redirects=False)
    assert page.status_code == 200
    user = parts.ctx.db.read(lambda c: q.user_by_email(c, email))
    assert user is not None
    return user


def signed_for_request(
    idp: TestIdp, client: Client, mutate: Callable[[ET.Element], None] | None = None, **sign: object
) -> bytes:
    root = fresh(idp, start_login(client, idp))
    if mutate:
        mutate(root)
    return idp.sign(root, **sign)  # type: ignore[arg-type]


@pytest.fixture
def sso(configure: Callable[..., object], client: Client) -> Client:
    return client


# --- the correct ones -------------------------------------------------------------------------


def test_a_correct_sp_initiated_response_signs_in_and_jit_creates_the_user_with_the_mapped_role(
    sso: Client, parts: Parts, idp: TestIdp
) -> None:
    user = assert_signed_in(parts, sso, signed_for_request(idp, sso), "ada@example.com")
    assert user.password_hash is None
    assert parts.ctx.db.read(lambda c: q.role_in(c, user.id, 1)).value == "responder"


def test_the_highest_mapped_role_wins_and_an_unmapped_value_gets_the_default(
    sso: Client, parts: Parts, idp: TestIdp
) -> None:
    root = fresh(idp, start_login(sso, idp), email="grace@example.com", groups=("ops", "admins", "x"))
    user = assert_signed_in(parts, sso, idp.sign(root), "grace@example.com")
    assert parts.ctx.db.read(lambda c: q.role_in(c, user.id, 1)).value == "admin"


def test_an_idp_initiated_response_signs_in_when_enabled(
    configure: Callable[..., object], client: Client, parts: Parts, idp: TestIdp
) -> None:
    configure(idp_initiated=True)
    assert_signed_in(parts, client, idp.sign(fresh(idp, None)), "ada@example.com")


def test_an_idp_initiated_response_is_rejected_when_disabled(sso: Client, parts: Parts, idp: TestIdp) -> None:
    assert_rejected(parts, sso, idp.sign(fresh(idp, None)), "IdP-initiated login is off")


def test_without_jit_an_unknown_email_is_rejected(
    configure: Callable[..., object], client: Client, parts: Parts, idp: TestIdp
) -> None:
    configure(jit_create=False)
    assert_rejected(parts, client, signed_for_request(idp, client), "just-in-time creation is off")
    assert parts.ctx.db.read(lambda c: q.user_by_email(c, "ada@example.com")) is None


def test_without_jit_an_existing_member_signs_in(
    configure: Callable[..., object], client: Client, parts: Parts, idp: TestIdp, owner: Member
) -> None:
    configure(jit_create=False)
    root = fresh(idp, start_login(client, idp), email=owner.user.email, groups=())
    user = assert_signed_in(parts, client, idp.sign(root), owner.user.email)
    assert parts.ctx.db.read(lambda c: q.role_in(c, user.id, 1)).value == "owner"  # an IdP never demotes


# --- signatures ------------------------------------------------------------------------------


def test_a_response_that_is_not_signed_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    assert_rejected(parts, sso, signed_for_request(idp, sso, response=False), "pysaml2")


def test_a_response_whose_assertion_is_unsigned_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    assert_rejected(parts, sso, signed_for_request(idp, sso, assertion=False), "pysaml2")


def test_a_response_with_its_signatures_stripped_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    root = ET.fromstring(signed_for_request(idp, sso))
    strip_signatures(root)
    assert_rejected(parts, sso, to_bytes(root), "pysaml2")


def test_an_assertion_signed_by_another_key_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    xml = signed_for_request(idp, sso, assertion_keys=idp.attacker, key_info=False)
    assert_rejected(parts, sso, xml, "pysaml2")


def test_a_response_signed_by_an_attacker_key_embedded_in_keyinfo_is_rejected(
    sso: Client, parts: Parts, idp: TestIdp
) -> None:
    xml = signed_for_request(idp, sso, keys=idp.attacker, key_info=True)
    assert idp.attacker.cert_b64[:40] in "".join(xml.decode().split())  # the attacker's cert is in KeyInfo
    assert_rejected(parts, sso, xml, "pysaml2")


def test_a_response_whose_attribute_was_changed_after_signing_is_rejected(
    sso: Client, parts: Parts, idp: TestIdp
) -> None:
    xml = signed_for_request(idp, sso)
    assert xml.count(b"ada@example.com") >= 2
    assert_rejected(parts, sso, xml.replace(b">ada@example.com<", b">eve@example.com<"), "pysaml2")
    assert parts.ctx.db.read(lambda c: q.user_by_email(c, "eve@example.com")) is None


# --- signature wrapping ----------------------------------------------------------------------


def _evil_copy(signed: ET.Element) -> ET.Element:
    evil = copy.deepcopy(signed)
    evil.set("ID", "id-evil-assertion")
    strip_signatures(evil)
    for value in evil.iter(_q(SAML, "AttributeValue")):
        if value.text == "ada@example.com":
            value.text = "eve@example.com"
    name_id = evil.find(f"{_q(SAML, 'Subject')}/{_q(SAML, 'NameID')}")
    assert name_id is not None
    name_id.text = "eve@example.com"
    return evil


def _wrap_before(root: ET.Element) -> None:
    signed = assertion_of(root)
    root.insert(list(root).index(signed), _evil_copy(signed))


def _wrap_after(root: ET.Element) -> None:
    signed = assertion_of(root)
    root.insert(list(root).index(signed) + 1, _evil_copy(signed))


def _wrap_in_extensions(root: ET.Element) -> None:
    signed = assertion_of(root)
    index = list(root).index(signed)
    root.remove(signed)
    extensions = ET.Element(_q(SAMLP, "Extensions"))
    extensions.append(signed)
    root.insert(2, extensions)  # after Issuer and Signature, where the schema allows Extensions
    root.insert(index + 1, _evil_copy(signed))


def _wrap_in_signature_object(root: ET.Element) -> None:
    signed = assertion_of(root)
    index = list(root).index(signed)
    root.remove(signed)
    signature = root.find(_q(DS, "Signature"))
    assert signature is not None
    obj = ET.SubElement(signature, _q(DS, "Object"))
    obj.append(signed)
    root.insert(index, _evil_copy(signed))


@pytest.mark.parametrize(
    "wrap",
    [_wrap_before, _wrap_after, _wrap_in_extensions, _wrap_in_signature_object],
    ids=[
        "unsigned_assertion_before_the_signed_one",
        "unsigned_assertion_after_the_signed_one",
        "signed_one_moved_into_extensions",
        "signed_one_moved_into_a_signature_object",
    ],
)
def test_a_wrapped_response_with_an_unsigned_second_assertion_is_rejected(
    sso: Client, parts: Parts, idp: TestIdp, wrap: Callable[[ET.Element], None]
) -> None:
    root = ET.fromstring(signed_for_request(idp, sso))
    wrap(root)
    assert_rejected(parts, sso, to_bytes(root), "pysaml2")
    assert parts.ctx.db.read(lambda c: q.user_by_email(c, "eve@example.com")) is None


def test_a_response_holding_two_assertions_is_rejected_even_with_a_valid_response_signature(
    configure: Callable[..., object], client: Client, parts: Parts, idp: TestIdp
) -> None:
    """Worst case for wrapping: the Response signature itself is valid over both assertions (only
    the IdP key could do this). pysaml2 refuses two assertions; check_shape would too
    (tests/saml/test_shape.py)."""
    root = fresh(idp, start_login(client, idp))
    _wrap_after(root)
    assert_rejected(parts, client, idp.sign(root, assertion=False), "assertions")


# --- conditions ------------------------------------------------------------------------------


def _set_times(not_before: float, not_on_or_after: float) -> Callable[[ET.Element], None]:
    def mutate(root: ET.Element) -> None:
        for element in root.iter():
            if element.tag in (_q(SAML, "Conditions"), _q(SAML, "SubjectConfirmationData")):
                if element.tag == _q(SAML, "Conditions"):
                    element.set("NotBefore", iso(not_before))
                element.set("NotOnOrAfter", iso(not_on_or_after))
            if "IssueInstant" in element.attrib:
                element.set("IssueInstant", iso(not_before))
            if element.tag == _q(SAML, "AuthnStatement"):
                element.set("AuthnInstant", iso(not_before))

    return mutate


def test_an_expired_assertion_is_rejected(sso: Client, parts: Parts, idp: TestIdp, clock: FakeClock) -> None:
    xml = signed_for_request(idp, sso, _set_times(clock() - 1200, clock() - 300))
    assert_rejected(parts, sso, xml, "too old")


def test_an_assertion_not_yet_valid_is_rejected(
    sso: Client, parts: Parts, idp: TestIdp, clock: FakeClock
) -> None:
    xml = signed_for_request(idp, sso, _set_times(clock() + 600, clock() + 1200))
    assert_rejected(parts, sso, xml, "use response yet")


def test_an_assertion_within_the_allowed_clock_skew_is_accepted(
    sso: Client, parts: Parts, idp: TestIdp, clock: FakeClock
) -> None:
    xml = signed_for_request(idp, sso, _set_times(clock() + 20, clock() + 300))
    assert_signed_in(parts, sso, xml, "ada@example.com")


def _set(tag: str, attribute: str | None, value: str) -> Callable[[ET.Element], None]:
    def mutate(root: ET.Element) -> None:
        targets = [root] if tag == "Response" else list(root.iter(_q(SAML, tag)))
        assert targets
        for element in targets:
            if attribute is None:
                element.text = value
            else:
                element.set(attribute, value)

    return mutate


def test_an_assertion_for_another_audience_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    xml = signed_for_request(idp, sso, _set("Audience", None, "https://other.example/sp"))
    assert_rejected(parts, sso, xml, "AudienceRestriction")


def test_an_assertion_for_another_recipient_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    xml = signed_for_request(
        idp, sso, _set("SubjectConfirmationData", "Recipient", "http://127.0.0.1:8080/sso/other/acs")
    )
    assert_rejected(parts, sso, xml, "Recipient")


def test_a_response_for_another_destination_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    xml = signed_for_request(idp, sso, _set("Response", "Destination", "http://127.0.0.1:8080/sso/other/acs"))
    assert_rejected(parts, sso, xml, "pysaml2")


def test_a_response_from_another_issuer_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    xml = signed_for_request(idp, sso, _set("Issuer", None, "https://evil.example/idp"))
    assert_rejected(parts, sso, xml, "MissingKey")


# --- InResponseTo and replay -----------------------------------------------------------------


def test_a_response_to_a_request_we_never_sent_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    assert_rejected(parts, sso, idp.sign(fresh(idp, "id-never-issued-by-us")), "InResponseTo")


def test_a_response_to_an_expired_request_is_rejected(
    sso: Client, parts: Parts, idp: TestIdp, clock: FakeClock
) -> None:
    request_id = start_login(sso, idp)
    clock.advance(601)
    assert_rejected(parts, sso, idp.sign(fresh(idp, request_id)), "InResponseTo")


def test_a_replayed_response_is_rejected(sso: Client, parts: Parts, idp: TestIdp) -> None:
    xml = signed_for_request(idp, sso)
    assert_signed_in(parts, sso, xml, "ada@example.com")
    sso.cookies.clear()
    assert_rejected(parts, sso, xml, "InResponseTo")


def test_a_replayed_assertion_id_is_rejected(
    configure: Callable[..., object], client: Client, parts: Parts, idp: TestIdp
) -> None:
    configure(idp_initiated=True)  # no InResponseTo to consume: only the assertion id stops a replay
    xml = idp.sign(fresh(idp, None))
    assert_signed_in(parts, client, xml, "ada@example.com")
    client.cookies.clear()
    assert_rejected(parts, client, xml, "replayed")


# --- bad input -------------------------------------------------------------------------------


def test_malformed_xml_is_rejected(sso: Client, parts: Parts) -> None:
    assert_rejected(
        parts, sso, b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'><oops", "malformed"
    )


def test_a_value_that_is_not_base64_is_rejected(sso: Client, parts: Parts) -> None:
    response = sso.post(
        f"/sso/{SLUG}/acs", data={"SAMLResponse": "%%% not base64 %%%"}, follow_redirects=False
    )
    assert response.status_code == 403
    last = parts.ctx.db.read(lambda c: audit.entries(c, None, limit=1, action_prefix="login."))[0]
    assert "base64" in last.detail["reason"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x">&lol9;</samlp:Response>"""


def test_an_entity_expansion_bomb_is_rejected_quickly(sso: Client, parts: Parts) -> None:
    started = time.monotonic()
    assert_rejected(parts, sso, BILLION_LAUGHS, "forbidden XML construct")
    assert time.monotonic() - started < 2.0


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    """A local HTTP server an external entity points at: it must never be asked anything."""
    _Recorder.hits = []
    server = HTTPServer(("127.0.0.1", free_port()), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/xxe"
    finally:
        server.shutdown()
        server.server_close()


def test_an_external_entity_is_rejected_and_nothing_is_fetched(
    sso: Client, parts: Parts, listener: str
) -> None:
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "{listener}">]>'
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x">&xxe;</samlp:Response>'
    )
    assert_rejected(parts, sso, xxe.encode(), "forbidden XML construct")
    time.sleep(0.2)  # give a (wrongly) started fetch the time to arrive
    assert _Recorder.hits == []


def test_an_external_dtd_is_rejected_and_nothing_is_fetched(sso: Client, parts: Parts, listener: str) -> None:
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{listener}">'
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>'
    )
    assert_rejected(parts, sso, xxe.encode(), "forbidden XML construct")
    time.sleep(0.2)
    assert _Recorder.hits == []


def test_a_response_for_a_workspace_without_sso_is_rejected(
    client: Client, parts: Parts, idp: TestIdp, owner: Member
) -> None:
    assert_rejected(parts, client, idp.sign(fresh(idp, None)), "not enabled")
