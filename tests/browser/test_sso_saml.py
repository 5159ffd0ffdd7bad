"""Single sign-on through a SAML 2.0 identity provider (pysaml2's IdP on 127.0.0.1, signing with a key made for the
session), in Chromium: "Sign in with Corp SAML" on the login page, the IdP's login form, a signed assertion posted
back to Outcomedesk, and the person lands in the product with the desk role their IdP group maps to."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import Page, expect

from outcomedesk.accounts.directory import parse_group_mapping
from outcomedesk.accounts.models import DeskMembership, User
from tests import factories as f
from tests.sso.servers import SamlIdentityProvider, configure_sso

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def corp_saml(settings: Any, monkeypatch: pytest.MonkeyPatch, saml_idp: SamlIdentityProvider) -> SamlIdentityProvider:
    configure_sso(settings, monkeypatch, saml_idp.environment("Corp SAML"))
    settings.OUTCOMEDESK_DIRECTORY_GROUPS = parse_group_mapping('{"outcomedesk-hr-managers": ["desk:hr:manager"]}')
    f.make_desk("hr", name="HR", confidential=True)
    return saml_idp


def sign_in_at_the_identity_provider(page: Page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_role("button", name="Sign in with Corp SAML").click()
    page.get_by_label("SAML username").fill(login)
    page.get_by_label("SAML password").fill(password)
    page.get_by_role("button", name="Sign in to the SAML IdP").click()


def test_quinn_signs_in_through_the_saml_identity_provider_and_gets_an_account(
    browser: Any, live_server: Any, corp_saml: SamlIdentityProvider
) -> None:
    page = browser.new_context().new_page()
    sign_in_at_the_identity_provider(page, live_server.url, "quinn", "quinn-at-the-saml-idp")
    page.wait_for_url(f"{live_server.url}/desk/**")  # her IdP group made her a manager of the HR desk
    expect(page.locator(".topuser .username")).to_have_text("Quinn Li")

    quinn = User.objects.get(username="quinn")
    assert (quinn.email, quinn.first_name, quinn.last_name) == ("quinn.li@example.org", "Quinn", "Li")
    assert (quinn.directory_source, quinn.directory_id) == ("saml:corp-saml", "quinn")
    assert list(DeskMembership.objects.filter(user=quinn).values_list("desk__slug", "role")) == [("hr", "manager")]
    assert SocialAccount.objects.get(user=quinn).provider == "saml"


def test_a_wrong_password_at_the_saml_identity_provider_does_not_sign_in(
    browser: Any, live_server: Any, corp_saml: SamlIdentityProvider
) -> None:
    page = browser.new_context().new_page()
    sign_in_at_the_identity_provider(page, live_server.url, "quinn", "guess")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password")
    assert not User.objects.filter(username="quinn").exists()
