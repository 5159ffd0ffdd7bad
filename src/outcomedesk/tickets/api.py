"""Ticket endpoints: thin doors onto tickets.services; errors become JSON naming the field."""

from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.urls import reverse
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.core.errors import NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import Id
from outcomedesk.tickets import impact, search, services
from outcomedesk.tickets.export import csv_lines
from outcomedesk.tickets.filters import TicketFilter
from outcomedesk.tickets.models import Attachment, ServiceImpact, Ticket
from outcomedesk.tickets.queries import get_visible_ticket, timeline
from outcomedesk.tickets.schemas import (
    AttachmentOut,
    AuditEventOut,
    BulkIn,
    BulkOut,
    CommentIn,
    CommentOut,
    ImpactIn,
    ImpactOut,
    ImpactPatch,
    LinkIn,
    MergeIn,
    Reopen,
    StateChange,
    TicketCreate,
    TicketOut,
    TicketPage,
    TicketPatch,
    TicketSummary,
    TimelineEntryOut,
)

router = Router(tags=["tickets"])
SUMMARY_RELATED = ("desk", "group", "assignee", "requester")
DETAIL_RELATED = (*SUMMARY_RELATED, "service", "category")


class ListParams(Schema):
    q: str = ""
    state: str = "open"
    desk: str = ""
    group: str = ""
    assignee: str = ""
    requester: str = ""
    priority: str = ""
    type: str = ""
    service: str = ""
    category: str = ""
    channel: str = ""
    tag: str = ""
    sort: str = "priority"
    page: int = 1
    page_size: int = 50


def _ticket(request: HttpRequest, number: str) -> Ticket:
    ticket = get_visible_ticket(request.user, number)
    if ticket is None:
        raise NotFound(f"no ticket {number}", field="number")
    return ticket


def _detail(number: str) -> Ticket:
    ticket = Ticket.objects.select_related(*DETAIL_RELATED).get(number=number)
    prefetch_related_objects([ticket], "tags", "watchers")
    return ticket


