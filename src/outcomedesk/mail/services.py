"""The one way e-mail leaves: `queue` keeps drafts in the outbox (once per idempotency key), `deliver` sends what
is due through the configured connection (SMTP in production) and backs off while the server refuses; admins and
desk managers `retry` or `cancel` a row. Templates and people's preferences are written here too.

At most once per key: a task that runs twice queues nothing new. A row is claimed for one attempt before it is
sent, so two workers never send it both; a worker killed between the server's "250 OK" and marking the row sent
leaves it to be sent again after the claim expires, with the same Message-ID (the recipient's mail system sees the
same message twice, which mail clients show once)."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.mail import composing
from outcomedesk.mail.models import (
    NOT_A_CHOICE,
    STAFF_KINDS,
    Kind,
    MailPreference,
    MailState,
    MailTemplate,
    OutgoingMail,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
MAX_WAIT = timedelta(hours=6)
CLAIM = timedelta(minutes=5)  # one attempt's lease: longer than any SMTP timeout
WAIT_FOR_AFTER = timedelta(seconds=30)
ERROR_KEPT = 2000


@dataclass(frozen=True)
class Draft:
    """One e-mail to one person, before it is in the outbox."""

    key: str
    kind: str
    recipient: User | None  # None: someone without an account (`to`), e.g. the sender of a rejected message
    subject: str
    text: str
    to: str = ""  # the recipient's address when not given
    desk_id: int | None = None
    ticket_number: str = ""
    sender: str = ""
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    after_key: str = ""  # sent only after the e-mail of this key (when there is one)


# --- who wants what ------------------------------------------------------------------------------------------

def receives(users: Iterable[User], kind: str) -> set[int]:
    """Of `users`, those who receive e-mails of `kind`: active, with an address, e-mails on, `kind` not turned
    off (one query, none when nobody is left after the first three)."""
    people = {u.pk: u for u in users if u.is_active and u.email and u.email_notifications}
    if not people:
        return set()
    off = set(MailPreference.objects.filter(user_id__in=list(people), kind=kind, enabled=False)
              .values_list("user_id", flat=True))
    return set(people) - off


def preferences(user: User) -> dict[str, bool]:
    """Every kind the person may receive, with their choice."""
    staff = policy.roles(user).agent
    chosen = dict(MailPreference.objects.filter(user=user).values_list("kind", "enabled"))
    return {kind: chosen.get(kind, True) for kind in Kind.values
            if (staff or kind not in STAFF_KINDS) and kind not in NOT_A_CHOICE}


def set_preferences(user: User, values: dict[str, Any]) -> dict[str, bool]:
    """Turn kinds of e-mail on or off for oneself; `values` maps kinds to booleans. All or nothing."""
    allowed = preferences(user)
    errors = {name: f"is not a kind of e-mail you receive (choose from {', '.join(allowed)})"
              for name in values if name not in allowed}
    errors |= {name: "must be true or false" for name, value in values.items()
               if name in allowed and not isinstance(value, bool)}
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        for kind, enabled in values.items():
            MailPreference.objects.update_or_create(user=user, kind=kind, defaults={"enabled": enabled})
    return preferences(user)


# --- the outbox ----------------------------------------------------------------------------------------------

def new_message_id() -> str:
    return make_msgid(domain=str(settings.OUTCOMEDESK_MAIL_DOMAIN))


def queue(drafts: list[Draft], now: datetime | None = None) -> list[OutgoingMail]:
    """Keep the drafts in the outbox, once per key (a key queued before is left as it is); returns the rows of
    all the drafts' keys, in the drafts' order."""
    if not drafts:
        return []
    now = now or clock.now()
    after_keys = {d.after_key for d in drafts if d.after_key}
    afters = dict(OutgoingMail.objects.filter(key__in=after_keys).values_list("key", "pk")) if after_keys else {}
    OutgoingMail.objects.bulk_create([
        OutgoingMail(key=d.key, kind=d.kind, desk_id=d.desk_id, ticket_number=d.ticket_number, recipient=d.recipient,
                     to=d.to or (d.recipient.email if d.recipient else ""), sender=d.sender,
                     subject=d.subject[:300], text=d.text, html=d.html,
                     headers=d.headers, message_id=d.message_id or new_message_id(),
                     after_id=afters.get(d.after_key), created_at=now, next_attempt_at=now)
        for d in drafts], ignore_conflicts=True)
    rows = {row.key: row for row in OutgoingMail.objects.filter(key__in=[d.key for d in drafts])}
    return [rows[d.key] for d in drafts if d.key in rows]


def deliver_after_commit(rows: list[OutgoingMail]) -> None:
    """Have a worker send these rows once the transaction that queued them commits."""
    from outcomedesk.mail.tasks import deliver_mail

    ids = [row.pk for row in rows if row.state == MailState.PENDING]
    if ids:
        transaction.on_commit(lambda: deliver_mail.delay(ids))


def _claim(ids: list[int] | None, now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        due = OutgoingMail.objects.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
                                          state=MailState.PENDING)
        if ids is not None:
            due = due.filter(pk__in=ids)
        due = due.order_by("pk")
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        claimed = list(due.values_list("pk", flat=True)[:limit])
        if claimed:
            OutgoingMail.objects.filter(pk__in=claimed).update(next_attempt_at=now + CLAIM)
    return claimed


def _message(row: OutgoingMail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(row.subject, row.text, from_email=row.sender or None, to=[row.to],
                                     headers={**row.headers, "Message-ID": row.message_id})
    if row.html:
        message.attach_alternative(row.html, "text/html")
    return message


def _permanent(exc: Exception) -> bool:
    """A refusal that will not change: a 5xx answer to the recipient or the data (a wrong address, say)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and not isinstance(exc, smtplib.SMTPServerDisconnected) \
        and exc.smtp_code >= 500


