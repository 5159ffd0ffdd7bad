"""API tokens: an optional expiry, the deployment's longest life, the last use, and what a refused one says."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command
from django.test import Client

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import ApiToken
from outcomedesk.core.errors import InvalidInput
from tests.conftest import World, client_for

pytestmark = pytest.mark.django_db
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def me(key: str) -> tuple[int, dict[str, object]]:
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    return response.status_code, response.json()


def test_a_token_works_until_it_expires_then_says_so(world: World, frozen: time_machine.Coordinates) -> None:
    key = run("token", "create", "bob", "--expires-in", "30").strip()
    assert ApiToken.objects.get().expires_at == START + timedelta(days=30)
    assert me(key)[0] == 200

    frozen.shift(timedelta(days=30))
    status, body = me(key)
    assert status == 401
    assert body == {"detail": "Authorization: token expired",
                    "errors": [{"field": "Authorization", "message": "token expired"}]}
    assert not AccessAttempt.objects.exists()  # a real token, not a guess: no lockout for its owner's address


def test_a_revoked_token_says_so(world: World) -> None:
    issued = accounts.create_token("bob")
    accounts.revoke_token(issued.token.prefix)
    assert me(issued.key) == (401, {"detail": "Authorization: token revoked",
                                    "errors": [{"field": "Authorization", "message": "token revoked"}]})


def test_expires_names_the_last_day_the_token_works(world: World, frozen: time_machine.Coordinates) -> None:
    key = run("token", "create", "bob", "--expires", "2027-03-10").strip()
    assert ApiToken.objects.get().expires_at == datetime(2027, 3, 11, tzinfo=UTC)  # TIME_ZONE is UTC in tests
    frozen.move_to(datetime(2027, 3, 10, 23, 59, tzinfo=UTC))
    assert me(key)[0] == 200
    frozen.move_to(datetime(2027, 3, 11, 0, 0, tzinfo=UTC))
    assert me(key)[0] == 401


def test_the_last_use_is_recorded_at_most_once_a_minute(world: World, frozen: time_machine.Coordinates) -> None:
    issued = accounts.create_token("bob")
    assert issued.token.last_used_at is None
    me(issued.key)
    assert ApiToken.objects.get().last_used_at == START
    frozen.shift(timedelta(seconds=30))
    me(issued.key)
    assert ApiToken.objects.get().last_used_at == START
    frozen.shift(timedelta(seconds=31))
    me(issued.key)
    assert ApiToken.objects.get().last_used_at == START + timedelta(seconds=61)


def test_token_list_shows_expiry_last_use_and_state(world: World, frozen: time_machine.Coordinates) -> None:
    used = accounts.create_token("bob", "ci", expires_at=START + timedelta(days=7))
    me(used.key)
    accounts.create_token("dave", "laptop")
    revoked = accounts.create_token("dave", "old")
    accounts.revoke_token(revoked.token.prefix)
    frozen.shift(timedelta(days=8))
    lines = run("token", "list").splitlines()
    assert lines[0].split() == ["PREFIX", "USER", "NAME", "CREATED", "EXPIRES", "LAST", "USED", "STATE"]
    bob, dave, old = (line.split() for line in lines[1:])
    assert bob[1:] == ["bob", "ci", "2027-03-01", "09:00", "2027-03-08", "09:00", "2027-03-01", "09:00", "expired"]
    assert dave[1:] == ["dave", "laptop", "2027-03-01", "09:00", "never", "never", "active"]
    assert old[-3:] == ["revoked", "2027-03-01", "09:00"]
    assert run("token", "list", "bob").count("\n") == 2


def test_the_deployment_caps_a_tokens_life(world: World, settings: object,
                                           frozen: time_machine.Coordinates) -> None:
    settings.OUTCOMEDESK_TOKEN_MAX_DAYS = 90  # type: ignore[attr-defined]
    assert accounts.create_token("bob").token.expires_at == START + timedelta(days=90)
    assert accounts.create_token("bob", expires_at=START + timedelta(days=10)).token.expires_at == START + timedelta(
        days=10)
    with pytest.raises(InvalidInput, match="at most 90 days") as caught:
        accounts.create_token("bob", expires_at=START + timedelta(days=91))
    assert caught.value.field == "expires_at"
    with pytest.raises(CommandError, match="at most 90 days"):
        run("token", "create", "bob", "--expires-in", "365")
    assert ApiToken.objects.count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expires-in", "0"], "1 or more"),
        (["--expires-in", "-3"], "1 or more"),
        (["--expires", "next tuesday"], "YYYY-MM-DD"),
        (["--expires", "2027-02-28"], "must be in the future"),
        (["--name", "  "], "name: is required"),
    ],
)
def test_token_create_rejects_a_bad_expiry(world: World, frozen: time_machine.Coordinates, args: list[str],
                                            message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("token", "create", "bob", *args)
    assert not ApiToken.objects.exists()


def test_expires_in_and_expires_cannot_both_be_given(world: World) -> None:
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("token", "create", "bob", "--expires-in", "3", "--expires", "2030-01-01")


def test_the_admin_lists_tokens_with_their_expiry_and_cannot_make_one(world: World,
                                                                      frozen: time_machine.Coordinates) -> None:
    accounts.create_token("bob", "ci", expires_at=START + timedelta(days=7))
    admin = client_for(world.root)
    page = admin.get("/admin/accounts/apitoken/").content.decode()
    assert "Expires at" in page and "Last used at" in page
    assert '<td class="field-expires_at nowrap">8 Mar 2027, 9 a.m.</td>' in page
    assert admin.get("/admin/accounts/apitoken/add/").status_code == 403
