"""E-mail notifications to requester, assignee and watchers, sent by a task after the change commits."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.core.html import html_to_text
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

SUBJECTS = {
    "created": "[{number}] Received: {title}",
    "assigned": "[{number}] Assigned to you: {title}",
    "comment": "[{number}] New reply: {title}",
    "note": "[{number}] Internal note: {title}",
    "state": "[{number}] Now {state}: {title}",
    "resolved": "[{number}] Resolved: {title}",
    "reopened": "[{number}] Reopened: {title}",
    "merged": "[{number}] Merged into another request: {title}",
}


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
    """Queue the e-mails of one ticket event for a worker (serve's worker thread without a broker)."""
    from outcomedesk.tickets.tasks import send_ticket_notifications

    if _muted.get():
        return

    send_ticket_notifications.delay(event, ticket_id, actor_id, comment_id)


def recipients(event: str, ticket: Ticket, actor_id: int | None) -> list[tuple[User, bool]]:
    """(person, is_staff) pairs to tell about `event`; never the actor, never people who opted out."""
    staff_events = {"assigned", "note"}
    people: dict[int, tuple[User, bool]] = {}

    def add(user: User | None) -> None:
        if user is None or user.pk == actor_id or not user.email or not user.email_notifications:
            return
        if not user.is_active:
            return
        people[user.pk] = (user, policy.can(user, policy.WORK, ticket))

    if event == "assigned":
        add(ticket.assignee)
    else:
        if event not in staff_events:
            add(ticket.requester)
        add(ticket.assignee)
        for watcher in ticket.watchers.all():
            add(watcher)
    if event == "note":
        return [(u, staff) for u, staff in people.values() if staff]
    return list(people.values())


def send(event: str, ticket_id: int, actor_id: int | None, comment_id: int | None = None) -> int:
    ticket = Ticket.objects.select_related("requester", "assignee", "desk", "duplicate_of").filter(pk=ticket_id).first()
    if ticket is None:
        return 0
    comment = Comment.objects.filter(pk=comment_id).first() if comment_id else None
    subject = SUBJECTS.get(event, SUBJECTS["state"]).format(
        number=ticket.number, title=ticket.title, state=ticket.get_state_display().lower()
    )
    messages = []
    for user, staff in recipients(event, ticket, actor_id):
        path = reverse("web:ticket", args=[ticket.number]) if staff else reverse("portal:ticket", args=[ticket.number])
        lines = [f"{ticket.number}: {ticket.title}", f"State: {ticket.get_state_display()}", ""]
        if comment is not None and (comment.is_public or staff):
            lines += [html_to_text(comment.body), ""]
        if event == "resolved" and ticket.resolution_notes:
            lines += ["Resolution:", ticket.resolution_notes, ""]
        if event == "merged" and ticket.duplicate_of is not None:
            survivor = ticket.duplicate_of
            there = reverse("web:ticket" if staff else "portal:ticket", args=[survivor.number])
            lines += [f"This is the same request as {survivor.number} ({survivor.title}): the work continues there.",
                      f"{settings.OUTCOMEDESK_BASE_URL}{there}", ""]
        lines.append(f"{settings.OUTCOMEDESK_BASE_URL}{path}")
        lines.append("")
        lines.append("You receive this because you requested, are assigned to or watch this ticket.")
        messages.append(EmailMessage(subject, "\n".join(lines), to=[user.email], headers=thread_headers(ticket.number)))
    if messages:
        get_connection().send_messages(messages)
    notifications_sent.send(sender=Ticket, event=event, ticket_id=ticket.pk)
    return len(messages)


def send_safely(*args: Any) -> int:
    """A failed e-mail never fails the change that caused it."""
    try:
        return send(*args)
    except Exception:
        log.exception("ticket notification failed: %s", args)
        return 0