def _failed(row: OutgoingMail, exc: Exception, now: datetime) -> None:
    row.attempts += 1
    row.last_attempt_at = now
    row.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_KEPT]
    if _permanent(exc) or row.attempts >= MAX_ATTEMPTS:
        row.state, row.next_attempt_at = MailState.FAILED, None
    else:
        row.next_attempt_at = now + min(timedelta(minutes=2 ** (row.attempts - 1)), MAX_WAIT)
    row.save(update_fields=["attempts", "last_attempt_at", "last_error", "state", "next_attempt_at"])


def deliver(ids: list[int] | None = None, now: datetime | None = None, *, limit: int = 200) -> int:
    """Send the due rows (of `ids`, or any); returns how many went out. Rows are sent in the order they were
    queued, over one connection; a row waiting on another (`after`) waits until that one is done."""
    now = now or clock.now()
    claimed = _claim(ids, now, limit)
    if not claimed:
        return 0
    rows = list(OutgoingMail.objects.filter(pk__in=claimed).select_related("after").order_by("pk"))
    done: set[int] = set()
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:  # the server is down: every row waits for the next attempt
        log.warning("outgoing mail: cannot reach the mail server: %s", exc)
        for row in rows:
            _failed(row, exc, now)
        return 0
    sent = 0
    try:
        for row in rows:
            after = row.after
            if after is not None and after.pk not in done and after.state == MailState.PENDING:
                OutgoingMail.objects.filter(pk=row.pk).update(next_attempt_at=now + WAIT_FOR_AFTER)
                continue
            try:
                connection.send_messages([_message(row)])
            except Exception as exc:
                log.warning("outgoing mail %s to %s failed: %s", row.pk, row.to, exc)
                _failed(row, exc, now)
                if isinstance(exc, smtplib.SMTPServerDisconnected) or (
                        isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)):
                    connection.close()
                    connection.open()
                continue
            row.attempts += 1
            row.state, row.sent_at, row.last_attempt_at, row.next_attempt_at = MailState.SENT, clock.now(), now, None
            row.last_error = ""
            row.save(update_fields=["attempts", "state", "sent_at", "last_attempt_at", "next_attempt_at",
                                    "last_error"])
            done.add(row.pk)
            sent += 1
    except Exception as exc:  # the connection could not be opened again: the rest wait for their next attempt
        log.warning("outgoing mail: lost the mail server: %s", exc)
    finally:
        connection.close()
    return sent


