"""An in-process SAML IdP for the SSO tests: pysaml2's ``saml2.server.Server`` with its own key
pair, plus an attacker key pair, and the signing/mutation tools for the negative matrix.

pysaml2 builds the (unsigned) Response; :func:`sign` signs the Assertion and then the
Response with the ``xmlsec1`` binary, so a test can change any field *before* signing (the
IdP really said it: only our checks can refuse it) or *after* signing (the signature must
catch it).
"""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import AUTHN_PASSWORD_PROTECTED, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

from signalcraft.auth.saml import xmlsec_binary

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
for _prefix, _uri in (("samlp", SAMLP), ("saml", SAML), ("ds", DS), ("xsi", XSI)):
    ET.register_namespace(_prefix, _uri)

IDP_ENTITY = "https://idp.test/metadata"
IDP_SSO = "https://idp.test/sso"


@dataclass(frozen=True)
class KeyPair:
    key_file: Path
    cert_file: Path
    cert_b64: str


def make_key_pair(directory: Path, name: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = cert.public_bytes(serialization.Encoding.DER)
    return KeyPair(key_file, cert_file, base64.b64encode(der).decode())


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def signature_template(ref_id: str, *, key_info: bool = True) -> ET.Element:
    sig = ET.Element(_q(DS, "Signature"))
    info = ET.SubElement(sig, _q(DS, "SignedInfo"))
    ET.SubElement(info, _q(DS, "CanonicalizationMethod"), Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    ET.SubElement(
        info, _q(DS, "SignatureMethod"), Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    ref = ET.SubElement(info, _q(DS, "Reference"), URI=f"#{ref_id}")
    transforms = ET.SubElement(ref, _q(DS, "Transforms"))
    ET.SubElement(
        transforms, _q(DS, "Transform"), Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"
    )
    ET.SubElement(transforms, _q(DS, "Transform"), Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    ET.SubElement(ref, _q(DS, "DigestMethod"), Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    ET.SubElement(ref, _q(DS, "DigestValue"))
    ET.SubElement(sig, _q(DS, "SignatureValue"))
    if key_info:
        ET.SubElement(ET.SubElement(sig, _q(DS, "KeyInfo")), _q(DS, "X509Data"))
    return sig


def _insert_after_issuer(element: ET.Element, child: ET.Element) -> None:
    issuer = element.find(_q(SAML, "Issuer"))
    index = list(element).index(issuer) + 1 if issuer is not None else 0
    element.insert(index, child)


def strip_signatures(element: ET.Element) -> None:
    for parent in list(element.iter()):
        for child in list(parent):
            if child.tag == _q(DS, "Signature"):
                parent.remove(child)


def xmlsec_sign(xml: bytes, node_id: str, keys: KeyPair, workdir: Path) -> bytes:
    src, out = workdir / f"in-{uuid.uuid4().hex}.xml", workdir / f"out-{uuid.uuid4().hex}.xml"
    src.write_bytes(xml)
    subprocess.run(
        [
            xmlsec_binary(),
            "--sign",
            "--privkey-pem",
            f"{keys.key_file},{keys.cert_file}",
            "--id-attr:ID",
            f"{SAMLP}:Response",
            "--id-attr:ID",
            f"{SAML}:Assertion",
            "--node-id",
            node_id,
            "--output",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def to_bytes(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def assertion_of(root: ET.Element) -> ET.Element:
    found = root.find(_q(SAML, "Assertion"))
    assert found is not None
    return found


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Mutator = Callable[[ET.Element], None]


class TestIdp:
    """A real pysaml2 IdP that trusts the SP's own metadata (as served by the app)."""

    __test__ = False  # not a pytest class

    def __init__(self, workdir: Path, sp_metadata: str) -> None:
        self.workdir = workdir
        self.keys = make_key_pair(workdir, "idp")
        self.attacker = make_key_pair(workdir, "attacker")
        conf = IdPConfig()
        conf.load(
            {
                "entityid": IDP_ENTITY,
                "xmlsec_binary": xmlsec_binary(),
                "key_file": str(self.keys.key_file),
                "cert_file": str(self.keys.cert_file),
                "metadata": {"inline": [sp_metadata]},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (IDP_SSO, BINDING_HTTP_REDIRECT),
                                (IDP_SSO, BINDING_HTTP_POST),
                            ]
                        },
                        "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
                    }
                },
            }
        )
        self.server = Server(config=conf)
        self.metadata_xml = str(entity_descriptor(conf))

    def unsigned(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        in_response_to: str | None,
        email: str,
        name: str = "Ada Lovelace",
        groups: tuple[str, ...] = (),
    ) -> ET.Element:
        identity: dict[str, list[str]] = {"email": [email], "name": [name]}
        if groups:
            identity["groups"] = list(groups)
        xml = self.server.create_authn_response(
            identity=identity,
            in_response_to=in_response_to,
            destination=acs_url,
            sp_entity_id=sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
            userid=email,
            authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": IDP_SSO},
            sign_response=False,
            sign_assertion=False,
        )
        root = ET.fromstring(str(xml))
        for element in root.iter():  # xs:string in an attribute value: ElementTree drops its xmlns
            element.attrib.pop(_q(XSI, "type"), None)
        return root

    def sign(
        self,
        root: ET.Element,
        *,
        response: bool = True,
        assertion: bool = True,
        keys: KeyPair | None = None,
        assertion_keys: KeyPair | None = None,
        key_info: bool = True,
    ) -> bytes:
        """Sign the Assertion, then the Response (which covers the signed Assertion)."""
        keys = keys or self.keys
        strip_signatures(root)
        xml = to_bytes(root)
        if assertion:
            a_id = assertion_of(root).get("ID") or ""
            _insert_after_issuer(assertion_of(root), signature_template(a_id, key_info=key_info))
            xml = xmlsec_sign(to_bytes(root), a_id, assertion_keys or keys, self.workdir)
            root = ET.fromstring(xml)
        if response:
            r_id = root.get("ID") or ""
            _insert_after_issuer(root, signature_template(r_id, key_info=key_info))
            xml = xmlsec_sign(to_bytes(root), r_id, keys, self.workdir)
        return xml


def post_value(xml: bytes) -> str:
    return base64.b64encode(xml).decode()
