"""Two-factor authentication (allauth.mfa): Bob enrols an authenticator app, then logs in with its code; a platform
admin requires MFA of a role, and its people are sent to set it up before anything else. TOTP codes are computed
here with pyotp, independently of allauth."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.test import Client
from django.utils import timezone

from outcomedesk.accounts.models import User
from outcomedesk.accounts.services import create_token, set_mfa_requirement
from outcomedesk.core.errors import InvalidInput
from tests.conftest import World

PASSWORD = "correct horse battery staple"
ACTIVATE = "/accounts/2fa/totp/activate/"


def logged_in(username: str) -> Client:
    client = Client()
    response = client.post("/login/", {"login": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def confirm_password(client: Client) -> None:
    """Adding an authenticator asks for the password again (MFA_REAUTHENTICATION_REQUIRED, allauth's default)."""
    response = client.get(ACTIVATE)
    assert response.status_code == 302 and response.url.startswith("/accounts/reauthenticate/")
    assert client.post(response.url, {"password": PASSWORD}).status_code == 302


def enrol_totp(client: Client) -> str:
    """Activate an authenticator app on the page allauth shows; returns its secret."""
    confirm_password(client)
    page = client.get(ACTIVATE).content.decode()
    secret = re.search(r'id="authenticator_secret"[^>]* value="([A-Z2-7]+)"', page)
    assert secret, page
    response = client.post(ACTIVATE, {"code": pyotp.TOTP(secret[1]).now()})
    assert response.status_code == 302, response.content
    return secret[1]


def test_bob_enrols_an_authenticator_app_and_then_needs_its_code_to_log_in(world: World) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        secret = enrol_totp(logged_in("bob"))
    assert Authenticator.objects.filter(user=world.bob, type=Authenticator.Type.TOTP).exists()

    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        client = Client()
        response = client.post("/login/", {"login": "bob", "password": PASSWORD})
        assert response.status_code == 302 and response.url == "/accounts/2fa/authenticate/"
        assert client.get("/desk/").status_code == 302  # the password alone does not log in

        wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
        assert wrong.status_code == 200 and b"Incorrect code" in wrong.content
        assert client.get("/desk/").status_code == 302

        right = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).now()})
        assert right.status_code == 302
        assert client.get("/desk/").status_code == 200


def test_a_wrong_code_does_not_activate_the_authenticator(world: World) -> None:
    client = logged_in("bob")
    confirm_password(client)
    response = client.post(ACTIVATE, {"code": "123456"})
    assert response.status_code == 200 and b"Incorrect code" in response.content
    assert not Authenticator.objects.filter(user=world.bob).exists()


def test_recovery_codes_come_with_the_authenticator_app(world: World) -> None:
    enrol_totp(logged_in("bob"))
    assert Authenticator.objects.filter(user=world.bob, type=Authenticator.Type.RECOVERY_CODES).exists()


def test_agents_required_to_use_mfa_are_sent_to_set_it_up_before_anything_else(world: World) -> None:
    set_mfa_requirement("agent", True)
    client = logged_in("bob")
    for url in ("/desk/", "/portal/", "/insights/", "/admin/", "/accounts/password/change/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url == ACTIVATE, url
    assert client.get("/accounts/2fa/").status_code == 200
    sent = client.get("/desk/", follow=True)  # to the set-up page, which first asks for the password again
    assert sent.redirect_chain[-1][0].startswith("/accounts/reauthenticate/")
    assert b"requires two-factor authentication" in sent.content

    enrol_totp(client)
    assert client.get("/desk/").status_code == 200


def test_people_of_roles_not_required_are_left_alone(world: World) -> None:
    set_mfa_requirement("agent", True)
    assert logged_in("alice").get("/portal/").status_code == 200  # a requester
    assert logged_in("dave").get("/desk/").status_code == 200  # a desk manager: another role


def test_every_role_can_be_required(world: World) -> None:
    set_mfa_requirement("platform_admin", True)
    assert logged_in("root").get("/portal/").url == ACTIVATE
    set_mfa_requirement("platform_admin", False)
    set_mfa_requirement("desk_manager", True)
    assert logged_in("dave").get("/desk/").url == ACTIVATE
    User.objects.filter(pk=world.carol.pk).update(is_executive=True)
    set_mfa_requirement("executive", True)
    assert logged_in("carol").get("/portal/").url == ACTIVATE
    User.objects.filter(pk=world.carol.pk).update(is_executive=False, is_service_manager=True)
    set_mfa_requirement("service_manager", True)
    assert logged_in("carol").get("/portal/").url == ACTIVATE


def test_logging_out_stays_possible_before_setting_up_mfa(world: World) -> None:
    set_mfa_requirement("agent", True)
    client = logged_in("bob")
    assert client.get("/logout/").status_code == 200
    assert client.post("/logout/").url == "/login/"
    assert client.get("/desk/").url.startswith("/login/")


def test_the_api_refuses_the_session_until_mfa_is_set_up_but_not_bearer_tokens(world: World) -> None:
    set_mfa_requirement("agent", True)
    client = logged_in("bob")
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert "two-factor authentication" in response.json()["detail"]

    key = create_token("bob").key
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200

    enrol_totp(client)
    assert client.get("/api/v1/me").json()["username"] == "bob"


def test_an_unknown_role_is_refused_by_name(db: None) -> None:
    with pytest.raises(InvalidInput, match="'janitor' is not a role"):
        set_mfa_requirement("janitor", True)


def test_a_platform_admin_sets_the_requirement_in_the_admin(world: World) -> None:
    admin = Client()
    admin.force_login(world.root)
    for role in ("platform_admin", "service_manager", "desk_manager", "agent", "executive"):
        set_mfa_requirement(role, False)
    page = admin.get("/admin/accounts/mfarequirement/")
    assert page.status_code == 200 and b"Desk managers" in page.content
    rows = ["agent", "desk_manager", "executive", "platform_admin", "service_manager"]  # the admin's order
    data = {"form-TOTAL_FORMS": "5", "form-INITIAL_FORMS": "5", "_save": "Save"}
    for index, role in enumerate(rows):
        data[f"form-{index}-role"] = role
        if role == "agent":
            data[f"form-{index}-required"] = "on"
    response = admin.post("/admin/accounts/mfarequirement/", data)
    assert response.status_code == 302, response.content
    assert logged_in("bob").get("/desk/").url == ACTIVATE


def test_preferences_link_to_two_factor_authentication(world: World) -> None:
    page = logged_in("alice").get("/portal/preferences/").content.decode()
    assert 'href="/accounts/2fa/"' in page and 'href="/accounts/password/change/"' in page
