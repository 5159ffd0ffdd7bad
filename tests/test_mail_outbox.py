"""Outgoing e-mail end to end against a real SMTP server on 127.0.0.1 (aiosmtpd): what arrives, threaded; the
outbox's backoff while the server is down or refuses for now; at most once per notification; the survey after the
"resolved" e-mail; desks' templates; people's preferences."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail as django_mail

from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.mail import services as outbox
from outcomedesk.mail.models import MailState, OutgoingMail
from outcomedesk.tickets import notifications
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import State
from tests import factories as f
from tests.conftest import World
from tests.net import free_port
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


def to(server: SmtpServer, address: str) -> list[Any]:
    return [m for m in server.recorder.received if m["To"] == address]


def test_a_tickets_life_arrives_threaded_and_the_survey_after_resolved(
        world: World, smtp: SmtpServer, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket = tickets.open_ticket(world.bob, desk=world.it, requester=world.alice, title="VPN drops every hour")
    with django_capture_on_commit_callbacks(execute=True):
        tickets.add_comment(world.bob, ticket, "Which VPN client version do you run?", public=True)
    with django_capture_on_commit_callbacks(execute=True):
        tickets.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="Updated the VPN client.")
    got = to(smtp, world.alice.email)
    number = ticket.number
    assert [m["Subject"] for m in got] == [
        f"[{number}] Received: VPN drops every hour", f"[{number}] New reply: VPN drops every hour",
        f"[{number}] Resolved: VPN drops every hour", f"[{number}] How did we do? VPN drops every hour"]
    thread = notifications.thread_id(number)
    for message in got[:3]:
        assert message["References"] == thread and message["In-Reply-To"] == thread
        assert notifications.number_of_message_id(message["Message-ID"]) == number
        assert message["Auto-Submitted"] == "auto-generated"
    assert "Which VPN client version" in got[1].get_body(("plain",)).get_content()
    assert "Updated the VPN client." in got[2].get_body(("plain",)).get_content()
    assert got[3].get_body(("html",)) is not None  # the survey's buttons
    rows = OutgoingMail.objects.filter(to=world.alice.email).order_by("pk")
    assert [r.state for r in rows] == [MailState.SENT] * 4
    survey, resolved = rows[3], rows[2]
    assert survey.after_id == resolved.pk and survey.sent_at >= resolved.sent_at  # type: ignore[operator]


def test_requesters_get_a_confirmation_of_what_they_opened_themselves_from_the_desks_address(
        world: World, smtp: SmtpServer, django_capture_on_commit_callbacks: Any) -> None:
    world.it.email_from = "IT Service Desk <it@desk.example.org>"
    world.it.save()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = tickets.open_ticket(world.alice, desk=world.it, title="Printer jams")
    [confirmation] = to(smtp, world.alice.email)
    assert confirmation["Subject"] == f"[{ticket.number}] Received: Printer jams"
    assert "We have received your request" in confirmation.get_content()
    assert confirmation["From"] == "IT Service Desk <it@desk.example.org>"


def test_a_merge_tells_the_duplicates_requester_where_the_work_continues(
        world: World, smtp: SmtpServer, django_capture_on_commit_callbacks: Any) -> None:
    survivor = f.make_ticket(world.alice, world.it, title="E-mail is down")
    duplicate = f.make_ticket(world.carol, world.it, title="No e-mail")
    with django_capture_on_commit_callbacks(execute=True):
        tickets.merge_tickets(world.bob, duplicate, survivor.number)
    [told] = to(smtp, world.carol.email)
    assert told["Subject"] == f"[{duplicate.number}] Merged into another request: No e-mail"
    assert f"the same request as {survivor.number}" in told.get_content()


def test_the_same_notification_twice_is_sent_once(world: World, smtp: SmtpServer) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Twice")
    for _ in range(2):  # a task redelivered after its worker died
        notifications.send("comment", ticket.pk, world.bob.pk, None, "event-1")
    assert len(to(smtp, world.alice.email)) == 1
    assert OutgoingMail.objects.filter(key__startswith="ticket:event-1:").count() == 1


def test_a_mail_server_outage_is_retried_with_backoff_and_sent_once_it_is_back(
        world: World, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    ticket = f.make_ticket(world.alice, world.it, title="Outage")
    start = clock.now()
    with clock.at(start):
        notifications.send("comment", ticket.pk, world.bob.pk, None, "outage")
    row = OutgoingMail.objects.get(key__startswith="ticket:outage:")
    assert row.state == MailState.PENDING and row.attempts == 1
    assert row.next_attempt_at == start + timedelta(minutes=1)
    assert "Connection refused" in row.last_error or "ConnectionRefused" in row.last_error
    with clock.at(start + timedelta(seconds=30)):
        assert outbox.send_due() == 0  # not due yet
    with clock.at(start + timedelta(minutes=1)):
        outbox.send_due()
    row.refresh_from_db()
    assert row.attempts == 2 and row.next_attempt_at == start + timedelta(minutes=1 + 2)
    with SmtpServer() as server:
        settings.EMAIL_PORT = server.port
        with clock.at(start + timedelta(minutes=3)):
            assert outbox.send_due() == 1
            assert outbox.send_due() == 0
        assert len(server.recorder.received) == 1
        assert server.recorder.received[0]["Message-ID"] == row.message_id  # the id chosen when it was queued
    row.refresh_from_db()
    assert row.state == MailState.SENT and row.last_error == ""


def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_not(world: World, smtp: SmtpServer) -> None:
    smtp.recorder.refuse_rcpt[world.alice.email] = "550 5.1.1 No such user"
    smtp.recorder.refuse_data.append(("Temporary", "451 4.3.0 Try again later"))
    gone = f.make_ticket(world.alice, world.it, title="Gone")
    later = f.make_ticket(world.carol, world.it, title="Temporary")
    start = clock.now()
    with clock.at(start):
        notifications.send("comment", gone.pk, world.bob.pk, None, "gone")
        notifications.send("comment", later.pk, world.bob.pk, None, "later")
    refused = OutgoingMail.objects.get(key__startswith="ticket:gone:")
    assert refused.state == MailState.FAILED and "No such user" in refused.last_error
    waiting = OutgoingMail.objects.get(key__startswith="ticket:later:")
    assert waiting.state == MailState.PENDING and "Try again later" in waiting.last_error
    smtp.recorder.refuse_data.clear()
    with clock.at(start + timedelta(minutes=1)):
        assert outbox.send_due() == 1
    assert smtp.recorder.subjects() == [f"[{later.number}] New reply: Temporary"]


def test_the_survey_waits_for_the_resolved_e_mail(
        world: World, smtp: SmtpServer, django_capture_on_commit_callbacks: Any) -> None:
    smtp.recorder.refuse_data.append(("Resolved", "451 4.3.0 Try again later"))
    ticket = f.make_ticket(world.alice, world.it, title="Slow")
    start = clock.now()
    with django_capture_on_commit_callbacks(execute=True), clock.at(start):
        tickets.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="Done.")
    assert [s for s in smtp.recorder.subjects() if "How did we do" in s or "Resolved" in s] == []
    smtp.recorder.refuse_data.clear()
    with clock.at(start + timedelta(minutes=2)):  # past the first backoff (one minute after the attempt)
        outbox.send_due()
    subjects = [s for s in smtp.recorder.subjects() if s.startswith(f"[{ticket.number}]")]
    assert subjects[-2:] == [f"[{ticket.number}] Resolved: Slow", f"[{ticket.number}] How did we do? Slow"]


def test_a_desk_writes_its_own_e_mails_and_a_broken_template_is_refused(
        world: World, smtp: SmtpServer, django_capture_on_commit_callbacks: Any) -> None:
    outbox.save_template(world.dave, {"desk": "it", "kind": "created",
                                      "subject": "IT got it: {{ ticket.number }}",
                                      "body": "Hi {{ recipient.name }}, {{ ticket.title }} is with us.\n"})
    with django_capture_on_commit_callbacks(execute=True):
        ticket = tickets.open_ticket(world.alice, desk=world.it, title="Laptop")
    [message] = to(smtp, world.alice.email)
    assert message["Subject"] == f"IT got it: {ticket.number}"
    assert message.get_content().strip() == "Hi Alice Requester, Laptop is with us."
    with pytest.raises(InvalidInput) as bad:
        outbox.save_template(world.dave, {"desk": "it", "kind": "comment", "subject": "{% if %}", "body": "x"})
    assert "not a valid template" in bad.value.errors["subject"]
    with pytest.raises(InvalidInput) as bad:
        outbox.save_template(world.dave, {"desk": "it", "kind": "nope", "subject": "s", "body": "{{ x|date:1 }}"})
    assert set(bad.value.errors) == {"kind"}
    with pytest.raises(NotAllowed):
        outbox.save_template(world.bob, {"desk": "it", "kind": "comment", "subject": "s", "body": "b"})
    with pytest.raises(NotAllowed):  # every desk's: platform admins only
        outbox.save_template(world.dave, {"kind": "comment", "subject": "s", "body": "b"})


def test_people_choose_which_e_mails_they_receive(world: World, smtp: SmtpServer) -> None:
    assert "sla" not in outbox.preferences(world.alice)  # agents' e-mails are not a requester's choice
    assert outbox.set_preferences(world.alice, {"comment": False})["comment"] is False
    with pytest.raises(InvalidInput) as bad:
        outbox.set_preferences(world.alice, {"note": False, "resolved": "no"})
    assert set(bad.value.errors) == {"note", "resolved"}
    ticket = f.make_ticket(world.alice, world.it, title="Quiet")
    notifications.send("comment", ticket.pk, world.bob.pk, None, "quiet-comment")
    notifications.send("reopened", ticket.pk, world.bob.pk, None, "quiet-state")
    assert [m["Subject"] for m in to(smtp, world.alice.email)] == [f"[{ticket.number}] Reopened: Quiet"]


def test_retry_and_cancel_follow_the_policy(world: World, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ticket = f.make_ticket(world.alice, world.it, title="Policy")
    hr_ticket = f.make_ticket(world.carol, world.hr, title="Secret")
    [row] = outbox.queue([outbox.Draft(key="k1", kind="comment", recipient=world.alice, subject="s", text="t",
                                       desk_id=world.it.pk, ticket_number=ticket.number)])
    [hr_row] = outbox.queue([outbox.Draft(key="k2", kind="comment", recipient=world.carol, subject="s", text="t",
                                          desk_id=world.hr.pk, ticket_number=hr_ticket.number)])
    with pytest.raises(NotAllowed):
        outbox.cancel(world.bob, row.pk)  # an agent, not a manager
    assert outbox.cancel(world.dave, row.pk).state == MailState.CANCELLED
    assert outbox.deliver([row.pk]) == 0
    assert outbox.retry(world.dave, row.pk).state == MailState.PENDING
    assert outbox.deliver([row.pk]) == 1 and len(django_mail.outbox) == 1
    with pytest.raises(InvalidInput):
        outbox.retry(world.dave, row.pk)  # sent: never twice
    from outcomedesk.core.errors import NotFound

    with pytest.raises(NotFound):
        outbox.cancel(world.dave, hr_row.pk)  # a confidential desk's e-mail does not exist for IT's manager


def test_preferences_on_the_portal_and_in_the_api(world: World) -> None:
    from django.test import Client

    client = Client()
    client.force_login(world.alice)
    page = client.get("/portal/preferences/").content.decode()
    assert 'name="kind-comment"' in page and 'name="kind-sla"' not in page
    on = {f"kind-{kind}": "on" for kind in outbox.preferences(world.alice) if kind != "state"}
    client.post("/portal/preferences/", {"email_notifications": "on", **on})
    assert outbox.preferences(world.alice)["state"] is False and outbox.preferences(world.alice)["comment"] is True
    answer = client.put("/api/v1/mail/preferences", {"state": True, "note": False}, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": "note", "message": answer.json()["errors"][0]["message"]}]
    answer = client.put("/api/v1/mail/preferences", {"state": True}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["state"] is True


def test_the_api_previews_templates_and_lists_only_the_callers_desks_e_mails(world: World, settings: Any) -> None:
    from django.test import Client

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client = Client()
    client.force_login(world.dave)
    answer = client.post("/api/v1/mail/templates/preview", {"subject": "{{ ticket.number }}", "body": "{% for %}"},
                         content_type="application/json")
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "body"
    answer = client.post("/api/v1/mail/templates/preview",
                         {"subject": "Re: {{ ticket.number }}", "body": "Dear {{ recipient.name }}"},
                         content_type="application/json")
    assert answer.json() == {"subject": "Re: INC0001234", "text": "Dear Alice Example\n"}
    it_ticket, hr_ticket = f.make_ticket(world.alice, world.it), f.make_ticket(world.carol, world.hr)
    outbox.queue([outbox.Draft(key="it", kind="comment", recipient=world.alice, subject="it", text="t",
                               desk_id=world.it.pk, ticket_number=it_ticket.number),
                  outbox.Draft(key="hr", kind="comment", recipient=world.carol, subject="hr", text="t",
                               desk_id=world.hr.pk, ticket_number=hr_ticket.number)])
    assert [row["subject"] for row in client.get("/api/v1/mail/outbox").json()] == ["it"]
    assert client.get("/api/v1/mail/outbox?state=bogus").status_code == 400
