"""The conversation of a ticket: public replies, internal notes and attachments."""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.core import clock, config_cache
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound, TooLarge
from outcomedesk.core.html import to_safe_html
from outcomedesk.core.models import Channel
from outcomedesk.tickets import search
from outcomedesk.tickets.models import (
    Attachment,
    Comment,
    PendingReason,
    State,
    Ticket,
)
from outcomedesk.tickets.services.common import (
    _after_commit,
    _audit,
    _changed,
    _lock,
    _set_state,
    _touch,
    _validate_text,
)
from outcomedesk.tickets.signals import comment_added

# --- conversation ----------------------------------------------------------------------------------------

def add_comment(
    actor: User,
    ticket: Ticket | int,
    body: str,
    *,
    public: bool = True,
    channel: str = Channel.WEB,
    attachments: Sequence[UploadedFile] = (),
) -> Comment:
    """A public reply or an internal note. A requester's reply resumes a ticket pending on the requester. The
    configuration its subscribers read (SLA policies, webhook subscriptions, chat channels) is read as of one moment
    (`core.config_cache`)."""
    errors: dict[str, str] = {}
    body = _validate_text(errors, "body", body, required=True)
    for upload in attachments:
        _check_upload(errors, upload)
    with _files_removed_on_failure(), config_cache.reading(), transaction.atomic():
        ticket = _lock(ticket)
        if not policy.can(actor, policy.VIEW, ticket):
            raise NotFound(f"no ticket {ticket.number}")
        staff = policy.can(actor, policy.WORK, ticket)
        if not public and not staff:
            raise NotAllowed("only the desk's agents may add internal notes")
        if not staff and ticket.requester_id != actor.pk and not ticket.watchers.filter(pk=actor.pk).exists():
            raise NotAllowed(f"you are not an agent of the {ticket.desk.name} desk")
        if ticket.state in (State.CLOSED, State.CANCELLED):
            errors["body"] = f"{ticket.number} is {ticket.get_state_display().lower()}; open a new ticket instead"
        if errors:
            raise InvalidInput(errors)
        now = clock.now()
        comment = _write_comment(ticket, actor, body, public=public, channel=channel, now=now)
        for upload in attachments:
            _store_attachment(ticket, upload, actor, comment=comment, public=public, channel=channel)
        audit = _audit(ticket, actor, channel, now)
        if staff and public and ticket.requester_id != actor.pk and ticket.first_response_at is None:
            ticket.first_response_at = now
        if (
            not staff
            and ticket.requester_id == actor.pk
            and ticket.state == State.PENDING
            and ticket.pending_reason == PendingReason.REQUESTER
        ):
            _set_state(ticket, State.IN_PROGRESS, actor, audit, now)
            ticket.version += 1
        _touch(ticket, now, bump=False)
        ticket.save()
        audit.save()
        _changed(ticket, now)
    return comment


def _write_comment(ticket: Ticket, actor: User | None, body: str, *, public: bool, channel: str, now: Any) -> Comment:
    comment = Comment.objects.create(
        ticket=ticket, author=actor, body=to_safe_html(body), is_public=public, channel=channel, created_at=now
    )
    batch = AuditBatch("ticket", ticket.pk, actor.pk if actor else None, channel, now)
    batch.add("comment" if public else "note", "comment", None, comment.pk)
    batch.save()
    search.append_to_document(ticket.pk, comment.body)
    _after_commit("comment" if public else "note", ticket, actor, comment_id=comment.pk)
    comment_added.send(sender=Comment, comment=comment, now=now)
    return comment


# --- attachments -----------------------------------------------------------------------------------------

def _check_upload(errors: dict[str, str], upload: UploadedFile) -> None:
    name = upload.name or ""
    suffix = PurePath(name).suffix.lower()
    if suffix not in settings.ATTACHMENT_ALLOWED_TYPES:
        errors["attachments"] = (
            f"{name!r}: files of type {suffix or '(none)'} are not accepted; allowed: "
            + ", ".join(settings.ATTACHMENT_ALLOWED_TYPES)
        )
    elif (upload.size or 0) > settings.ATTACHMENT_MAX_BYTES:
        # Checked before anything is written: the API answers 413, the pages show it beside the field.
        raise TooLarge({"attachments": f"{name!r} is {upload.size:,} bytes; the limit is "
                                       f"{settings.ATTACHMENT_MAX_BYTES:,}"})


def _store_attachment(ticket: Ticket, upload: UploadedFile, actor: User | None, *, comment: Comment | None,
                      public: bool, channel: str) -> Attachment:
    """Store the file outside the database; if the transaction then fails, the file is deleted again."""
    name = PurePath(upload.name or "file").name[:255]
    suffix = PurePath(name).suffix.lower()
    now = clock.now()
    attachment = Attachment(
        ticket=ticket,
        comment=comment,
        stored_name=f"{uuid.uuid4().hex}{suffix}",
        filename=name,
        size=upload.size or 0,
        content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        uploaded_by=actor,
        is_public=public,
        created_at=now,
    )
    attachment.file.save(attachment.stored_name, upload, save=False)
    _STORED_FILES.get().append((attachment.file.storage, attachment.file.name or ""))
    attachment.save()
    batch = AuditBatch("ticket", ticket.pk, actor.pk if actor else None, channel, now)
    batch.add("attached", "attachment", None, name)
    batch.save()
    return attachment


_STORED_FILES: ContextVar[list[tuple[Any, str]]] = ContextVar("stored_files")


@contextmanager
def _files_removed_on_failure() -> Iterator[None]:
    """Delete files stored inside the block if the block raises, so a failed write leaves no file behind."""
    token = _STORED_FILES.set([])
    try:
        yield
    except BaseException:
        for storage, name in _STORED_FILES.get():
            storage.delete(name)
        raise
    finally:
        _STORED_FILES.reset(token)


def add_attachment(actor: User, ticket: Ticket | int, upload: UploadedFile, *, public: bool = True,
                   channel: str = Channel.WEB) -> Attachment:
    errors: dict[str, str] = {}
    _check_upload(errors, upload)
    with _files_removed_on_failure(), transaction.atomic():
        ticket = _lock(ticket)
        if not policy.can(actor, policy.VIEW, ticket):
            raise NotFound(f"no ticket {ticket.number}")
        staff = policy.can(actor, policy.WORK, ticket)
        if not staff and ticket.requester_id != actor.pk:
            raise NotAllowed("only the requester or the desk's agents may attach files")
        if errors:
            raise InvalidInput(errors)
        return _store_attachment(ticket, upload, actor, comment=None, public=public or not staff, channel=channel)
