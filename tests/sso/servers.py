"""Real identity providers on 127.0.0.1 for the single sign-on tests, started once per session.

- OpenID Connect: panva's certified `oidc-provider` (npm, pinned in tests/sso/oidc_provider/package-lock.json and
  installed there by `scripts/test` with `npm ci`), run with the machine's Node.js.
- SAML 2.0: an identity provider built on pysaml2's `saml2.server.Server` (tests/sso/saml_idp.py), signing with a
  key and certificate generated here (Debian's `xmlsec1` does the XML signatures).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.net import free_port

HERE = Path(__file__).resolve().parent
OIDC_DIR = HERE / "oidc_provider"




def _wait_for_ready(process: subprocess.Popen[str], what: str, timeout: float = 30) -> str:
    """The server's "ready ..." line, or a failure with everything it printed."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            lines.append(line)
            if line.startswith("ready "):
                return line.split(" ", 1)[1].strip()
        elif process.poll() is not None:
            break
    process.kill()
    pytest.fail(f"{what} did not start:\n{''.join(lines)}")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# --- OpenID Connect ---------------------------------------------------------------------------------------

@dataclass
class OidcPerson:
    login: str
    password: str
    claims: dict[str, Any]


@dataclass
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str
    provider_id: str
    people: dict[str, OidcPerson] = field(default_factory=dict)

    def environment(self, name: str = "Corp SSO") -> dict[str, str]:
        """The OUTCOMEDESK_OIDC_* variables an operator would set for this provider."""
        return {"OUTCOMEDESK_OIDC_ISSUER": self.issuer, "OUTCOMEDESK_OIDC_CLIENT_ID": self.client_id,
                "OUTCOMEDESK_OIDC_CLIENT_SECRET": self.client_secret, "OUTCOMEDESK_OIDC_NAME": name,
                "OUTCOMEDESK_OIDC_ID": self.provider_id, "OUTCOMEDESK_OIDC_SCOPES": "openid profile email groups"}


OIDC_PEOPLE = [
    OidcPerson("olivia", "olivia-at-the-idp", {
        "sub": "5f1c2e1a-olivia", "preferred_username": "olivia", "email": "olivia.oduya@example.org",
        "email_verified": True, "given_name": "Olivia", "family_name": "Oduya", "name": "Olivia Oduya",
        "groups": ["outcomedesk-it-agents", "staff"],
    }),
    OidcPerson("pavel", "pavel-at-the-idp", {
        "sub": "9a7d3b40-pavel", "preferred_username": "pavel", "email": "pavel.novak@example.org",
        "email_verified": True, "given_name": "Pavel", "family_name": "Novak", "name": "Pavel Novak",
        "groups": ["staff"],
    }),
]


@pytest.fixture(scope="session")
def oidc_provider(live_server: Any) -> Iterator[OidcProvider]:
    """panva/oidc-provider on a free port, with one confidential client (PKCE required) whose redirect URI is the
    live server's callback, and the people of OIDC_PEOPLE."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the OpenID provider of the SSO tests (apt-get install nodejs)")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"oidc-provider is not installed: run `npm ci --prefix {OIDC_DIR}` (scripts/test does it)")
    port, provider_id = free_port(), "corp"
    client = {
        "client_id": "outcomedesk",
        "client_secret": secrets.token_urlsafe(24),
        "redirect_uris": [f"{live_server.url}/accounts/oidc/{provider_id}/login/callback/"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    env = {**os.environ, "OIDC_PORT": str(port), "OIDC_CLIENTS": json.dumps([client]),
           "OIDC_USERS": json.dumps({p.login: {"password": p.password, "claims": p.claims} for p in OIDC_PEOPLE})}
    process = subprocess.Popen([node, str(OIDC_DIR / "server.mjs")], cwd=OIDC_DIR, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    issuer = _wait_for_ready(process, "oidc-provider")
    try:
        yield OidcProvider(issuer=issuer, client_id=client["client_id"], client_secret=client["client_secret"],
                           provider_id=provider_id, people={p.login: p for p in OIDC_PEOPLE})
    finally:
        _stop(process)


def configure_sso(settings: Any, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    """Set the OUTCOMEDESK_* variables and rebuild SOCIALACCOUNT_PROVIDERS from them as settings.py does."""
    from outcomedesk.config.sso import sso_providers

    for name in list(os.environ):
        if name.startswith(("OUTCOMEDESK_OIDC_", "OUTCOMEDESK_SAML_")):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings.SOCIALACCOUNT_PROVIDERS = sso_providers()


# --- SAML 2.0 ---------------------------------------------------------------------------------------------

GROUPS_OID = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"  # isMemberOf, as pysaml2 names it in the URI name format


@dataclass
class SamlIdentityProvider:
    base_url: str
    org: str
    people: dict[str, dict[str, Any]]

    def environment(self, name: str = "Corp SAML") -> dict[str, str]:
        """The OUTCOMEDESK_SAML_* variables an operator would set for this identity provider."""
        return {"OUTCOMEDESK_SAML_ID": self.org, "OUTCOMEDESK_SAML_NAME": name,
                "OUTCOMEDESK_SAML_IDP_METADATA_URL": f"{self.base_url}/metadata",
                "OUTCOMEDESK_SAML_IDP_ENTITY_ID": f"{self.base_url}/metadata",
                "OUTCOMEDESK_SAML_GROUPS_ATTRIBUTE": GROUPS_OID}


SAML_PEOPLE = {
    "quinn": {"password": "quinn-at-the-saml-idp", "name_id": "e3b0c442-quinn", "attributes": {
        "uid": ["quinn"], "mail": ["quinn.li@example.org"], "givenName": ["Quinn"], "sn": ["Li"],
        "displayName": ["Quinn Li"], "isMemberOf": ["outcomedesk-hr-managers", "staff"],
    }},
}


def self_signed_certificate(directory: Path, common_name: str) -> tuple[Path, Path]:
    """A new RSA key and a self-signed certificate for it (PEM files), made for this test session."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "idp.key", directory / "idp.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def sp_metadata(live_url: str, org: str) -> str:
    """Outcomedesk's service-provider metadata as allauth describes it (entity id = its metadata URL)."""
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
                     entityID="{live_url}/accounts/saml/{org}/metadata/">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="false"
                      WantAssertionsSigned="true">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
                                 Location="{live_url}/accounts/saml/{org}/acs/" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


@pytest.fixture(scope="session")
def saml_idp(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdentityProvider]:
    """The pysaml2 identity provider of tests/sso/saml_idp.py on a free port, trusting the live server's SP."""
    if shutil.which("xmlsec1") is None:
        pytest.fail("xmlsec1 is needed by the SAML identity provider of the SSO tests (apt-get install xmlsec1)")
    directory = tmp_path_factory.mktemp("saml-idp")
    key_file, cert_file = self_signed_certificate(directory, "Outcomedesk test IdP")
    org, port = "corp-saml", free_port()
    metadata_file = directory / "sp.xml"
    metadata_file.write_text(sp_metadata(live_server.url, org))
    config_file = directory / "idp.json"
    config_file.write_text(json.dumps({"port": port, "key_file": str(key_file), "cert_file": str(cert_file),
                                       "sp_metadata_file": str(metadata_file), "people": SAML_PEOPLE}))
    process = subprocess.Popen([sys.executable, str(HERE / "saml_idp.py"), str(config_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = _wait_for_ready(process, "the pysaml2 identity provider")
    try:
        yield SamlIdentityProvider(base_url=base_url, org=org, people=SAML_PEOPLE)
    finally:
        _stop(process)
