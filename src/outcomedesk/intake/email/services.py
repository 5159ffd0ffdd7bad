"""E-mail intake's write path: keep a message (once per desk and Message-ID, original bytes included), then make
it a ticket or a reply on its ticket, ignore it (auto-replies, bounces, loops), reject it (an unknown sender where
the desk says so), or quarantine it with the reason. Whatever one message does, the next one is read.

The person who wrote is the actor: a requester's mail opens a ticket as the portal would, an agent's reply on
their desk's ticket is an agent reply, each through `tickets.services` and the access policy.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import formats, timezone

from outcomedesk.accounts import policy
from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import Desk, User
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.intake import configuration
from outcomedesk.intake.email.message import (
    Kind,
    MalformedMessage,
    ParsedMessage,
    classify,
    parse_message,
    reply_text,
    ticket_number_in,
)
from outcomedesk.intake.models import InboundMessage, InboundStatus, Mailbox, UnknownSenders
from outcomedesk.mail import composing
from outcomedesk.mail import services as mail
from outcomedesk.mail.models import Kind as MailKind
from outcomedesk.tickets import notifications
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import DONE_STATES, Ticket
from outcomedesk.tickets.services.common import TITLE_MAX

log = logging.getLogger(__name__)

NO_SUBJECT = "(no subject)"
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*<?([^\r\n>]{1,250})>?", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Received:
    """What `receive` did: the stored message (its status says what became of it), and whether it was there
    already (the same message delivered twice)."""

    message: InboundMessage
    duplicate: bool


def receive(raw: bytes, *, desk: Desk, mailbox: Mailbox | None = None) -> Received:
    """Keep `raw` and process it. Raises only when nothing could be stored (the database or the file storage is
    unavailable): the caller (the MTA, the poller) then tries again later."""
    stored, created = store(raw, desk=desk, mailbox=mailbox)
    if created or stored.status == InboundStatus.RECEIVED:
        process(stored)
    return Received(stored, duplicate=not created)


def store(raw: bytes, *, desk: Desk, mailbox: Mailbox | None = None) -> tuple[InboundMessage, bool]:
    """The message row and its original bytes, committed before anything else happens: (row, created)."""
    message_id = _message_id(raw)
    existing = InboundMessage.objects.filter(desk=desk, message_id=message_id).first()
    if existing is not None:
        return existing, False
    now = clock.now()
    row = InboundMessage(desk=desk, mailbox=mailbox, message_id=message_id, sha256=hashlib.sha256(raw).hexdigest(),
                         size=len(raw), received_at=now, sender=_header(raw, "from")[:255],
                         subject=_header(raw, "subject")[:255])
    row.raw.save(f"{row.sha256}.eml", ContentFile(raw), save=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same message, stored meanwhile by another poller or pipe
        row.raw.delete(save=False)
        return InboundMessage.objects.get(desk=desk, message_id=message_id), False
    return row, True


def process(row: InboundMessage) -> InboundMessage:
    """Turn a stored message into what it should become; a failure quarantines it with the reason.

    Once, however often and however many at a time call it (two polls of one mailbox, a poll and the sweep of
    interrupted messages): the row is locked and read again in the transaction that writes what became of it, and
    only a message still received is processed. A process killed half-way wrote nothing (the database rolls its
    transaction back): the message is still received, and the next poll or the sweep processes it. `row` is
    updated in place to what the database holds."""
    parsed: ParsedMessage | None = None
    malformed = ""
    try:
        parsed = parse_message(original(row))  # outside the transaction: it needs no lock, and may take a while
    except MalformedMessage as exc:
        malformed = exc.reason
    with transaction.atomic():
        claimed = (InboundMessage.objects.select_for_update().filter(pk=row.pk, status=InboundStatus.RECEIVED)
                   .values_list("attempts", flat=True).first())
        if claimed is None:  # processed meanwhile by another caller (or discarded): theirs is the outcome
            row.refresh_from_db()
            return row
        row.status, row.attempts = InboundStatus.RECEIVED, claimed + 1
        if parsed is None:
            return _finish(row, InboundStatus.QUARANTINED, malformed)
        kind = classify(parsed, own_domains=notifications.mail_domain())
        if kind != Kind.TICKETABLE or _from_our_mailbox(parsed):
            what = {Kind.AUTO_REPLY: "an automatic reply", Kind.BOUNCE: "a delivery report (bounce)"}.get(
                kind, "our own mail coming back (a loop)")
            return _finish(row, InboundStatus.IGNORED, f"{what}: never a ticket, never answered")
        try:
            with transaction.atomic():  # a savepoint: a failure undoes the ticket, not the claim
                return _ticket(row, parsed)
        except Rejected as exc:
            done = _finish(_undone(row), InboundStatus.REJECTED, str(exc))
            _answer_rejected(done, parsed.sender)
            return done
        except (InvalidInput, NotAllowed, NotFound) as exc:
            return _finish(_undone(row), InboundStatus.QUARANTINED, exc.message)
        except Exception as exc:  # one bad message must not stop the inbox: keep it for an admin, read the next
            log.exception("intake of message %s failed", row.pk)
            return _finish(_undone(row), InboundStatus.QUARANTINED,
                           f"could not be processed ({type(exc).__name__}: {exc})"[:500])


def _answer_rejected(row: InboundMessage, address: str) -> None:
    """Tell the sender of a rejected message why, once (RFC 3834: marked auto-replied, in reply to their message),
    through the outbox after commit."""
    if not address:
        return
    values = {"message": {"subject": row.subject or "(no subject)", "sender": address, "reason": row.reason,
                          "date": formats.date_format(timezone.localtime(row.received_at), "j F Y H:i")},
              "desk": {"name": row.desk.name}, "site": {"url": settings.OUTCOMEDESK_BASE_URL}}
    words = composing.compose(MailKind.REJECTED, row.desk_id, values)
    headers = {"Auto-Submitted": "auto-replied", notifications.LOOP_HEADER: notifications.mail_domain()}
    if row.message_id:
        headers |= {"In-Reply-To": f"<{row.message_id.strip('<>')}>", "References": f"<{row.message_id.strip('<>')}>"}
    queued = mail.queue([mail.Draft(key=f"rejected:{row.pk}", kind=MailKind.REJECTED, recipient=None, to=address,
                                    subject=words.subject, text=words.text, desk_id=row.desk_id,
                                    sender=row.desk.email_from, headers=headers)])
    mail.deliver_after_commit(queued)


def _undone(row: InboundMessage) -> InboundMessage:
    """`row` without the ticket or comment of a savepoint that was rolled back."""
    row.ticket = row.comment = None
    return row


class Rejected(Exception):
    """The sender may not open tickets by e-mail here."""


def _ticket(row: InboundMessage, parsed: ParsedMessage) -> InboundMessage:
    sender = _sender(row, parsed)
    uploads, dropped = _uploads(parsed)
    ticket = _thread(parsed, row.desk)
    if ticket is not None and ticket.state not in DONE_STATES:
        try:
            comment = tickets.add_comment(sender, ticket, _with_dropped(parsed.body_text and _reply(parsed), dropped),
                                          public=True, channel=Channel.EMAIL, attachments=uploads)
        except (NotAllowed, NotFound):
            pass  # someone outside the ticket answered its thread: their mail opens a ticket of their own
        else:
            row.ticket, row.comment = ticket, comment
            return _finish(row, InboundStatus.THREADED, "")
    opened = tickets.open_ticket(
        sender, desk=row.desk, title=_title(parsed), description=_with_dropped(_description(parsed), dropped),
        channel=Channel.EMAIL, door=Channel.EMAIL, attachments=uploads,
    )
    row.ticket = opened
    return _finish(row, InboundStatus.TICKETED, "")


def _finish(row: InboundMessage, status: str, reason: str) -> InboundMessage:
    row.status, row.reason, row.processed_at = status, reason, clock.now()
    row.save(update_fields=["status", "reason", "processed_at", "attempts", "ticket", "comment"])
    return row


def _sender(row: InboundMessage, parsed: ParsedMessage) -> User:
    address = parsed.sender
    if not address:
        raise InvalidInput({"message": "the message names no sender (From, Reply-To, Sender or Return-Path)"})
    person = User.objects.filter(email__iexact=address).order_by("-is_active", "pk").first()
    if person is not None:
        if not person.is_active:
            raise Rejected(f"{address} belongs to a disabled account")
        return person
    policy_ = row.mailbox.unknown_senders if row.mailbox else settings.OUTCOMEDESK_MAIL_UNKNOWN_SENDERS
    if policy_ == UnknownSenders.REJECT:
        raise Rejected(f"{address} has no account, and the {row.desk.name} desk takes mail from its people only")
    return accounts.create_user(accounts.free_username(address), email=address, display_name=parsed.sender_name[:150])


def _thread(parsed: ParsedMessage, desk: Desk) -> Ticket | None:
    """The ticket a reply belongs to: by the Message-IDs it answers (ours name their ticket; a requester's
    earlier message names the ticket it opened), then by the ticket number in the subject."""
    for message_id in parsed.thread_ids:
        number = notifications.number_of_message_id(message_id)
        if number is not None:
            found = Ticket.objects.filter(number=number).select_related("desk").first()
            if found is not None:
                return found
    earlier = (InboundMessage.objects.filter(desk=desk, message_id__in=parsed.thread_ids, ticket__isnull=False)
               .select_related("ticket__desk").first())
    if earlier is not None and earlier.ticket is not None:
        return earlier.ticket
    number = ticket_number_in(parsed.subject)
    return Ticket.objects.filter(number=number).select_related("desk").first() if number else None


def _title(parsed: ParsedMessage) -> str:
    subject = " ".join(parsed.subject.split())
    if not subject:
        first = next((line.strip() for line in parsed.body_text.splitlines() if line.strip()), "")
        subject = first or NO_SUBJECT
    return subject if len(subject) <= TITLE_MAX else subject[: TITLE_MAX - 1] + "…"


def _description(parsed: ParsedMessage) -> str:
    text = parsed.body_text.strip()
    limit: int = settings.TEXT_MAX_CHARS
    if len(text) > limit:
        note = "\n\n[The message was longer; an agent can read the original in the intake log.]"
        text = text[: limit - len(note)] + note
    return text


def _reply(parsed: ParsedMessage) -> str:
    text = reply_text(parsed).strip() or parsed.body_text.strip() or "(an empty reply)"
    limit: int = settings.TEXT_MAX_CHARS
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _uploads(parsed: ParsedMessage) -> tuple[list[SimpleUploadedFile], list[str]]:
    """The attachments the desk accepts, and the names (with the reason) of those it does not."""
    kept: list[SimpleUploadedFile] = []
    dropped: list[str] = []
    for part in parsed.attachments:
        suffix = PurePath(part.filename).suffix.lower()
        if suffix not in settings.ATTACHMENT_ALLOWED_TYPES:
            dropped.append(f"{part.filename} (files of type {suffix or '(none)'} are not accepted)")
        elif part.size > settings.ATTACHMENT_MAX_BYTES:
            dropped.append(f"{part.filename} ({part.size:,} bytes; the limit is {settings.ATTACHMENT_MAX_BYTES:,})")
        else:
            kept.append(SimpleUploadedFile(part.filename, part.data, part.content_type))
    return kept, dropped


def _with_dropped(text: str, dropped: list[str]) -> str:
    if not dropped:
        return text
    return text + "\n\n[Not attached: " + "; ".join(dropped) + "]"


def _from_our_mailbox(parsed: ParsedMessage) -> bool:
    """Mail from one of our own mailbox addresses is a loop between two desks' mailboxes."""
    return bool(parsed.sender) and Mailbox.objects.filter(address__iexact=parsed.sender).exists()


