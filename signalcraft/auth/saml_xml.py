"""Untrusted SAML XML: a hardened first parse, and the structural checks that run after
pysaml2 has verified the signatures.

Every SAML payload is parsed here with defusedxml *before* pysaml2 sees it: a DTD (and with
it any entity, internal or external) is refused at the ``<!DOCTYPE`` token, so neither a
billion-laughs expansion nor an XXE fetch ever starts.

pysaml2 verifies that the Response and the Assertion carry valid signatures by the pinned
IdP certificate. Signature wrapping attacks make the *verified* element differ from the one
the application reads; :func:`check_shape` closes that gap by refusing any document that is
not exactly "one Response, signed over itself, holding exactly one Assertion, signed over
itself", with unique IDs and no certificate in KeyInfo other than the pinned ones.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_SAML_BYTES = 256 * 1024
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z$")


class SamlRejected(Exception):
    """A SAML message was refused. ``reason`` goes to the audit log, never to the browser."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def decode_post(value: str) -> bytes:
    """The bytes of an HTTP-POST binding ``SAMLResponse`` field (strict base64, size-capped)."""
    compact = "".join(value.split())
    if not compact:
        raise SamlRejected("no SAMLResponse in the request")
    if len(compact) > MAX_SAML_BYTES * 4 // 3 + 4:
        raise SamlRejected("SAMLResponse too large")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise SamlRejected("SAMLResponse is not base64") from None


def parse_untrusted(data: bytes) -> Element:
    """Parse with DTDs, entities and external references refused (fails fast, fetches nothing)."""
    if len(data) > MAX_SAML_BYTES:
        raise SamlRejected("SAML document too large")
    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SamlRejected(f"forbidden XML construct ({type(exc).__name__})") from None
    except ParseError:
        raise SamlRejected("malformed XML") from None
    return root


def parse_instant(value: str | None) -> float | None:
    """An xs:dateTime in UTC (the SAML profile requires the Z form) as epoch seconds."""
    if value is None:
        return None
    match = _ISO.match(value.strip())
    if match is None:
        raise SamlRejected(f"unparseable time {value[:40]!r}")
    y, mo, d, h, mi, s = (int(g) for g in match.groups())
    return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))


@dataclass(frozen=True, slots=True)
class Expectations:
    sp_entity_id: str
    acs_url: str
    idp_entity_id: str
    pinned_certs: frozenset[str]  # base64 DER, whitespace removed
    skew: float


@dataclass(frozen=True, slots=True)
class CheckedAssertion:
    response_id: str
    assertion_id: str
    in_response_to: str | None
    not_on_or_after: float
    name_id: str
    name_id_format: str
    attributes: dict[str, list[str]]


def response_in_response_to(root: Element) -> str | None:
    if root.tag != _q(SAMLP, "Response"):
        raise SamlRejected("not a samlp:Response")
    return root.get("InResponseTo")


def _signature_of(element: Element, pinned: frozenset[str]) -> None:
    """The element has exactly one enveloped ds:Signature whose single Reference is itself."""
    sigs = [child for child in element if child.tag == _q(DS, "Signature")]
    if len(sigs) != 1:
        raise SamlRejected(f"{element.tag.rsplit('}', 1)[-1]} must carry exactly one signature")
    refs = sigs[0].findall(f"{_q(DS, 'SignedInfo')}/{_q(DS, 'Reference')}")
    if len(refs) != 1 or refs[0].get("URI") != f"#{element.get('ID')}":
        raise SamlRejected("signature does not reference the element it is in")
    key_info = sigs[0].find(_q(DS, "KeyInfo"))
    if key_info is None:
        return
    for child in key_info:
        if child.tag not in (_q(DS, "X509Data"), _q(DS, "KeyName")):
            raise SamlRejected("KeyInfo carries a key; only the pinned certificate is trusted")
    for cert in key_info.iter(_q(DS, "X509Certificate")):
        if "".join((cert.text or "").split()) not in pinned:
            raise SamlRejected("KeyInfo certificate is not the pinned IdP certificate")


def _unique_ids(root: Element) -> None:
    seen: set[str] = set()
    for element in root.iter():
        ident = element.get("ID")
        if ident is not None:
            if ident in seen:
                raise SamlRejected("duplicate ID in the document")
            seen.add(ident)


