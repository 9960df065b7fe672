"""The structural check that runs after pysaml2 (saml_xml.check_shape), on its own: documents
that are validly built except for one wrapping or binding trick must be refused even if the
signature layer were fooled. Pure function, no IdP round trip needed beyond one signed sample."""

from __future__ import annotations

import copy
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from signalcraft.auth.saml_xml import Expectations, SamlRejected, check_shape, parse_untrusted
from tests.saml.conftest import URLS, fresh
from tests.saml.idp import DS, IDP_ENTITY, SAML, SAMLP, TestIdp, assertion_of, to_bytes


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


@pytest.fixture(scope="module")
def signed(idp: TestIdp) -> bytes:
    return idp.sign(fresh(idp, "id-request-1"))


def expect(idp: TestIdp) -> Expectations:
    return Expectations(URLS.entity_id, URLS.acs_url, IDP_ENTITY, frozenset({idp.keys.cert_b64}), 90.0)


def test_a_correct_signed_response_passes_the_shape_check(signed: bytes, idp: TestIdp) -> None:
    checked = check_shape(parse_untrusted(signed), expect(idp), time.time())
    assert checked.attributes["email"] == ["ada@example.com"]
    assert checked.in_response_to == "id-request-1"


def _second_unsigned(root: ET.Element, where: str) -> None:
    signed = assertion_of(root)
    evil = copy.deepcopy(signed)
    evil.set("ID", "id-evil")
    for sig in evil.findall(_q(DS, "Signature")):
        evil.remove(sig)
    index = list(root).index(signed)
    if where == "before":
        root.insert(index, evil)
    elif where == "after":
        root.insert(index + 1, evil)
    elif where == "extensions":
        root.remove(signed)
        extensions = ET.Element(_q(SAMLP, "Extensions"))
        extensions.append(signed)
        root.insert(2, extensions)
        root.insert(index + 1, evil)
    elif where == "object":
        root.remove(signed)
        signature = root.find(_q(DS, "Signature"))
        assert signature is not None
        ET.SubElement(signature, _q(DS, "Object")).append(signed)
        root.insert(index, evil)
    elif where == "inside_assertion":  # the evil one nested in the signed one
        signed.append(evil)


@pytest.mark.parametrize("where", ["before", "after", "extensions", "object", "inside_assertion"])
def test_a_second_unsigned_assertion_anywhere_is_refused(signed: bytes, idp: TestIdp, where: str) -> None:
    root = ET.fromstring(signed)
    _second_unsigned(root, where)
    with pytest.raises(SamlRejected, match="exactly one Assertion|duplicate ID|two signatures"):
        check_shape(parse_untrusted(to_bytes(root)), expect(idp), time.time())


def _mutations() -> dict[str, Callable[[ET.Element], None]]:
    def ref_elsewhere(root: ET.Element) -> None:
        ref = root.find(f"{_q(DS, 'Signature')}/{_q(DS, 'SignedInfo')}/{_q(DS, 'Reference')}")
        assert ref is not None
        ref.set("URI", "#" + (assertion_of(root).get("ID") or ""))

    def duplicate_id(root: ET.Element) -> None:
        root.find(_q(SAMLP, "Status")).set("ID", assertion_of(root).get("ID") or "")  # type: ignore[union-attr]

    def foreign_cert(root: ET.Element) -> None:
        for cert in root.iter(_q(DS, "X509Certificate")):
            cert.text = "MIIBforeign"

    def key_value(root: ET.Element) -> None:
        key_info = root.find(f"{_q(DS, 'Signature')}/{_q(DS, 'KeyInfo')}")
        assert key_info is not None
        ET.SubElement(key_info, _q(DS, "KeyValue"))

    def unsigned_response(root: ET.Element) -> None:
        root.remove(root.find(_q(DS, "Signature")))  # type: ignore[arg-type]

    def no_audience(root: ET.Element) -> None:
        conditions = assertion_of(root).find(_q(SAML, "Conditions"))
        assert conditions is not None
        for restriction in conditions.findall(_q(SAML, "AudienceRestriction")):
            conditions.remove(restriction)

    def irt_mismatch(root: ET.Element) -> None:
        for data in root.iter(_q(SAML, "SubjectConfirmationData")):
            data.set("InResponseTo", "id-other")

    def encrypted(root: ET.Element) -> None:
        ET.SubElement(root, _q(SAML, "EncryptedAssertion"))

    def status(root: ET.Element) -> None:
        code = root.find(f"{_q(SAMLP, 'Status')}/{_q(SAMLP, 'StatusCode')}")
        assert code is not None
        code.set("Value", "urn:oasis:names:tc:SAML:2.0:status:Requester")

    return {
        "response signature references the assertion": ref_elsewhere,
        "duplicate ID": duplicate_id,
        "certificate in KeyInfo is not pinned": foreign_cert,
        "KeyValue in KeyInfo": key_value,
        "response not signed": unsigned_response,
        "no audience": no_audience,
        "InResponseTo differs in SubjectConfirmationData": irt_mismatch,
        "encrypted assertion": encrypted,
        "status not Success": status,
    }


@pytest.mark.parametrize("name", list(_mutations()))
def test_the_shape_check_refuses(signed: bytes, idp: TestIdp, name: str) -> None:
    root = ET.fromstring(signed)
    _mutations()[name](root)
    with pytest.raises(SamlRejected):
        check_shape(parse_untrusted(to_bytes(root)), expect(idp), time.time())


@pytest.mark.parametrize(("offset", "match"), [(-3600.0, "not yet valid"), (3600.0, "expired")])
def test_the_shape_check_takes_now_as_a_parameter(
    signed: bytes, idp: TestIdp, offset: float, match: str
) -> None:
    with pytest.raises(SamlRejected, match=match):
        check_shape(parse_untrusted(signed), expect(idp), time.time() + offset)