def original(row: InboundMessage) -> bytes:
    """The message as it arrived."""
    with row.raw.open("rb") as handle:
        return handle.read()


def _message_id(raw: bytes) -> str:
    """The Message-ID as stored (without <>), read from the header block without parsing the message; the
    sha256 of the bytes when there is none, so the same bytes twice are the same message (as `parse_message`)."""
    head = raw[: raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.find(b"\n\n")] if raw else b""
    found = _MESSAGE_ID.search(head)
    if found is not None:
        value = found.group(1).decode("ascii", "replace").strip()
        if value:
            return value
    return f"{hashlib.sha256(raw).hexdigest()}@synthetic.outcomedesk.invalid"


def _header(raw: bytes, name: str) -> str:
    """A header's decoded value for the log, best effort (the parse that follows is the real reading)."""
    head = raw[:65536]
    found = re.search(rb"^" + name.encode() + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.IGNORECASE | re.MULTILINE)
    if found is None:
        return ""
    value = re.sub(r"\r?\n[ \t]+", " ", found.group(1).decode("utf-8", "replace")).strip()
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # an unreadable encoded word: the text as it came
        return value


def retry(actor: Any, row: InboundMessage | int) -> InboundMessage:
    """Process a quarantined (or rejected) message again, e.g. after the desk was fixed."""
    found = _quarantined(actor, row, (InboundStatus.QUARANTINED, InboundStatus.REJECTED))
    # Back to received in the database: `process` takes only a received message (and the sweep of interrupted
    # messages finishes it should this process die before).
    InboundMessage.objects.filter(pk=found.pk, status=found.status).update(status=InboundStatus.RECEIVED)
    return process(found)


