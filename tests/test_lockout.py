"""Login lockout (django-axes): the web login, the admin login and bearer tokens, by username and address."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.lockout import TOKEN_USERNAME
from tests.conftest import World, client_for

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
ATTACKER, ALICE_AT_HOME, PROXY = "203.0.113.9", "198.51.100.20", "10.0.0.1"


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def log_in(client: Client, username: str, password: str, *, address: str = ATTACKER, path: str = "/login/",
           **headers: str) -> tuple[int, bool]:
    """POST the login form; the status and whether the client is now logged in."""
    response = client.post(path, {"login": username, "password": password}, REMOTE_ADDR=address, **headers)
    return response.status_code, "_auth_user_id" in client.session


def test_fifty_wrong_passwords_then_the_right_one_does_not_log_in(world: World,
                                                                  frozen: time_machine.Coordinates) -> None:
    client = Client()
    for _ in range(50):
        assert log_in(client, "alice", "wrong")[1] is False
    status, logged_in = log_in(client, "alice", PASSWORD)
    assert (status, logged_in) == (429, False)
    page = client.post("/login/", {"login": "alice", "password": PASSWORD}, REMOTE_ADDR=ATTACKER)
    assert "Too many failed logins" in page.content.decode()
    assert "locked out for 15 minutes" in page.content.decode()

    frozen.shift(timedelta(minutes=15, seconds=1))
    assert log_in(client, "alice", PASSWORD) == (302, True)


def test_the_fifth_failure_locks_and_a_success_before_it_starts_the_count_again(world: World) -> None:
    client = Client()
    for _ in range(4):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", PASSWORD) == (302, True)
    client = Client()
    for _ in range(4):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", PASSWORD) == (302, True)
    client = Client()
    for _ in range(5):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", PASSWORD) == (429, False)


def test_typing_the_username_in_capitals_is_the_same_attempt(world: World) -> None:
    client = Client()
    for name in ["alice", "Alice", "ALICE ", "aLiCe", " alice"]:
        log_in(client, name, "wrong")
    assert log_in(client, "alice", PASSWORD) == (429, False)


def test_an_attacker_cannot_lock_a_person_out_from_elsewhere(world: World) -> None:
    attacker = Client()
    for _ in range(10):
        log_in(attacker, "alice", "wrong", address=ATTACKER)
    assert log_in(attacker, "alice", PASSWORD, address=ATTACKER) == (429, False)
    # Alice at her own address, and Bob at the attacker's (a shared NAT), still log in.
    assert log_in(Client(), "alice", PASSWORD, address=ALICE_AT_HOME) == (302, True)
    assert log_in(Client(), "bob", PASSWORD, address=ATTACKER) == (302, True)


def test_a_forwarded_for_header_is_ignored_unless_behind_a_proxy(world: World, settings: object) -> None:
    client = Client()
    for n in range(5):  # a client rotating its own X-Forwarded-For gains nothing
        log_in(client, "alice", "wrong", address=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert log_in(client, "alice", PASSWORD, address=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.77") == (429, False)


def test_behind_a_proxy_the_address_is_the_last_forwarded_hop(world: World, settings: object) -> None:
    settings.OUTCOMEDESK_BEHIND_PROXY = True  # type: ignore[attr-defined]
    client = Client()
    for n in range(5):  # everything arrives from the proxy; the client forges the left-hand entries
        log_in(client, "alice", "wrong", address=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}")
    assert AccessAttempt.objects.get().ip_address == ATTACKER
    assert log_in(client, "alice", PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER) == (429, False)
    # Alice, through the same proxy from her own address, is not locked out.
    assert log_in(Client(), "alice", PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=ALICE_AT_HOME) == (302, True)
    # A header that holds no address falls back to the peer.
    log_in(Client(), "carol", "wrong", address=PROXY, HTTP_X_FORWARDED_FOR="not-an-address")
    assert AccessAttempt.objects.filter(username="carol").get().ip_address == PROXY


def test_the_admin_login_is_locked_out_too(world: World, frozen: time_machine.Coordinates) -> None:
    client = Client()
    # The admin signs in on the product's login page, so the lockout (and MFA) apply to it as to everyone.
    assert client.get("/admin/login/").headers["Location"].startswith("/login/")
    admin_login = "/login/?next=/admin/"
    for _ in range(50):
        assert log_in(client, "root", "wrong", path=admin_login)[1] is False
    assert log_in(client, "root", PASSWORD, path=admin_login) == (429, False)
    frozen.shift(timedelta(minutes=16))
    assert log_in(client, "root", PASSWORD, path=admin_login) == (302, True)


def test_authenticate_without_a_request_is_refused_by_the_lockout_backend(world: World) -> None:
    # Every login path must pass the request, or the lockout could not count it.
    from axes.exceptions import AxesBackendRequestParameterRequired

    with pytest.raises(AxesBackendRequestParameterRequired):
        authenticate(username="alice", password=PASSWORD)
    request = RequestFactory().post("/login/", REMOTE_ADDR=ALICE_AT_HOME)
    assert authenticate(request, username="alice", password=PASSWORD) == world.alice


def test_bad_tokens_from_one_address_are_throttled(world: World, frozen: time_machine.Coordinates) -> None:
    key = accounts.create_token("bob").key
    client = Client()
    for n in range(50):
        response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer od_guess{n}", REMOTE_ADDR=ATTACKER)
        assert response.status_code in (401, 429)
    refused = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 429
    [error] = refused.json()["errors"]
    assert error["field"] == "Authorization" and error["message"].startswith("too many failed attempts")
    assert AccessAttempt.objects.get().username == TOKEN_USERNAME

    # The same token from elsewhere works; from the attacker's address after the lockout too.
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR=ALICE_AT_HOME).status_code == 200
    frozen.shift(timedelta(minutes=15, seconds=1))
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR=ATTACKER).status_code == 200


def test_the_first_bad_tokens_get_401_and_the_fifth_is_refused_with_429(world: World) -> None:
    client = Client()
    statuses = [client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer od_nope", REMOTE_ADDR=ATTACKER).status_code
                for _ in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]  # the fifth is refused and starts the lockout


def test_a_platform_admin_sees_and_clears_a_lockout_in_the_admin(world: World) -> None:
    attacker = Client()
    for _ in range(5):
        log_in(attacker, "alice", "wrong")
    attempt = AccessAttempt.objects.get()
    admin = client_for(world.root)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and ATTACKER in listing.content.decode()
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert log_in(Client(), "alice", PASSWORD) == (302, True)


def test_the_axes_commands_clear_lockouts(world: World) -> None:
    for _ in range(5):
        log_in(Client(), "alice", "wrong")
    for _ in range(5):
        Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer od_nope", REMOTE_ADDR=ALICE_AT_HOME)
    assert AccessAttempt.objects.count() == 2
    call_command("axes_reset_username", "alice", stdout=io.StringIO())
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == [TOKEN_USERNAME]
    call_command("axes_reset", stdout=io.StringIO())
    assert not AccessAttempt.objects.exists()
    assert log_in(Client(), "alice", PASSWORD) == (302, True)


def test_the_outcomedesk_command_passes_the_axes_commands_through(tmp_path: Path) -> None:
    env = {**os.environ, "OUTCOMEDESK_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "outcomedesk.config.settings"}
    for command in ["axes_reset", "axes_reset_username", "axes_reset_ip", "axes_list_attempts"]:
        done = subprocess.run([sys.executable, "-m", "outcomedesk", command, "--help"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"usage: outcomedesk {command}" in done.stdout


def test_a_peer_address_that_is_not_an_address_is_counted_without_one(world: World) -> None:
    # waitress behind a proxy puts the forwarded client in REMOTE_ADDR, whatever it is; the column is inet.
    assert log_in(Client(), "alice", "wrong", address="not-an-address") == (200, False)
    assert AccessAttempt.objects.get().ip_address is None
