"""Single sign-on configured from the environment (config/sso.py), and what a person sees when the identity provider
is down or the configuration is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from outcomedesk.config.env import ConfigError
from outcomedesk.config.sso import sso_providers
from tests.sso.servers import configure_sso, free_port


def set_env(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("OUTCOMEDESK_OIDC_", "OUTCOMEDESK_SAML_")):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def test_nothing_is_configured_without_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch)
    assert sso_providers() == {}


def test_one_oidc_provider_from_its_variables_uses_pkce(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, OUTCOMEDESK_OIDC_ISSUER="https://login.example.org/realms/corp/",
            OUTCOMEDESK_OIDC_CLIENT_ID="outcomedesk", OUTCOMEDESK_OIDC_CLIENT_SECRET="s3cret",
            OUTCOMEDESK_OIDC_NAME="Corp SSO")
    app = sso_providers()["openid_connect"]["APPS"][0]
    assert app["provider_id"] == "oidc" and app["name"] == "Corp SSO" and app["secret"] == "s3cret"
    assert app["settings"]["server_url"] == "https://login.example.org/realms/corp"
    assert app["settings"]["oauth_pkce_enabled"] is True
    assert app["settings"]["scope"] == ["openid", "profile", "email"]


def test_several_providers_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, OUTCOMEDESK_OIDC_PROVIDERS=json.dumps([
        {"id": "okta", "name": "Okta", "issuer": "https://corp.okta.com", "client_id": "a", "client_secret": "x"},
        {"id": "entra", "name": "Entra ID", "issuer": "https://login.microsoftonline.com/t/v2.0", "client_id": "b",
         "groups_claim": "roles"},
    ]), OUTCOMEDESK_SAML_PROVIDERS=json.dumps([
        {"id": "adfs", "name": "ADFS", "idp_metadata_url": "https://adfs.example.org/metadata.xml",
         "idp_entity_id": "http://adfs.example.org/adfs/services/trust"},
    ]))
    providers = sso_providers()
    assert [a["provider_id"] for a in providers["openid_connect"]["APPS"]] == ["okta", "entra"]
    assert providers["openid_connect"]["APPS"][1]["settings"]["groups_claim"] == "roles"
    saml = providers["saml"]["APPS"][0]
    assert saml["client_id"] == "adfs"
    assert saml["settings"]["idp"]["metadata_url"] == "https://adfs.example.org/metadata.xml"
    assert saml["settings"]["advanced"]["want_assertion_signed"] is True
    assert saml["settings"]["advanced"]["reject_idp_initiated_sso"] is True


@pytest.mark.parametrize(("variables", "message"), [
    ({"OUTCOMEDESK_OIDC_ISSUER": "https://idp.example.org"}, "client_id is required"),
    ({"OUTCOMEDESK_OIDC_ISSUER": "idp.example.org", "OUTCOMEDESK_OIDC_CLIENT_ID": "a"}, "must be an http"),
    ({"OUTCOMEDESK_OIDC_PROVIDERS": "[{"}, "OUTCOMEDESK_OIDC_PROVIDERS is not valid JSON"),
    ({"OUTCOMEDESK_OIDC_PROVIDERS": '[{"issuer": "https://a", "client_id": "a", "secret": "x"}]'}, "unknown keys"),
    ({"OUTCOMEDESK_OIDC_PROVIDERS": '[{"issuer": "https://a", "client_id": "a"}, {"issuer": "https://b", '
                                    '"client_id": "b"}]'}, "two providers have the id 'oidc'"),
    ({"OUTCOMEDESK_SAML_IDP_ENTITY_ID": "https://idp"}, "set idp_metadata_url, or idp_sso_url, idp_x509cert"),
    ({"OUTCOMEDESK_SAML_IDP_ENTITY_ID": "https://idp", "OUTCOMEDESK_SAML_IDP_SSO_URL": "https://idp/sso",
      "OUTCOMEDESK_SAML_IDP_X509CERT": "not a certificate!"}, "neither a PEM certificate"),
    ({"OUTCOMEDESK_SAML_IDP_METADATA_URL": "https://idp/metadata"}, "idp_entity_id is required"),
    ({"OUTCOMEDESK_SAML_ID": "Corp SSO", "OUTCOMEDESK_SAML_IDP_METADATA_URL": "https://idp/m",
      "OUTCOMEDESK_SAML_IDP_ENTITY_ID": "https://idp"}, "lower-case letters"),
])
def test_a_wrong_configuration_is_named_at_start_up(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str],
                                                    message: str) -> None:
    set_env(monkeypatch, **variables)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        sso_providers()


def test_an_identity_provider_that_is_down_gets_a_page_saying_so(
    db: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_sso(settings, monkeypatch, {
        "OUTCOMEDESK_OIDC_ISSUER": f"http://127.0.0.1:{free_port()}", "OUTCOMEDESK_OIDC_CLIENT_ID": "outcomedesk",
        "OUTCOMEDESK_OIDC_CLIENT_SECRET": "x", "OUTCOMEDESK_OIDC_NAME": "Corp SSO",
    })
    client = Client()
    assert b"Sign in with Corp SSO" in client.get("/login/").content
    response = client.post("/accounts/oidc/oidc/login/")
    assert response.status_code == 401  # allauth's status for a sign-on that did not happen; never a 500
    assert b"Corp SSO" in response.content and b"could not be reached" in response.content


def test_an_unconfigured_provider_has_no_login_url(db: None) -> None:
    assert Client().post("/accounts/oidc/corp/login/").status_code == 404
    assert Client().post("/accounts/saml/corp/login/").status_code == 404


def test_the_saml_service_provider_publishes_its_metadata(
    db: None, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from tests.sso.servers import self_signed_certificate

    _key, cert = self_signed_certificate(tmp_path, "idp.example.org")
    settings.ALLOWED_HOSTS = ["servicedesk"]
    configure_sso(settings, monkeypatch, {
        "OUTCOMEDESK_SAML_ID": "corp", "OUTCOMEDESK_SAML_IDP_ENTITY_ID": "https://idp.example.org/saml",
        "OUTCOMEDESK_SAML_IDP_SSO_URL": "https://idp.example.org/saml/sso", "OUTCOMEDESK_SAML_IDP_X509CERT": str(cert),
    })
    # An intranet host name of one label ("servicedesk") is a valid place for the service provider.
    response = Client(HTTP_HOST="servicedesk").get("/accounts/saml/corp/metadata/")
    assert response.status_code == 200
    assert b'entityID="http://servicedesk/accounts/saml/corp/metadata/"' in response.content
    assert b'Location="http://servicedesk/accounts/saml/corp/acs/"' in response.content


def test_a_saml_identity_provider_whose_metadata_cannot_be_fetched_gets_a_page_saying_so(
    db: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}/metadata"
    configure_sso(settings, monkeypatch, {"OUTCOMEDESK_SAML_ID": "corp", "OUTCOMEDESK_SAML_NAME": "Corp SAML",
                                          "OUTCOMEDESK_SAML_IDP_METADATA_URL": url,
                                          "OUTCOMEDESK_SAML_IDP_ENTITY_ID": url})
    response = Client(HTTP_HOST="localhost").post("/accounts/saml/corp/login/")
    assert response.status_code == 401
    assert b"Corp SAML" in response.content and b"could not be reached" in response.content


def test_sign_in_buttons_keep_the_page_asked_for(db: None, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    configure_sso(settings, monkeypatch, {"OUTCOMEDESK_OIDC_ISSUER": "https://idp.example.org",
                                          "OUTCOMEDESK_OIDC_CLIENT_ID": "x", "OUTCOMEDESK_OIDC_NAME": "Corp"})
    page = Client().get("/login/?next=/portal/tickets/").content.decode()
    assert 'action="/accounts/oidc/oidc/login/?process=login&amp;next=%2Fportal%2Ftickets%2F"' in page