def discard(actor: Any, row: InboundMessage | int) -> InboundMessage:
    """Drop a quarantined message: its original bytes are deleted, the row says who discarded it and when."""
    found = _quarantined(actor, row, (InboundStatus.QUARANTINED, InboundStatus.REJECTED))
    with transaction.atomic():
        found.raw.delete(save=False)
        found.status, found.processed_at = InboundStatus.DISCARDED, clock.now()
        found.reason = f"discarded by {actor}; was: {found.reason}"[:2000]
        found.save(update_fields=["raw", "status", "processed_at", "reason"])
    return found


def _quarantined(actor: Any, row: InboundMessage | int, states: tuple[str, ...]) -> InboundMessage:
    pk = row.pk if isinstance(row, InboundMessage) else row
    found = policy.restrict(InboundMessage.objects.select_related("desk", "mailbox"), actor, policy.VIEW).filter(
        pk=pk).first()
    if found is None:
        raise NotFound(f"no inbound message {pk}")
    if not policy.can(actor, policy.MANAGE, found):
        raise NotAllowed(f"only managers of the {found.desk.name} desk may retry or discard its mail")
    if found.status not in states:
        raise InvalidInput({"status": f"message {pk} is {found.get_status_display().lower()}, not quarantined"})
    return found


# --- mailboxes -----------------------------------------------------------------------------------------------

