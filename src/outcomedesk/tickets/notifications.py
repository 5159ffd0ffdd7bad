"""E-mail notifications to requester, assignee and watchers: composed from the desk's templates and queued in the
outbox (`outcomedesk.mail`) by a task after the change commits, then sent by it."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.urls import reverse

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.core.html import html_to_text
from outcomedesk.mail import composing
from outcomedesk.mail import services as mail
from outcomedesk.mail.models import STAFF_KINDS
from outcomedesk.tickets.models import Comment, Ticket
from outcomedesk.tickets.signals import notifications_sent

log = logging.getLogger(__name__)

# Every notification of a ticket names the ticket's thread (References: <inc0000123@DOMAIN>) and has its own id
# (<inc0000123.HEX@DOMAIN>), so that mail clients thread them and a reply names its ticket in In-Reply-To.
LOOP_HEADER = "X-Outcomedesk-Loop"
_NUMBER_IN_ID = re.compile(r"^([a-z]{3}[0-9]{7})(?:\.[0-9a-f]+)?@(.+)$")


def mail_domain() -> str:
    """The domain of our Message-IDs: OUTCOMEDESK_MAIL_DOMAIN, else the domain of the From address."""
    return str(settings.OUTCOMEDESK_MAIL_DOMAIN)


def thread_id(number: str) -> str:
    return f"<{number.lower()}@{mail_domain()}>"


def new_message_id(number: str) -> str:
    return f"<{number.lower()}.{uuid.uuid4().hex}@{mail_domain()}>"


def number_of_message_id(message_id: str) -> str | None:
    """The ticket number one of our Message-IDs names (given without <>), or None for anybody else's."""
    found = _NUMBER_IN_ID.match(message_id.strip().strip("<>").lower())
    if found is None or found.group(2) != mail_domain().lower():
        return None
    return found.group(1).upper()


def thread_headers(number: str) -> dict[str, str]:
    """Headers of a message about ticket `number`: its own id, the ticket's thread, and the marks that keep
    auto-responders (RFC 3834) and our own intake from answering it."""
    return {"Message-ID": new_message_id(number), "References": thread_id(number), "In-Reply-To": thread_id(number),
            "Auto-Submitted": "auto-generated", LOOP_HEADER: mail_domain()}

_muted: ContextVar[bool] = ContextVar("outcomedesk_notifications_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """No e-mails for changes made inside the block (history imports, the demo)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted() -> bool:
    return _muted.get()


def notify(event: str, ticket_id: int, actor_id: int | None, comment_id: int | None = None) -> None:
    """Queue the e-mails of one ticket event for a worker (serve's worker thread without a broker). The key names
    this event: the task may run twice, its e-mails are queued once."""
    from outcomedesk.tickets.tasks import send_ticket_notifications

    if _muted.get():
        return

    send_ticket_notifications.delay(event, ticket_id, actor_id, comment_id, uuid.uuid4().hex)


def recipients(event: str, ticket: Ticket, actor_id: int | None) -> list[tuple[User, bool]]:
    """(person, is_staff) pairs to tell about `event`: never the actor (except the requester's confirmation of a
    ticket they opened: it carries the number their replies thread on), only those who receive this kind."""
    people: dict[int, tuple[User, bool]] = {}

    def add(user: User | None, *, even_the_actor: bool = False) -> None:
        if user is None or (user.pk == actor_id and not even_the_actor):
            return
        people[user.pk] = (user, policy.can(user, policy.WORK, ticket))

    if event == "assigned":
        add(ticket.assignee)
    else:
        if event not in STAFF_KINDS:
            add(ticket.requester, even_the_actor=event == "created")
        add(ticket.assignee)
        for watcher in ticket.watchers.all():
            add(watcher)
    wanted = mail.receives([user for user, _ in people.values()], event)
    return [(user, staff) for user, staff in people.values()
            if user.pk in wanted and (staff or event not in STAFF_KINDS)]


def _url(number: str, staff: bool) -> str:
    return f"{settings.OUTCOMEDESK_BASE_URL}{reverse('web:ticket' if staff else 'portal:ticket', args=[number])}"


def context(ticket: Ticket, user: User, staff: bool, comment: Comment | None) -> dict[str, Any]:
    """What a template may show (composing.SAMPLE lists the same names), as plain values."""
    values: dict[str, Any] = {
        "ticket": {"number": ticket.number, "title": ticket.title, "state": ticket.get_state_display(),
                   "priority": ticket.get_priority_display(), "type": ticket.get_type_display(),
                   "desk": ticket.desk.name, "url": _url(ticket.number, staff),
                   "resolution": ticket.resolution_notes},
        "recipient": {"name": str(user), "email": user.email, "is_staff": staff},
        "site": {"url": settings.OUTCOMEDESK_BASE_URL},
    }
    if comment is not None and (comment.is_public or staff):
        author = comment.author
        values["comment"] = {"text": html_to_text(comment.body), "public": comment.is_public,
                             "author": str(author) if author else ""}
    survivor = ticket.duplicate_of
    if survivor is not None:
        values["survivor"] = {"number": survivor.number, "title": survivor.title, "url": _url(survivor.number, staff)}
    return values


def send(event: str, ticket_id: int, actor_id: int | None, comment_id: int | None = None, key: str = "") -> int:
    """Queue the e-mails of one event in the outbox (once per `key` and person) and send them; returns how many
    went out now (the outbox retries the others)."""
    ticket = (Ticket.objects.select_related("requester", "assignee", "desk", "duplicate_of")
              .filter(pk=ticket_id).first())
    if ticket is None:
        return 0
    key = key or uuid.uuid4().hex
    comment = Comment.objects.select_related("author").filter(pk=comment_id).first() if comment_id else None
    stored = composing.templates_for({ticket.desk_id})
    drafts = []
    for user, staff in recipients(event, ticket, actor_id):
        words = composing.compose(event, ticket.desk_id, context(ticket, user, staff, comment), stored)
        headers = thread_headers(ticket.number)
        drafts.append(mail.Draft(
            key=f"ticket:{key}:{user.pk}", kind=event, recipient=user, subject=words.subject, text=words.text,
            desk_id=ticket.desk_id, ticket_number=ticket.number, sender=ticket.desk.email_from, headers=headers,
            message_id=headers.pop("Message-ID")))
    rows = mail.queue(drafts)
    sent = mail.deliver([row.pk for row in rows]) if rows else 0
    notifications_sent.send(sender=Ticket, event=event, ticket_id=ticket.pk, rows=rows)
    return sent


def send_safely(*args: Any) -> int:
    """A failed e-mail never fails the change that caused it."""
    try:
        return send(*args)
    except Exception:
        log.exception("ticket notification failed: %s", args)
        return 0
