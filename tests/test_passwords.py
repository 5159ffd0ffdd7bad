"""Password rules: Django's four validators, through the service and through `outcomedesk createuser`."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import User
from outcomedesk.core.errors import InvalidInput

pytestmark = pytest.mark.django_db


def test_all_four_of_djangos_validators_are_on() -> None:
    names = [v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert names == ["UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator",
                     "NumericPasswordValidator"]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("83920174561650", "entirely numeric"),
        ("short1", "too short"),
        ("password123", "too common"),
        ("erin.lindqvist", "too similar"),
    ],
)
def test_create_user_refuses_a_weak_password_naming_the_rule(password: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        accounts.create_user("erin.lindqvist", email="erin@example.org", password=password)
    assert caught.value.field == "password"
    assert not User.objects.filter(username="erin.lindqvist").exists()


def test_create_user_accepts_digits_among_letters() -> None:
    user = accounts.create_user("erin", password="8392 0174 tulip 5616")
    assert user.check_password("8392 0174 tulip 5616")


def test_outcomedesk_createuser_refuses_an_all_digit_password() -> None:
    with pytest.raises(CommandError, match="entirely numeric"):
        call_command("createuser", "erin", "--password", "83920174561650", stdout=io.StringIO())
    assert not User.objects.filter(username="erin").exists()
    call_command("createuser", "erin", "--password", "8392 0174 tulip 5616", stdout=io.StringIO())
    assert User.objects.get(username="erin").check_password("8392 0174 tulip 5616")
