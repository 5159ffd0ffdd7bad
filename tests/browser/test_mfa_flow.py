"""Two-factor authentication in Chromium: an agent whose role requires MFA is sent to set up an authenticator app
after the password, logs in with a code the next time; a security key (Chromium's virtual WebAuthn authenticator)
is added and then signs in as a passkey."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.utils import timezone
from playwright.sync_api import Page, expect

from outcomedesk.accounts.services import set_mfa_requirement
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username or e-mail").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_an_agent_required_to_use_mfa_sets_up_an_authenticator_app_then_logs_in_with_it(
    browser: Any, live_server: Any, world: World
) -> None:
    set_mfa_requirement("agent", True)
    base = live_server.url
    page = browser.new_context().new_page()
    log_in(page, base, "bob")
    expect(page.get_by_role("status")).to_contain_text("Your role requires two-factor authentication")
    page.get_by_label("Password").fill(PASSWORD)  # adding an authenticator asks for the password again
    page.get_by_role("button", name="Confirm").click()
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("main")).to_contain_text("Recovery Codes")  # shown once, right after activation
    page.goto(f"{base}/desk/")
    expect(page).to_have_url(re.compile(r"/desk/"))
    assert Authenticator.objects.filter(user=world.bob, type=Authenticator.Type.TOTP).exists()

    # Next time (a minute later: a code is never accepted twice): the password, then a code from the app.
    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=True):
        fresh = browser.new_context().new_page()
        log_in(fresh, base, "bob")
        expect(fresh.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
        fresh.get_by_label("Code").fill("000000")
        fresh.get_by_role("button", name="Sign In").click()
        expect(fresh.locator("main")).to_contain_text("Incorrect code")
        fresh.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        fresh.get_by_role("button", name="Sign In").click()
        fresh.wait_for_url(f"{base}/desk/**")


def test_alice_adds_a_passkey_and_signs_in_with_it_without_her_password(
    browser: Any, live_server: Any, world: World
) -> None:
    base = live_server.url
    context = browser.new_context()
    page = context.new_page()
    # Chromium's virtual authenticator stands in for a platform passkey (user verification on, always present).
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True,
    }})
    log_in(page, base, "alice")
    page.goto(f"{base}/accounts/2fa/webauthn/add/?passwordless")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Name").fill("Laptop passkey")
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add").click()
    expect(page.locator("main")).to_contain_text("Recovery Codes")
    assert Authenticator.objects.filter(user=world.alice, type=Authenticator.Type.WEBAUTHN).exists()

    page.goto(f"{base}/logout/")
    page.get_by_role("button", name="Sign Out").click()
    page.wait_for_url(f"{base}/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(f"{base}/portal/**")
    expect(page.locator(".topuser .username")).to_have_text("Alice Requester")