@router.get("/tickets", response=TicketPage, summary="List tickets (the queue filter)")
def list_tickets(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    """Visible tickets matching the filter, 50 a page by default (at most 200)."""
    data = params.dict()
    page = max(1, data.pop("page"))
    size = min(max(1, data.pop("page_size")), 200)
    qs = TicketFilter.from_params(data).apply(request.user).select_related(*SUMMARY_RELATED)
    rows = list(qs[(page - 1) * size : page * size + 1])
    return {"items": rows[:size], "page": page, "page_size": size, "has_more": len(rows) > size}


@router.get("/tickets-export", summary="The same list as CSV (at most 100,000 rows)",
            response={200: None},
            openapi_extra={"responses": {"200": {"content": {"text/csv": {"schema": {"type": "string"}}}}}})
def export_tickets(request: HttpRequest, params: Query[ListParams]) -> StreamingHttpResponse:
    data = params.dict()
    data.pop("page"), data.pop("page_size")
    response = StreamingHttpResponse(
        csv_lines(TicketFilter.from_params(data).apply(request.user)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="tickets.csv"'
    return response


@router.post("/tickets", response={201: TicketOut}, summary="Open a ticket")
def create_ticket(request: HttpRequest, payload: TicketCreate) -> Status[Ticket]:
    data = payload.dict()
    data["channel"] = data["channel"] or Channel.API
    ticket = services.open_ticket(request.user, door=Channel.API, **data)  # type: ignore[arg-type]
    # The service returns the ticket with its references attached; only the many-to-many fields are loaded.
    prefetch_related_objects([ticket], "tags", "watchers")
    return Status(201, ticket)


@router.get("/tickets/{number}", response=TicketOut)
def get_ticket(request: HttpRequest, number: str) -> Ticket:
    ticket = _ticket(request, number)
    prefetch_related_objects([ticket], "tags", "watchers")
    return ticket


@router.patch("/tickets/{number}", response=TicketOut, summary="Change fields (409 on a stale version)")
def patch_ticket(request: HttpRequest, number: str, payload: TicketPatch) -> Ticket:
    changes = payload.dict(exclude_unset=True)
    version = changes.pop("version", None)
    ticket = services.update_ticket(
        request.user, _ticket(request, number), changes, expected_version=version,  # type: ignore[arg-type]
        channel=Channel.API,
    )
    return _detail(ticket.number)


@router.post("/tickets/{number}/state", response=TicketOut, summary="Move along the lifecycle")
def change_state(request: HttpRequest, number: str, payload: StateChange) -> Ticket:
    data = payload.dict()
    ticket = services.change_state(
        request.user, _ticket(request, number), data.pop("state"),  # type: ignore[arg-type]
        expected_version=data.pop("version"), channel=Channel.API, **data,
    )
    return _detail(ticket.number)


@router.post("/tickets/{number}/reopen", response=TicketOut)
def reopen(request: HttpRequest, number: str, payload: Reopen) -> Ticket:
    ticket = services.reopen_ticket(
        request.user, _ticket(request, number), reason=payload.reason,  # type: ignore[arg-type]
        expected_version=payload.version, channel=Channel.API,
    )
    return _detail(ticket.number)


@router.get("/tickets/{number}/comments", response=list[CommentOut])
def list_comments(request: HttpRequest, number: str) -> Any:
    ticket = _ticket(request, number)
    comments = ticket.comments.select_related("author")
    return comments if policy.can(request.user, policy.WORK, ticket) else comments.filter(is_public=True)


@router.post("/tickets/{number}/comments", response={201: CommentOut}, summary="Reply (public) or note (internal)")
def add_comment(request: HttpRequest, number: str, payload: CommentIn) -> Status[Any]:
    comment = services.add_comment(
        request.user, _ticket(request, number), payload.body, public=payload.public,  # type: ignore[arg-type]
        channel=Channel.API,
    )
    return Status(201, comment)


def _attachment_out(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "is_public": attachment.is_public,
        "created_at": attachment.created_at,
        "url": reverse("api-1:download_attachment", args=[attachment.ticket.number, attachment.pk]),
    }


@router.get("/tickets/{number}/attachments", response=list[AttachmentOut])
def list_attachments(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    ticket = _ticket(request, number)
    attachments = ticket.attachments.select_related("ticket")
    if not policy.can(request.user, policy.WORK, ticket):
        attachments = attachments.filter(is_public=True)
    return [_attachment_out(a) for a in attachments]


@router.post("/tickets/{number}/attachments", response={201: AttachmentOut}, summary="Attach a file (multipart)")
def upload_attachment(
    request: HttpRequest, number: str, file: File[UploadedFile], public: Form[bool] = True
) -> Status[dict[str, Any]]:
    attachment = services.add_attachment(
        request.user, _ticket(request, number), file, public=public, channel=Channel.API  # type: ignore[arg-type]
    )
    return Status(201, _attachment_out(attachment))


@router.get("/tickets/{number}/attachments/{attachment_id}", url_name="download_attachment",
            response={200: None}, summary="Download an attachment")
def download_attachment(request: HttpRequest, number: str, attachment_id: Id) -> FileResponse:
    ticket = _ticket(request, number)
    attachment = ticket.attachments.filter(pk=attachment_id).first()
    if attachment is None or (not attachment.is_public and not policy.can(request.user, policy.WORK, ticket)):
        raise NotFound(f"no attachment {attachment_id} on {ticket.number}", field="attachment_id")
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.filename)


@router.get("/tickets/{number}/timeline", response=list[TimelineEntryOut], summary="Changes and comments")
def get_timeline(request: HttpRequest, number: str) -> Any:
    ticket = _ticket(request, number)
    return timeline(ticket, include_internal=policy.can(request.user, policy.WORK, ticket))


@router.get("/tickets/{number}/audit", response=list[AuditEventOut], summary="The raw audit trail")
def get_audit(request: HttpRequest, number: str) -> Any:
    from outcomedesk.core.audit import events_for

    ticket = _ticket(request, number)
    events = events_for("ticket", ticket.pk)
    if not policy.can(request.user, policy.WORK, ticket):
        events = events.exclude(action="note")
    return events


@router.post("/tickets/{number}/links", response=TicketOut, summary="Relate to another ticket")
def link(request: HttpRequest, number: str, payload: LinkIn) -> Ticket:
    ticket = _ticket(request, number)
    services.link_tickets(request.user, ticket, payload.number, channel=Channel.API)  # type: ignore[arg-type]
    return _detail(ticket.number)


@router.post("/tickets/{number}/merge", response=TicketOut, summary="Merge this duplicate into another ticket")
def merge(request: HttpRequest, number: str, payload: MergeIn) -> Ticket:
    target = services.merge_tickets(
        request.user, _ticket(request, number), payload.into, channel=Channel.API  # type: ignore[arg-type]
    )
    return _detail(target.number)


def _impact_out(window: impact.ImpactWindow) -> dict[str, Any]:
    found = window.impact
    return {
        "id": found.pk, "ticket": found.ticket.number, "service": found.service,
        "impact_start": found.impact_start, "impact_end": found.impact_end, "ongoing": window.ongoing,
        "users_affected": found.users_affected,
        "impact_fraction": float(found.impact_fraction) if found.impact_fraction is not None else None,
        "affected_share": window.affected_share, "outage_hours": window.outage_hours,
        "downtime_cost": window.downtime_cost, "note": found.note, "recorded_by": found.recorded_by,
        "recorded_at": found.recorded_at,
    }


def _impact(ticket: Ticket, impact_id: Id) -> ServiceImpact:
    found = ServiceImpact.objects.filter(pk=impact_id, ticket=ticket).select_related("service", "recorded_by").first()
    if found is None:
        raise NotFound(f"no impact window {impact_id} on {ticket.number}", field="impact_id")
    found.ticket = ticket
    return found


@router.get("/tickets/{number}/impacts", response=list[ImpactOut], summary="Business impact windows of an incident")
def list_impacts(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    ticket = _ticket(request, number)
    return [_impact_out(w) for w in impact.impact_windows(ticket, clock.now())]


@router.post("/tickets/{number}/impacts", response={201: ImpactOut}, summary="Record an impact window")
def record_impact(request: HttpRequest, number: str, payload: ImpactIn) -> Status[dict[str, Any]]:
    ticket = _ticket(request, number)
    created = impact.record_impact(request.user, ticket, channel=Channel.API, **payload.dict())  # type: ignore[arg-type]
    return Status(201, _impact_out(impact.window_of(_impact(ticket, created.pk), clock.now())))


@router.patch("/tickets/{number}/impacts/{impact_id}", response=ImpactOut,
              summary="Change an impact window (send impact_end to end it)")
def patch_impact(request: HttpRequest, number: str, impact_id: Id, payload: ImpactPatch) -> dict[str, Any]:
    ticket = _ticket(request, number)
    found = _impact(ticket, impact_id)
    impact.update_impact(request.user, found, channel=Channel.API, **payload.dict(exclude_unset=True))  # type: ignore[arg-type]
    return _impact_out(impact.window_of(_impact(ticket, impact_id), clock.now()))


@router.delete("/tickets/{number}/impacts/{impact_id}", response={204: None}, summary="Remove an impact window")
def delete_impact(request: HttpRequest, number: str, impact_id: Id) -> Status[None]:
    ticket = _ticket(request, number)
    impact.remove_impact(request.user, _impact(ticket, impact_id), channel=Channel.API)  # type: ignore[arg-type]
    return Status(204, None)


@router.post("/tickets-bulk", response=BulkOut, summary="Apply one change to several tickets, all or none")
def bulk(request: HttpRequest, payload: BulkIn) -> dict[str, Any]:
    data = payload.dict()
    numbers = data.pop("numbers")
    done = services.bulk_update(
        request.user, numbers, changes=data.pop("changes"), state=data.pop("state"),  # type: ignore[arg-type]
        channel=Channel.API, **(data if payload.state else {}),
    )
    return {"updated": [t.number for t in done]}


@router.get("/search", response=list[TicketSummary], summary="Search by number or words (permission-aware)")
def search_tickets(request: HttpRequest, q: str, limit: int = 20) -> list[Ticket]:
    return search.search_tickets(request.user, q, limit=min(max(limit, 1), 100))


class CategoryOut(Schema):
    id: int
    name: str


@router.get("/desks/{slug}/categories", response=list[CategoryOut], tags=["people and desks"])
def categories(request: HttpRequest, slug: str) -> Any:
    from outcomedesk.tickets.models import Category

    return Category.objects.filter(desk__slug=slug, desk__is_active=True, is_active=True)