def send_due(now: datetime | None = None, *, batch: int = 200, rounds: int = 50) -> int:
    """The periodic task's share: deliver batch after batch while there is more that is due."""
    total = 0
    for _ in range(rounds):
        sent = deliver(None, now, limit=batch)
        total += sent
        if sent < batch:
            break
    return total


def _row(actor: Any, pk: int) -> OutgoingMail:
    row = policy.restrict(OutgoingMail.objects.all(), actor, policy.VIEW).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"no outgoing e-mail {pk}")
    if not policy.can(actor, policy.MANAGE, row):
        raise NotAllowed("only the desk's managers (or platform admins) may retry or cancel its e-mails")
    return row


def retry(actor: Any, pk: int) -> OutgoingMail:
    """Send a failed or cancelled e-mail again (a new attempt, the same Message-ID); one sent stays sent."""
    with transaction.atomic():
        row = _row(actor, pk)
        if row.state == MailState.SENT:
            raise InvalidInput({"state": "this e-mail was sent; it is not sent twice"})
        row.state, row.next_attempt_at = MailState.PENDING, clock.now()
        row.attempts = min(row.attempts, MAX_ATTEMPTS - 1)
        row.save(update_fields=["state", "next_attempt_at", "attempts"])
        deliver_after_commit([row])
    return row


def cancel(actor: Any, pk: int) -> OutgoingMail:
    """Stop an e-mail that has not gone out."""
    with transaction.atomic():
        row = _row(actor, pk)
        if row.state == MailState.SENT:
            raise InvalidInput({"state": "this e-mail was sent already"})
        row.state, row.next_attempt_at = MailState.CANCELLED, None
        row.save(update_fields=["state", "next_attempt_at"])
    return row


# --- templates -----------------------------------------------------------------------------------------------

def _may_write(actor: Any, desk: Desk | None) -> None:
    if desk is None:
        if not policy.can(actor, policy.ADMINISTER, policy.Capability.ADMIN_SITE):
            raise NotAllowed("only platform admins may write the e-mails of every desk")
    elif not policy.can(actor, policy.MANAGE, desk):
        raise NotAllowed(f"only managers of the {desk.name} desk may write its e-mails")


def save_template(actor: Any, values: dict[str, Any]) -> MailTemplate:
    """Create or change the template of one kind for one desk (`desk`: a slug, a Desk, or empty for every desk);
    checked by rendering it with the sample values, so that a template that cannot render is never stored."""
    unknown = sorted(set(values) - {"desk", "kind", "subject", "body"})
    errors = {name: "is not a field of an e-mail template" for name in unknown}
    ref = values.get("desk")
    desk = ref if isinstance(ref, Desk) else Desk.objects.filter(slug=str(ref)).first() if ref else None
    if ref and desk is None:
        errors["desk"] = f"no desk {ref!r}"
    kind = str(values.get("kind") or "")
    if kind not in Kind.values:
        errors["kind"] = f"must be one of {', '.join(Kind.values)}"
    subject, body = str(values.get("subject") or ""), str(values.get("body") or "").replace("\r\n", "\n")
    errors |= composing.check(subject, body)
    if errors:
        raise InvalidInput(errors)
    _may_write(actor, desk)
    template, _ = MailTemplate.objects.update_or_create(
        desk=desk, kind=kind, defaults={"subject": subject.strip(), "body": body, "updated_at": clock.now(),
                                        "updated_by": policy.person(actor)})
    return template


def delete_template(actor: Any, template: MailTemplate) -> None:
    """Back to the built-in words (or, for a desk, to the template of every desk)."""
    _may_write(actor, template.desk)
    template.delete()
