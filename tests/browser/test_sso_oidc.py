"""Single sign-on through a certified OpenID provider (panva/oidc-provider on 127.0.0.1), in Chromium: the person
clicks "Sign in with Corp SSO" on the login page, signs in at the provider, and lands in Outcomedesk as themselves."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import Page, expect

from outcomedesk.accounts.directory import parse_group_mapping
from outcomedesk.accounts.models import DeskMembership, User
from outcomedesk.accounts.services import set_mfa_requirement
from tests import factories as f
from tests.sso.servers import OidcProvider, configure_sso

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def corp_sso(settings: Any, monkeypatch: pytest.MonkeyPatch, oidc_provider: OidcProvider) -> OidcProvider:
    """Corp SSO configured as an operator would, with the IdP group of IT agents mapped to the IT desk."""
    configure_sso(settings, monkeypatch, oidc_provider.environment("Corp SSO"))
    settings.OUTCOMEDESK_DIRECTORY_GROUPS = parse_group_mapping('{"outcomedesk-it-agents": ["desk:it:agent"]}')
    f.make_desk("it", name="IT")
    return oidc_provider


def sign_in_at_the_provider(page: Page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_role("button", name="Sign in with Corp SSO").click()
    page.get_by_label("IdP username").fill(login)
    page.get_by_label("IdP password").fill(password)
    page.get_by_role("button", name="Sign in to the IdP").click()


def test_olivia_signs_in_through_the_openid_provider_and_gets_an_account(
    browser: Any, live_server: Any, corp_sso: OidcProvider
) -> None:
    set_mfa_requirement("agent", True)  # an SSO session is trusted to the identity provider's own MFA
    page = browser.new_context().new_page()
    sign_in_at_the_provider(page, live_server.url, "olivia", "olivia-at-the-idp")
    page.wait_for_url(f"{live_server.url}/desk/**")  # her IdP group made her an IT agent
    expect(page.locator(".topuser .username")).to_have_text("Olivia Oduya")

    olivia = User.objects.get(username="olivia")
    assert (olivia.email, olivia.first_name, olivia.last_name) == ("olivia.oduya@example.org", "Olivia", "Oduya")
    assert (olivia.directory_source, olivia.directory_id) == ("oidc:corp", "5f1c2e1a-olivia")
    assert not olivia.has_usable_password()
    assert list(DeskMembership.objects.filter(user=olivia).values_list("desk__slug", "role")) == [("it", "agent")]
    account = SocialAccount.objects.get(user=olivia)
    assert (account.provider, account.uid) == ("corp", "5f1c2e1a-olivia")

    # Logging out of Outcomedesk ends the session; the next sign-in finds the same account.
    page.goto(f"{live_server.url}/logout/")
    page.get_by_role("button", name="Sign Out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.get_by_role("button", name="Sign in with Corp SSO").click()  # the provider remembers her session
    page.wait_for_url(f"{live_server.url}/desk/**")
    assert User.objects.filter(username="olivia").count() == 1 and SocialAccount.objects.count() == 1


def test_an_existing_local_account_is_the_one_signed_in(
    browser: Any, live_server: Any, corp_sso: OidcProvider
) -> None:
    pavel = f.make_user("pavel", email="pavel.novak@example.org", display_name="Pavel (local)")
    page = browser.new_context().new_page()
    sign_in_at_the_provider(page, live_server.url, "pavel", "pavel-at-the-idp")
    page.wait_for_url(f"{live_server.url}/portal/**")
    assert SocialAccount.objects.get(uid="9a7d3b40-pavel").user_id == pavel.pk
    assert User.objects.filter(username__iexact="pavel").count() == 1
    pavel.refresh_from_db()
    assert (pavel.first_name, pavel.last_name, pavel.display_name) == ("Pavel", "Novak", "Pavel Novak")


def test_a_wrong_password_at_the_provider_does_not_sign_in(
    browser: Any, live_server: Any, corp_sso: OidcProvider
) -> None:
    page = browser.new_context().new_page()
    sign_in_at_the_provider(page, live_server.url, "olivia", "not-her-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password")
    assert not User.objects.filter(username="olivia").exists()


def test_a_username_owned_by_another_directory_is_refused_with_the_reason(
    browser: Any, live_server: Any, corp_sso: OidcProvider
) -> None:
    from outcomedesk.accounts.directory import DirectoryPerson
    from outcomedesk.accounts.services import apply_directory_person

    apply_directory_person(DirectoryPerson(source="ldap", external_id="uid=olivia", username="olivia"))
    page = browser.new_context().new_page()
    sign_in_at_the_provider(page, live_server.url, "olivia", "olivia-at-the-idp")
    expect(page.get_by_role("heading", name="Single sign-on failed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("belongs to an account of 'ldap'")
    assert not SocialAccount.objects.exists()
    page.goto(f"{live_server.url}/portal/")
    assert page.url.startswith(f"{live_server.url}/login/")  # not signed in
