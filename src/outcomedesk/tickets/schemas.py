"""API shapes of tickets (pydantic, via django-ninja)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from outcomedesk.core.parsing import Id, SmallCount
from outcomedesk.tickets.models import Ticket


class PersonRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return str(obj)


class NamedRef(Schema):
    id: int
    name: str


class TicketSummary(Schema):
    number: str
    type: str
    state: str
    pending_reason: str
    title: str
    desk: str
    priority: int
    impact: int
    urgency: int
    group: NamedRef | None
    assignee: PersonRef | None
    requester: PersonRef
    opened_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_desk(obj: Ticket) -> str:
        return obj.desk.slug


class TicketOut(TicketSummary):
    description: str
    channel: str
    service: NamedRef | None
    category: NamedRef | None
    tags: list[str]
    watchers: list[PersonRef]
    parent: str | None
    duplicate_of: str | None
    children: list[str]
    related: list[str]
    resolution_code: str
    resolution_notes: str
    reassignment_count: int
    reopen_count: int
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None

    @staticmethod
    def resolve_tags(obj: Ticket) -> list[str]:
        return sorted(t.name for t in obj.tags.all())

    @staticmethod
    def resolve_watchers(obj: Ticket) -> list[Any]:
        return list(obj.watchers.all())

    @staticmethod
    def resolve_parent(obj: Ticket) -> str | None:
        return obj.parent.number if obj.parent_id and obj.parent else None

    @staticmethod
    def resolve_duplicate_of(obj: Ticket) -> str | None:
        return obj.duplicate_of.number if obj.duplicate_of_id and obj.duplicate_of else None

    @staticmethod
    def resolve_children(obj: Ticket) -> list[str]:
        if _prefetched(obj, "children"):  # a ticket just opened has them attached (tickets.queries.opened)
            return [child.number for child in obj.children.all()]
        return list(obj.children.values_list("number", flat=True))

    @staticmethod
    def resolve_related(obj: Ticket) -> list[str]:
        from django.db.models import Q

        from outcomedesk.tickets.models import TicketLink

        if _prefetched(obj, "links_out") and _prefetched(obj, "links_in"):
            return sorted([link.target.number for link in obj.links_out.all()]
                          + [link.source.number for link in obj.links_in.all()])
        pairs = TicketLink.objects.filter(Q(source=obj) | Q(target=obj)).values_list(
            "source__number", "target__number"
        )
        return sorted(target if source == obj.number else source for source, target in pairs)


def _prefetched(obj: Ticket, name: str) -> bool:
    return name in getattr(obj, "_prefetched_objects_cache", {})


class TicketPage(Schema):
    items: list[TicketSummary]
    page: int
    page_size: int
    has_more: bool


class TicketCreate(Schema):
    desk: str = Field(description="Desk slug or id")
    title: str
    description: str = ""
    type: Literal["incident", "request"] = "incident"
    requester: Id | None = Field(None, description="User id; agents only (defaults to you)")
    category: Id | None = None
    service: Id | None = None
    impact: int | None = Field(None, ge=1, le=3, description="Agents of the desk only; a requester states urgency")
    urgency: int | None = Field(None, ge=1, le=3)
    channel: str | None = Field(None, description="api when omitted; agents of the desk may record another "
                                                 "(e.g. phone)")
    group: Id | None = None
    assignee: Id | None = None
    tags: list[str] = []
    watchers: list[Id] = []


class TicketPatch(Schema):
    """Only the fields you send change; `version` is the one you read (409 if someone changed it since)."""

    version: SmallCount | None = Field(None, description="The version you read; omit to overwrite regardless")
    title: str | None = None
    description: str | None = None
    type: Literal["incident", "request"] | None = None
    category: Id | None = None
    service: Id | None = None
    impact: int | None = None
    urgency: int | None = None
    priority: int | None = None
    group: Id | None = None
    assignee: Id | None = None
    requester: Id | None = None
    tags: list[str] | None = None
    watchers: list[int] | None = None
    parent: str | None = Field(None, description="Number of the parent ticket, or null to clear")


class StateChange(Schema):
    state: Literal["new", "assigned", "in_progress", "pending", "resolved", "closed", "cancelled"]
    pending_reason: str = ""
    resolution_code: str = ""
    resolution_notes: str = ""
    version: SmallCount | None = None


class Reopen(Schema):
    reason: str = ""
    version: SmallCount | None = None


class CommentIn(Schema):
    body: str
    public: bool = True


class AttachmentOut(Schema):
    id: int
    filename: str
    size: int
    content_type: str
    is_public: bool
    created_at: datetime
    url: str


class CommentOut(Schema):
    id: int
    author: PersonRef | None
    body: str = Field(description="Sanitised HTML")
    public: bool
    channel: str
    created_at: datetime

    @staticmethod
    def resolve_public(obj: Any) -> bool:
        return bool(obj.is_public)


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: PersonRef | None
    channel: str
    action: str
    field: str
    old_value: str
    new_value: str


class TimelineEntryOut(Schema):
    at: datetime
    kind: Literal["event", "comment"]
    event: AuditEventOut | None
    comment: CommentOut | None


class LinkIn(Schema):
    number: str


class MergeIn(Schema):
    into: str = Field(description="Number of the ticket that survives")


class BulkIn(Schema):
    numbers: list[str]
    changes: dict[str, Any] = {}
    state: str | None = None
    pending_reason: str = ""
    resolution_notes: str = ""
    resolution_code: str = ""


class BulkOut(Schema):
    updated: list[str]


class ImpactIn(Schema):
    """Give `users_affected` or `impact_fraction`, or neither for a full outage."""

    service: Id = Field(description="Business service id")
    impact_start: datetime
    impact_end: datetime | None = Field(None, description="Empty while the impact lasts")
    users_affected: SmallCount | None = None
    impact_fraction: float | None = Field(None, description="Share of the service's users affected, 0 to 1")
    note: str = ""


class ImpactPatch(Schema):
    """Only the fields you send change; sending `users_affected` clears `impact_fraction` and the other way round."""

    service: Id | None = None
    impact_start: datetime | None = None
    impact_end: datetime | None = Field(None, description="Set to end the impact")
    users_affected: SmallCount | None = None
    impact_fraction: float | None = None
    note: str | None = None


class ImpactOut(Schema):
    """An impact window with its figures (METRICS.md `outage_hours`, `downtime_cost`); ongoing windows count to
    now."""

    id: int
    ticket: str
    service: NamedRef
    impact_start: datetime
    impact_end: datetime | None
    ongoing: bool
    users_affected: int | None
    impact_fraction: float | None
    affected_share: float = Field(description="impact_fraction, or users_affected / users served, or 1")
    outage_hours: float
    downtime_cost: float
    note: str
    recorded_by: PersonRef | None
    recorded_at: datetime
