"""E-mail intake: a message becomes a ticket or a reply on its ticket, once; auto-replies, bounces and loops never
become tickets; unknown senders follow the desk's choice; what cannot be read is quarantined and the next
message is read; the MTA pipe's exit status says whether the MTA must try again."""

from __future__ import annotations

import io
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command

from outcomedesk.accounts.models import User
from outcomedesk.core.errors import InvalidInput, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.intake.email import services as intake
from outcomedesk.intake.models import InboundMessage, InboundStatus, Mailbox, UnknownSenders
from outcomedesk.tickets import notifications
from outcomedesk.tickets.models import Comment, State, Ticket
from tests import factories as f
from tests.conftest import World

pytestmark = pytest.mark.django_db
CORPUS = Path(__file__).parent / "mail_corpus"


def message(sender: str = "alice@example.org", subject: str = "Printer on floor 3 jams", body: str = "It jams.",
            *, message_id: str | None = "<m1@mail.example.org>", headers: dict[str, str] | None = None,
            attachments: tuple[tuple[str, bytes, str], ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "it@desk.example.org"
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def test_a_new_message_opens_a_ticket_for_its_sender_with_its_attachments(world: World) -> None:
    raw = message(body="It jams on every page.\n\nAlice", attachments=(("jam.png", b"\x89PNG fake", "image/png"),))
    received = intake.receive(raw, desk=world.it)
    row = received.message
    assert (row.status, received.duplicate, row.message_id) == (InboundStatus.TICKETED, False, "m1@mail.example.org")
    ticket = Ticket.objects.get()
    assert (ticket.requester, ticket.desk, ticket.channel, ticket.title) == (
        world.alice, world.it, Channel.EMAIL, "Printer on floor 3 jams")
    assert "It jams on every page." in ticket.description
    assert [a.filename for a in ticket.attachments.all()] == ["jam.png"]
    assert row.ticket == ticket and intake.original(row) == raw


def test_the_same_message_twice_is_one_ticket(world: World) -> None:
    first = intake.receive(message(), desk=world.it)
    again = intake.receive(message(), desk=world.it)
    assert again.duplicate and again.message.pk == first.message.pk
    assert Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1


def test_a_message_two_pollers_process_at_once_is_one_ticket(world: World) -> None:
    """Two polls of one mailbox (or a poll and the sweep of interrupted messages) hold the same stored message:
    whoever comes second finds it processed, and opens nothing."""
    ours, created = intake.store(message(), desk=world.it)
    theirs = InboundMessage.objects.get(pk=ours.pk)  # read by the other poller before either processed it
    assert created and intake.process(ours).status == InboundStatus.TICKETED
    again = intake.process(theirs)
    assert (again.status, again.ticket_id, again.attempts) == (InboundStatus.TICKETED, ours.ticket_id, 1)
    assert Ticket.objects.count() == 1


def test_a_message_without_message_id_is_still_received_once(world: World) -> None:
    raw = message(message_id=None)
    intake.receive(raw, desk=world.it)
    intake.receive(raw, desk=world.it)
    assert Ticket.objects.count() == 1


def test_a_reply_to_our_notification_threads_on_its_ticket(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="VPN drops")
    ours = notifications.thread_headers(ticket.number)["Message-ID"]
    raw = message(subject="Re: something else entirely", body="Still dropping.\n\nOn Monday Bob wrote:\n> try again",
                  message_id="<r1@mail.example.org>", headers={"In-Reply-To": ours, "References": ours})
    row = intake.receive(raw, desk=world.it).message
    assert (row.status, row.ticket) == (InboundStatus.THREADED, ticket)
    comment = Comment.objects.get(ticket=ticket)
    assert (comment.author, comment.is_public, comment.channel) == (world.alice, True, Channel.EMAIL)
    assert "Still dropping." in comment.body and "try again" not in comment.body  # quoted history trimmed


def test_a_reply_found_by_the_number_in_its_subject(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    row = intake.receive(message(subject=f"AW: [{ticket.number}] Printer", message_id="<r2@x.org>"),
                         desk=world.it).message
    assert (row.status, row.ticket) == (InboundStatus.THREADED, ticket)


def test_an_agents_reply_is_an_agent_reply(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    intake.receive(message(sender="bob@example.org", subject=f"Re: [{ticket.number}]", body="Replaced the fuser."),
                   desk=world.it)
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None  # an agent's public reply is the first response
    assert Comment.objects.get(ticket=ticket).author == world.bob


def test_a_stranger_answering_a_ticket_thread_gets_a_ticket_of_their_own(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    row = intake.receive(message(sender="carol@example.org", subject=f"Re: [{ticket.number}]"), desk=world.it).message
    assert row.status == InboundStatus.TICKETED and row.ticket != ticket
    assert not Comment.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize(("headers", "sender", "subject"), [
    ({"Auto-Submitted": "auto-replied"}, "alice@example.org", "Automatic reply: Printer"),
    ({"X-Autoreply": "yes"}, "alice@example.org", "Printer"),
    ({"Precedence": "bulk"}, "alice@example.org", "Newsletter"),
    ({}, "MAILER-DAEMON@mail.example.org", "Undelivered Mail Returned to Sender"),
    ({notifications.LOOP_HEADER: "desk.example.org"}, "alice@example.org", "Re: [INC0000001] Received"),
])
def test_auto_replies_bounces_and_loops_never_become_tickets(world: World, headers: dict[str, str], sender: str,
                                                             subject: str) -> None:
    row = intake.receive(message(sender=sender, subject=subject, headers=headers), desk=world.it).message
    assert row.status == InboundStatus.IGNORED and row.reason
    assert not Ticket.objects.exists()
    assert mail.outbox == []  # never answered


def test_mail_from_one_of_our_own_mailboxes_is_a_loop(world: World) -> None:
    Mailbox.objects.create(desk=world.hr, name="HR", address="hr@desk.example.org", host="127.0.0.1",
                           username="hr", secret_env="X")
    row = intake.receive(message(sender="hr@desk.example.org"), desk=world.it).message
    assert row.status == InboundStatus.IGNORED


def test_an_unknown_sender_becomes_a_requester_by_default(world: World) -> None:
    row = intake.receive(message(sender="Zoe Newcomer <Zoe@Example.net>"), desk=world.it).message
    zoe = User.objects.get(email__iexact="zoe@example.net")
    assert (row.status, row.ticket.requester if row.ticket else None, zoe.display_name) == (
        InboundStatus.TICKETED, zoe, "Zoe Newcomer")
    assert not zoe.has_usable_password()


def test_a_mailbox_may_reject_unknown_senders_with_a_reply_saying_why(
        world: World, django_capture_on_commit_callbacks: Any) -> None:
    box = Mailbox.objects.create(desk=world.it, name="IT", address="it@desk.example.org", host="127.0.0.1",
                                 username="it", secret_env="X", unknown_senders=UnknownSenders.REJECT)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        row = intake.receive(message(sender="zoe@example.net"), desk=world.it, mailbox=box).message
    assert row.status == InboundStatus.REJECTED and "has no account" in row.reason
    assert not Ticket.objects.exists() and not User.objects.filter(email="zoe@example.net").exists()
    [answer] = mail.outbox
    assert answer.to == ["zoe@example.net"] and answer.subject == "Not received: Printer on floor 3 jams"
    assert "has no account" in answer.body and answer.extra_headers["Auto-Submitted"] == "auto-replied"
    assert answer.extra_headers["In-Reply-To"] == "<m1@mail.example.org>"
    with django_capture_on_commit_callbacks(execute=True):  # the same message again: no second answer
        intake.receive(message(sender="zoe@example.net"), desk=world.it, mailbox=box)
    assert len(mail.outbox) == 1


def test_a_disabled_account_cannot_open_tickets_by_mail(world: World) -> None:
    User.objects.filter(pk=world.alice.pk).update(is_active=False)
    row = intake.receive(message(), desk=world.it).message
    assert row.status == InboundStatus.REJECTED and "disabled" in row.reason


def test_attachments_the_desk_refuses_are_named_not_lost_silently(world: World, settings: Any) -> None:
    settings.ATTACHMENT_ALLOWED_TYPES = [".png"]
    exe = ("run.exe", b"MZ", "application/x-msdownload")
    intake.receive(message(attachments=(("a.png", b"png", "image/png"), exe)), desk=world.it)
    ticket = Ticket.objects.get()
    assert [a.filename for a in ticket.attachments.all()] == ["a.png"]
    assert "Not attached: run.exe (files of type .exe are not accepted)" in ticket.description


def test_garbage_is_quarantined_and_the_next_message_is_read(world: World) -> None:
    bad = intake.receive(b"\x00\x01 not a message at all", desk=world.it).message
    good = intake.receive(message(), desk=world.it).message
    assert bad.status == InboundStatus.QUARANTINED and bad.reason
    assert good.status == InboundStatus.TICKETED


def test_a_quarantined_message_can_be_retried_or_discarded_by_the_desk_manager(world: World) -> None:
    bad = intake.receive(b"\x00\x01 garbage", desk=world.it).message
    with pytest.raises(NotFound):
        intake.retry(world.hana, bad)  # another desk's mail is not there for her
    with pytest.raises(Exception, match="managers"):
        intake.retry(world.bob, bad)  # an agent sees it, only a manager acts on it
    assert intake.retry(world.dave, bad).status == InboundStatus.QUARANTINED  # still garbage
    discarded = intake.discard(world.dave, bad)
    assert discarded.status == InboundStatus.DISCARDED and not discarded.raw
    with pytest.raises(InvalidInput):
        intake.discard(world.dave, bad)


def test_a_rejected_sender_retried_after_they_got_an_account(world: World) -> None:
    box = Mailbox.objects.create(desk=world.it, name="IT", address="it@desk.example.org", host="127.0.0.1",
                                 username="it", secret_env="X", unknown_senders=UnknownSenders.REJECT)
    row = intake.receive(message(sender="zoe@example.net"), desk=world.it, mailbox=box).message
    f.make_user("zoe", email="zoe@example.net")
    assert intake.retry(world.dave, row).status == InboundStatus.TICKETED


def test_every_corpus_message_ends_somewhere_and_none_stalls_the_inbox(world: World) -> None:
    """The real-world-shaped corpus (tests/mail_corpus): each message is kept and ends ticketed, threaded, ignored
    or quarantined; none raises."""
    files = sorted(CORPUS.glob("*.eml"))
    assert len(files) >= 200
    for path in files:
        intake.receive(path.read_bytes(), desk=world.it)
    statuses = set(InboundMessage.objects.values_list("status", flat=True))
    assert InboundStatus.RECEIVED not in statuses
    assert {InboundStatus.TICKETED, InboundStatus.IGNORED} <= statuses
    assert InboundMessage.objects.count() >= len(files) - 5  # a few corpus files are one message in two shapes


# --- the MTA pipe ------------------------------------------------------------------------------------------------

def pipe(raw: bytes, *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("intake", "email", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_the_pipe_exits_0_for_a_ticket_a_duplicate_and_a_quarantined_message(world: World,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, _ = pipe(message(), "--desk", "it", monkeypatch=monkeypatch)
    assert status == 0 and "opened a ticket INC" in out
    status, out, _ = pipe(message(), "--desk", "it", monkeypatch=monkeypatch)
    assert status == 0 and "already received" in out
    status, out, _ = pipe(b"\x00 garbage", "--desk", "it", monkeypatch=monkeypatch)
    assert status == 0 and "quarantined" in out
    assert Ticket.objects.count() == 1


def test_the_pipe_finds_the_desk_by_the_mailbox_address(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    Mailbox.objects.create(desk=world.it, name="IT", address="it@desk.example.org", host="127.0.0.1",
                           username="it", secret_env="X")
    status, _, _ = pipe(message(), monkeypatch=monkeypatch)
    assert status == 0 and Ticket.objects.get().desk == world.it


def test_the_pipe_refuses_a_wrong_command_without_storing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, err = pipe(message(), "--desk", "nope", monkeypatch=monkeypatch)
    assert status == 64 and "no active desk 'nope'" in err
    status, _, err = pipe(message(), monkeypatch=monkeypatch)  # no mailbox has the recipient's address
    assert status == 64 and "give --desk" in err
    assert not InboundMessage.objects.exists()


def test_the_pipe_asks_the_mta_to_retry_when_nothing_could_be_stored(world: World, monkeypatch: pytest.MonkeyPatch,
                                                                       settings: Any, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocked  # the raw message cannot be written
    status, _, err = pipe(message(), "--desk", "it", monkeypatch=monkeypatch)
    assert status == 75 and "nothing stored" in err
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()


def test_a_closed_ticket_is_not_reopened_by_a_late_reply(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    Ticket.objects.filter(pk=ticket.pk).update(state=State.CLOSED)
    row = intake.receive(message(subject=f"Re: [{ticket.number}]"), desk=world.it).message
    assert row.status == InboundStatus.TICKETED and row.ticket != ticket


def test_a_message_kept_but_never_processed_is_finished_by_the_periodic_task(world: World) -> None:
    """As when the process is killed between keeping a message and processing it."""
    from datetime import timedelta

    from outcomedesk.core import clock
    from outcomedesk.intake import tasks

    row, created = intake.store(message(), desk=world.it)
    assert created and row.status == InboundStatus.RECEIVED
    assert tasks.finish_interrupted() == 0  # too fresh: perhaps still being processed
    assert tasks.finish_interrupted(clock.now() + timedelta(minutes=6)) == 1
    row.refresh_from_db()
    assert row.status == InboundStatus.TICKETED and Ticket.objects.count() == 1


def test_the_service_managers_dashboard_shows_the_mailboxes_health(world: World) -> None:
    from django.test import Client

    from outcomedesk.core import clock

    it_box = Mailbox.objects.create(desk=world.it, name="IT inbox", address="it@desk.example.org",
                                    host="127.0.0.1", username="it", secret_env="X", failures=3,
                                    last_error="LoginError: refused", last_success_at=clock.now())
    Mailbox.objects.create(desk=world.hr, name="HR inbox", address="hr@desk.example.org", host="127.0.0.1",
                           username="hr", secret_env="X")
    intake.receive(b"\x00 garbage", desk=world.it, mailbox=it_box)
    client = Client()
    client.force_login(world.dave)
    page = client.get("/insights/").content.decode()
    assert "E-mail intake" in page and "IT inbox" in page and "LoginError: refused" in page
    assert "HR inbox" not in page  # a confidential desk's mailbox stays with its members
    health = client.get("/api/v1/intake/mailboxes").json()
    assert [(h["name"], h["failures"], h["quarantined"]) for h in health] == [("IT inbox", 3, 1)]
