"""The login page (django-allauth in the product's look): username or e-mail, no self sign-up, the admin behind the
same login, logging out."""

from __future__ import annotations

from django.test import Client

from outcomedesk.accounts.models import User
from tests.conftest import World

PASSWORD = "correct horse battery staple"


def test_alice_logs_in_with_her_username(world: World) -> None:
    client = Client()
    response = client.post("/login/", {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    page = client.get("/portal/")
    assert page.status_code == 200 and b"Successfully signed in" not in page.content


def test_alice_logs_in_with_her_email_address(world: World) -> None:
    client = Client()
    response = client.post("/login/", {"login": "alice@example.org", "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == world.alice.pk


def test_a_wrong_password_is_refused_with_a_message_on_the_form(world: World) -> None:
    response = Client().post("/login/", {"login": "alice", "password": "not her password"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert b"not correct" in response.content


def test_the_login_page_goes_back_to_the_page_asked_for(world: World) -> None:
    client = Client()
    response = client.post("/login/?next=/portal/tickets/", {"login": "alice", "password": PASSWORD,
                                                             "next": "/portal/tickets/"})
    assert response.url == "/portal/tickets/"


def test_nobody_signs_themselves_up(db: None) -> None:
    client = Client()
    page = client.get("/accounts/signup/")
    assert b"No self sign-up" in page.content
    client.post("/accounts/signup/", {"username": "mallory", "email": "m@example.org", "password1": "x9!long-pass",
                                      "password2": "x9!long-pass"})
    assert not User.objects.filter(username="mallory").exists()
    assert b"/accounts/signup/" not in client.get("/login/").content


def test_the_login_page_offers_no_single_sign_on_when_none_is_configured(db: None) -> None:
    page = Client().get("/login/").content
    assert b'aria-label="Single sign-on"' not in page and b"/accounts/oidc/" not in page
    assert b"Sign in with a passkey" in page


def test_the_admin_sends_visitors_to_the_product_login(world: World) -> None:
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response.url.startswith("/login/?next=")


def test_a_platform_admin_reaches_the_admin_after_the_product_login(world: World) -> None:
    client = Client()
    client.post("/login/", {"login": "root", "password": PASSWORD})
    assert client.get("/admin/").status_code == 200


def test_logging_out_asks_then_ends_the_session(world: World) -> None:
    client = Client()
    client.post("/login/", {"login": "bob", "password": PASSWORD})
    page = client.get("/logout/")
    assert page.status_code == 200 and b"sign out" in page.content.lower()
    assert client.get("/desk/").status_code == 200  # a GET does not log out
    response = client.post("/logout/")
    assert response.status_code == 302 and response.url == "/login/"
    assert client.get("/desk/").status_code == 302


def test_people_cannot_change_their_directory_email_themselves(world: World) -> None:
    client = Client()
    client.force_login(world.alice)
    assert client.get("/accounts/email/").status_code == 404


def test_forgot_password_mails_a_reset_link_to_a_local_account(world: World, mailoutbox) -> None:  # type: ignore[no-untyped-def]
    response = Client().post("/accounts/password/reset/", {"email": "alice@example.org"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and "/accounts/password/reset/key/" in mailoutbox[0].body


def test_forgot_password_gives_no_local_password_to_a_person_who_signs_in_through_sso(
    world: World, mailoutbox  # type: ignore[no-untyped-def]
) -> None:
    User.objects.filter(pk=world.carol.pk).update(password="!unusable")
    Client().post("/accounts/password/reset/", {"email": "carol@example.org"})
    assert all("/accounts/password/reset/key/" not in mail.body for mail in mailoutbox)


def test_a_person_without_a_local_password_cannot_give_themselves_one(world: World) -> None:
    User.objects.filter(pk=world.carol.pk).update(password="!unusable")
    client = Client()
    client.force_login(User.objects.get(pk=world.carol.pk))
    assert client.get("/accounts/password/set/").status_code == 404
    assert b"Change password" not in client.get("/portal/preferences/").content
