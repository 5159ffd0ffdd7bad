"""Reading a desk's mailbox from a real IMAP server (Debian's Dovecot, started by the tests on 127.0.0.1): unread
mail becomes tickets and is marked read, a bad message does not stop the rest, a refused login or a server that
is down is the mailbox's health, and polls back off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from outcomedesk.core import clock
from outcomedesk.intake import tasks
from outcomedesk.intake.email import imap
from outcomedesk.intake.email import services as intake
from outcomedesk.intake.models import InboundMessage, InboundStatus, Mailbox
from outcomedesk.tickets.models import Ticket
from tests.conftest import World
from tests.mail_servers import MAILBOX_PASSWORD, DovecotServer
from tests.test_intake_email import message

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(dovecot: DovecotServer, world: World, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Mailbox:
    dovecot.empty("it-desk")
    monkeypatch.setenv("OUTCOMEDESK_TEST_IT_MAILBOX", MAILBOX_PASSWORD)
    settings.OUTCOMEDESK_MAIL_CA_FILE = str(dovecot.certificate)
    return intake.save_mailbox(world.dave, {
        "desk": world.it, "name": "IT desk", "address": "it@desk.example.org", "host": "127.0.0.1",
        "port": dovecot.tls_port, "security": "tls", "username": "it-desk",
        "secret_env": "OUTCOMEDESK_TEST_IT_MAILBOX",
    })


def test_unread_mail_becomes_tickets_and_is_marked_read(inbox: Mailbox, dovecot: DovecotServer,
                                                         world: World) -> None:
    dovecot.append("it-desk", message(message_id="<a1@x.org>", subject="Laptop will not boot"))
    dovecot.append("it-desk", message(message_id="<a2@x.org>", subject="Automatic reply: away",
                                      headers={"Auto-Submitted": "auto-replied"}))
    dovecot.append("it-desk", b"\x00\x01 garbage that is no message")
    result = imap.poll(inbox)
    assert (result.read, result.error) == (3, "")
    assert result.outcomes == {InboundStatus.TICKETED: 1, InboundStatus.IGNORED: 1, InboundStatus.QUARANTINED: 1}
    assert Ticket.objects.get().title == "Laptop will not boot"
    assert all("\\Seen" in flags for flags in dovecot.flags("it-desk"))
    inbox.refresh_from_db()
    assert (inbox.failures, inbox.last_error) == (0, "") and inbox.last_success_at is not None

    assert imap.poll(inbox).read == 0  # read mail is not read again


def test_a_message_read_twice_is_one_ticket(inbox: Mailbox, dovecot: DovecotServer, world: World) -> None:
    """As after a crash between storing a message and marking it read: the second reading changes nothing."""
    raw = message(message_id="<twice@x.org>")
    dovecot.append("it-desk", raw)
    dovecot.append("it-desk", raw)
    assert imap.poll(inbox).outcomes == {InboundStatus.TICKETED: 1, "duplicate": 1}
    assert Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1


def test_starttls_and_the_plain_port_on_this_machine(inbox: Mailbox, dovecot: DovecotServer, world: World) -> None:
    dovecot.append("it-desk", message(message_id="<s1@x.org>"))
    starttls = intake.save_mailbox(world.dave, {"port": dovecot.port, "security": "starttls"}, mailbox=inbox)
    assert imap.poll(starttls).read == 1
    dovecot.append("it-desk", message(message_id="<s2@x.org>"))
    plain = intake.save_mailbox(world.dave, {"security": "none"}, mailbox=inbox)
    assert imap.poll(plain).read == 1


def test_a_refused_login_is_the_mailboxs_health_and_polls_back_off(inbox: Mailbox, monkeypatch: pytest.MonkeyPatch,
                                                                   settings: Any) -> None:
    settings.OUTCOMEDESK_MAIL_POLL_SECONDS = 60
    monkeypatch.setenv("OUTCOMEDESK_TEST_IT_MAILBOX", "wrong password")
    now = clock.now()
    first = imap.poll(inbox, now=now)
    assert "AUTHENTICATIONFAILED" in first.error or "LoginError" in first.error
    inbox.refresh_from_db()
    assert (inbox.failures, inbox.next_poll_at) == (1, now + timedelta(seconds=120))
    imap.poll(inbox, now=now)
    inbox.refresh_from_db()
    assert (inbox.failures, inbox.next_poll_at) == (2, now + timedelta(seconds=240))
    assert inbox.last_success_at is None and inbox.last_error


def test_a_server_that_is_down_and_a_missing_secret(inbox: Mailbox, monkeypatch: pytest.MonkeyPatch,
                                                    world: World) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    down = intake.save_mailbox(world.dave, {"port": free}, mailbox=inbox)
    assert "ConnectionRefused" in imap.poll(down).error
    monkeypatch.delenv("OUTCOMEDESK_TEST_IT_MAILBOX")
    assert "OUTCOMEDESK_TEST_IT_MAILBOX" in imap.poll(inbox).error


def test_the_periodic_task_polls_each_due_mailbox_once(inbox: Mailbox, dovecot: DovecotServer) -> None:
    dovecot.append("it-desk", message(message_id="<p1@x.org>"))
    assert tasks.poll_mailboxes() == 1  # tasks run eagerly in the tests: the poll is done
    assert Ticket.objects.count() == 1
    assert tasks.poll_mailboxes() == 0  # not due again before its interval


@pytest.mark.parametrize(("values", "field"), [
    ({"security": "none", "host": "imap.example.org"}, "security"),
    ({"secret_env": "hunter2 is my password"}, "secret_env"),
    ({"port": 0}, "port"),
    ({"address": "not an address"}, "address"),
])
def test_mailbox_settings_are_checked(inbox: Mailbox, world: World, values: dict[str, Any], field: str) -> None:
    from outcomedesk.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        intake.save_mailbox(world.dave, values, mailbox=inbox)
    assert field in caught.value.errors


def test_only_the_desks_managers_configure_its_mailboxes(inbox: Mailbox, world: World) -> None:
    from outcomedesk.core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        intake.save_mailbox(world.bob, {"name": "Mine now"}, mailbox=inbox)
    with pytest.raises(NotAllowed):
        intake.save_mailbox(world.hana, {"name": "Mine now"}, mailbox=inbox)


def test_the_admin_saves_a_mailbox_through_the_service_and_shows_its_errors_beside_the_fields(world: World) -> None:
    from django.test import Client

    client = Client()
    client.force_login(world.root)  # a platform admin: the admin site is theirs; IT is an open desk
    form = {"desk": world.it.pk, "name": "IT desk", "address": "it@desk.example.org", "host": "imap.example.org",
            "port": 993, "security": "tls", "username": "it", "auth": "password", "secret_env": "my password",
            "folder": "INBOX", "unknown_senders": "create", "is_active": "on"}
    answer = client.post("/admin/intake/mailbox/add/", form)
    assert answer.status_code == 200 and "name an environment variable" in answer.content.decode()
    assert not Mailbox.objects.exists()
    answer = client.post("/admin/intake/mailbox/add/", form | {"secret_env": "OUTCOMEDESK_IT_MAILBOX"})
    assert answer.status_code == 302
    assert Mailbox.objects.get().secret_env == "OUTCOMEDESK_IT_MAILBOX"
    refused = client.post("/admin/intake/mailbox/add/", form | {"desk": world.hr.pk, "address": "hr@d.example.org",
                                                               "secret_env": "OUTCOMEDESK_HR_MAILBOX"})
    assert refused.status_code == 200 and Mailbox.objects.count() == 1  # HR is confidential: not theirs