def _time_window(element: Element | None, now: float, skew: float, what: str) -> float:
    if element is None:
        raise SamlRejected(f"{what} missing")
    not_before = parse_instant(element.get("NotBefore"))
    not_after = parse_instant(element.get("NotOnOrAfter"))
    if not_after is None:
        raise SamlRejected(f"{what} has no NotOnOrAfter")
    if not_before is not None and now + skew < not_before:
        raise SamlRejected(f"{what} not yet valid")
    if now - skew >= not_after:
        raise SamlRejected(f"{what} expired")
    return not_after


def check_shape(root: Element, expect: Expectations, now: float) -> CheckedAssertion:
    """Refuse anything but one self-signed Response holding one self-signed Assertion for us."""
    response_in_response_to(root)
    _unique_ids(root)
    assertions = list(root.iter(_q(SAML, "Assertion")))
    if len(assertions) != 1 or root.find(_q(SAML, "Assertion")) is not assertions[0]:
        raise SamlRejected("the Response must hold exactly one Assertion, as a direct child")
    if root.find(f".//{_q(SAML, 'EncryptedAssertion')}") is not None:
        raise SamlRejected("encrypted assertions are not accepted")
    if len(list(root.iter(_q(DS, "Signature")))) != 2:
        raise SamlRejected("expected exactly two signatures (Response and Assertion)")
    assertion = assertions[0]
    _signature_of(root, expect.pinned_certs)
    _signature_of(assertion, expect.pinned_certs)
    if root.get("Destination") != expect.acs_url:
        raise SamlRejected("Destination is not this workspace's ACS URL")
    for issuer in (root.find(_q(SAML, "Issuer")), assertion.find(_q(SAML, "Issuer"))):
        if issuer is None or (issuer.text or "").strip() != expect.idp_entity_id:
            raise SamlRejected("Issuer is not the configured IdP")
    status = root.find(f"{_q(SAMLP, 'Status')}/{_q(SAMLP, 'StatusCode')}")
    if status is None or status.get("Value") != "urn:oasis:names:tc:SAML:2.0:status:Success":
        raise SamlRejected("IdP status is not Success")
    conditions = assertion.find(_q(SAML, "Conditions"))
    not_after = _time_window(conditions, now, expect.skew, "Conditions")
    assert conditions is not None
    audiences = [(a.text or "").strip() for a in conditions.iter(_q(SAML, "Audience"))]
    if not audiences or any(a != expect.sp_entity_id for a in audiences):
        raise SamlRejected("Audience is not this service provider")
    subject = assertion.find(_q(SAML, "Subject"))
    name_id = subject.find(_q(SAML, "NameID")) if subject is not None else None
    confirmations = subject.findall(_q(SAML, "SubjectConfirmation")) if subject is not None else []
    if name_id is None or len(confirmations) != 1:
        raise SamlRejected("Subject must have a NameID and one SubjectConfirmation")
    data = confirmations[0].find(_q(SAML, "SubjectConfirmationData"))
    _time_window(data, now, expect.skew, "SubjectConfirmationData")
    assert data is not None
    if data.get("Recipient") != expect.acs_url:
        raise SamlRejected("Recipient is not this workspace's ACS URL")
    in_response_to = root.get("InResponseTo")
    if data.get("InResponseTo") != in_response_to:
        raise SamlRejected("InResponseTo differs between Response and SubjectConfirmationData")
    return CheckedAssertion(
        response_id=root.get("ID") or "",
        assertion_id=assertion.get("ID") or "",
        in_response_to=in_response_to,
        not_on_or_after=not_after,
        name_id=(name_id.text or "").strip(),
        name_id_format=name_id.get("Format") or "",
        attributes=_attributes(assertion),
    )


def _attributes(assertion: Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for attribute in assertion.iter(_q(SAML, "Attribute")):
        name = attribute.get("Name") or ""
        values = [(v.text or "").strip() for v in attribute.findall(_q(SAML, "AttributeValue"))]
        found.setdefault(name, []).extend(values)
        friendly = attribute.get("FriendlyName")
        if friendly and friendly != name:
            found.setdefault(friendly, []).extend(values)
    return found