MAILBOX_FIELDS = ("desk", "name", "address", "host", "port", "security", "username", "auth", "secret_env",
                  "oauth_token_url", "oauth_client_id", "oauth_scope", "oauth_refresh_token_env", "folder",
                  "unknown_senders", "is_active")
_LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}


def save_mailbox(actor: Any, values: dict[str, Any], *, mailbox: Mailbox | None = None) -> Mailbox:
    """Create or change a desk's mailbox (its desk's managers). The secret stays in the environment: the mailbox
    names the variable. A connection without TLS is allowed to a server on this machine only."""
    from outcomedesk.intake.models import MailboxAuth, MailboxSecurity

    row = mailbox or Mailbox()
    merged, desk_obj = configuration.merged(actor, values, MAILBOX_FIELDS, row, saved=mailbox is not None,
                                            what="mailbox")
    errors: dict[str, str] = {}
    for name in ("name", "address", "host", "username"):
        merged[name] = str(merged[name] or "").strip()
        if not merged[name]:
            errors[name] = "is required"
    if merged["address"] and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", merged["address"]):
        errors["address"] = f"{merged['address']!r} is not an e-mail address"
    elif merged["address"] and Mailbox.objects.filter(address__iexact=merged["address"]).exclude(pk=row.pk).exists():
        errors["address"] = f"{merged['address']} is another mailbox's address"
    port = merged["port"]
    if not isinstance(port, int) or not 1 <= port <= 65535:
        errors["port"] = f"must be 1 to 65535, not {port!r}"
    if merged["security"] not in MailboxSecurity.values:
        errors["security"] = f"must be one of {', '.join(MailboxSecurity.values)}"
    elif merged["security"] == MailboxSecurity.NONE and merged["host"] not in _LOCAL_HOSTS:
        errors["security"] = "a password travels in clear without TLS: only to a server on this machine"
    if merged["auth"] not in MailboxAuth.values:
        errors["auth"] = f"must be one of {', '.join(MailboxAuth.values)}"
    merged["secret_env"] = configuration.check_secret_env(errors, merged["secret_env"])
    _check_oauth(errors, merged)
    if merged["unknown_senders"] not in UnknownSenders.values:
        errors["unknown_senders"] = f"must be one of {', '.join(UnknownSenders.values)}"
    if errors:
        raise InvalidInput(errors)
    for name in MAILBOX_FIELDS:
        setattr(row, name, desk_obj if name == "desk" else merged[name])
    if not row.folder:
        row.folder = "INBOX"
    row.save()
    return row


def _check_oauth(errors: dict[str, str], merged: dict[str, Any]) -> None:
    """A token endpoint (OAuth 2.0 only) over https, or http to this machine; a client id with it; a refresh
    token by its variable's name."""
    from outcomedesk.intake.models import MailboxAuth

    for name in ("oauth_token_url", "oauth_client_id", "oauth_scope", "oauth_refresh_token_env"):
        merged[name] = str(merged[name] or "").strip()
        longest: int = getattr(Mailbox._meta.get_field(name), "max_length", 0)
        if len(merged[name]) > longest:
            errors[name] = f"is longer than {longest} characters"
    url = merged["oauth_token_url"]
    if not url:
        for name in ("oauth_client_id", "oauth_scope", "oauth_refresh_token_env"):
            if merged[name]:
                errors[name] = "is for a token endpoint: set the OAuth token endpoint too"
        return
    if merged["auth"] != MailboxAuth.XOAUTH2:
        errors["oauth_token_url"] = "is for OAuth 2.0 (XOAUTH2) mailboxes"
    parts = urlsplit(url)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS)) \
            or not parts.hostname:
        errors["oauth_token_url"] = "must be an https:// address (http:// only to a server on this machine)"
    if not merged["oauth_client_id"]:
        errors["oauth_client_id"] = "is required with a token endpoint"
    refresh = merged["oauth_refresh_token_env"]
    if refresh and not configuration.ENV_NAME.fullmatch(refresh):
        errors["oauth_refresh_token_env"] = ("name an environment variable (capital letters, digits and _), not the "
                                             "refresh token itself")
