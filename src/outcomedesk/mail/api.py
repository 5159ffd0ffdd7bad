"""Outgoing e-mail endpoints, under /api/v1/mail: the outbox (with retry and cancel), the desks' templates (with a
preview), and the caller's own preferences. Thin doors onto `mail.services`; every read passes the access policy,
so a confidential desk's e-mails stay with its members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Body, Query, Router, Schema, Status
from pydantic import Field

from outcomedesk.accounts import policy
from outcomedesk.core.errors import InvalidInput, NotFound
from outcomedesk.core.parsing import Id
from outcomedesk.mail import composing, services
from outcomedesk.mail.models import Kind, MailState, MailTemplate, OutgoingMail

router = Router(tags=["mail"])
PAGE = 50


class OutgoingOut(Schema):
    id: int
    kind: str
    desk: str | None
    ticket: str | None = Field(description="The ticket's number")
    to: str
    subject: str
    state: str = Field(description=f"One of {', '.join(MailState.values)}")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str
    message_id: str


class OutboxQuery(Schema):
    state: str | None = Field(None, description=f"One of {', '.join(MailState.values)}")
    desk: str | None = Field(None, description="Desk slug")
    ticket: str | None = Field(None, description="Ticket number")
    page: int = Field(1, ge=1, le=10_000)


def _rows(request: HttpRequest) -> Any:
    return policy.restrict(OutgoingMail.objects.select_related("desk"), request.user, policy.VIEW)


def _out(row: OutgoingMail) -> dict[str, Any]:
    return {"id": row.pk, "kind": row.kind, "desk": row.desk.slug if row.desk else None,
            "ticket": row.ticket_number or None, "to": row.to, "subject": row.subject, "state": row.state,
            "attempts": row.attempts, "created_at": row.created_at, "next_attempt_at": row.next_attempt_at,
            "sent_at": row.sent_at, "last_error": row.last_error, "message_id": row.message_id}


def _one(request: HttpRequest, mail_id: int) -> OutgoingMail:
    found = _rows(request).filter(pk=mail_id).first()
    if found is None:
        raise NotFound(f"no outgoing e-mail {mail_id}")
    return found


@router.get("/outbox", response=list[OutgoingOut],
            summary="Outgoing e-mail of the desks the caller works on, newest first, 50 a page")
def outbox(request: HttpRequest, query: Query[OutboxQuery]) -> list[dict[str, Any]]:
    rows = _rows(request)
    if query.state:
        if query.state not in MailState.values:
            raise InvalidInput({"state": f"must be one of {', '.join(MailState.values)}"})
        rows = rows.filter(state=query.state)
    if query.desk:
        rows = rows.filter(desk__slug=query.desk)
    if query.ticket:
        rows = rows.filter(ticket_number=query.ticket.strip().upper())
    start = (query.page - 1) * PAGE
    return [_out(row) for row in rows.order_by("-created_at", "-pk")[start:start + PAGE]]


@router.get("/outbox/{mail_id}", response=OutgoingOut, summary="One outgoing e-mail")
def outgoing(request: HttpRequest, mail_id: Id) -> dict[str, Any]:
    return _out(_one(request, mail_id))


@router.post("/outbox/{mail_id}/retry", response=OutgoingOut,
             summary="Send a failed or cancelled e-mail again (the desk's managers)")
def retry(request: HttpRequest, mail_id: Id) -> dict[str, Any]:
    return _out(services.retry(request.user, _one(request, mail_id).pk))


@router.post("/outbox/{mail_id}/cancel", response=OutgoingOut,
             summary="Cancel an e-mail that has not gone out (the desk's managers)")
def cancel(request: HttpRequest, mail_id: Id) -> dict[str, Any]:
    return _out(services.cancel(request.user, _one(request, mail_id).pk))


# --- templates -------------------------------------------------------------------------------------------------

class TemplateOut(Schema):
    id: int | None = Field(description="null: the built-in words")
    desk: str | None = Field(description="null: every desk's")
    kind: str
    subject: str
    body: str


class TemplateIn(Schema):
    desk: str | None = Field(None, description="Desk slug; empty: the template of every desk (platform admins)")
    kind: str = Field(description=f"One of {', '.join(Kind.values)}")
    subject: str
    body: str


class PreviewIn(Schema):
    subject: str
    body: str


class PreviewOut(Schema):
    subject: str
    text: str


def _template_out(row: MailTemplate) -> dict[str, Any]:
    return {"id": row.pk, "desk": row.desk.slug if row.desk else None, "kind": row.kind, "subject": row.subject,
            "body": row.body}


@router.get("/templates", response=list[TemplateOut],
            summary="The templates the caller's desks use: their own, every desk's, and the built-in words")
def templates(request: HttpRequest) -> list[dict[str, Any]]:
    stored = policy.restrict(MailTemplate.objects.select_related("desk"), request.user, policy.VIEW)
    out = [_template_out(row) for row in stored.order_by("desk__slug", "kind")]
    out += [{"id": None, "desk": None, "kind": kind, "subject": subject, "body": body}
            for kind in Kind.values for subject, body in [composing.built_in(kind)]]
    return out


@router.post("/templates", response=TemplateOut,
             summary="Write a desk's template of one kind (its managers), or every desk's (platform admins)")
def save_template(request: HttpRequest, payload: TemplateIn) -> dict[str, Any]:
    return _template_out(services.save_template(request.user, payload.dict()))


@router.post("/templates/preview", response=PreviewOut,
             summary="A template rendered with example values (400 naming the field that does not render)")
def preview(request: HttpRequest, payload: PreviewIn) -> dict[str, Any]:
    errors = composing.check(payload.subject, payload.body)
    if errors:
        raise InvalidInput(errors)
    words = composing.preview(payload.subject, payload.body)
    return {"subject": words.subject, "text": words.text}


@router.delete("/templates/{template_id}", response={204: None},
               summary="Back to every desk's template, or the built-in words")
def delete_template(request: HttpRequest, template_id: Id) -> Status:
    row = policy.restrict(MailTemplate.objects.all(), request.user, policy.VIEW).filter(pk=template_id).first()
    if row is None:
        raise NotFound(f"no e-mail template {template_id}")
    services.delete_template(request.user, row)
    return Status(204, None)


# --- preferences -----------------------------------------------------------------------------------------------

@router.get("/preferences", response=dict[str, bool],
            summary="Which kinds of e-mail the caller receives (all on unless turned off)")
def preferences(request: HttpRequest) -> dict[str, bool]:
    return services.preferences(request.user)  # type: ignore[arg-type]


@router.put("/preferences", response=dict[str, bool],
            summary="Turn kinds of e-mail on or off for oneself: {\"comment\": false, ...}")
def set_preferences(request: HttpRequest, payload: Body[dict[str, Any]]) -> dict[str, bool]:
    return services.set_preferences(request.user, payload)  # type: ignore[arg-type]
