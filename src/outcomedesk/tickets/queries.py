"""Reads about tickets that other layers use: visibility, permissions, the queue filter, the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from outcomedesk.accounts.models import Desk
from outcomedesk.accounts.queries import Access, access_for
from outcomedesk.core.audit import events_for
from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets.models import Comment, Ticket


def visible_desk_ids(access: Access) -> set[int]:
    """Desks whose tickets this person sees as staff: non-confidential desks and their own desks."""
    if not (access.is_agent or access.is_admin):
        return set()
    open_desks = set(Desk.objects.filter(confidential=False).values_list("id", flat=True))
    return open_desks | set(access.agent_desk_ids)


def visibility_filter(user: Any) -> Q:
    """Tickets a person may read: their own, those they watch, and (for staff) those of visible desks."""
    access = access_for(user)
    if access.user_id is None:
        return Q(pk__in=[])
    own = Q(requester_id=access.user_id) | Q(
        pk__in=Ticket.watchers.through.objects.filter(user_id=access.user_id).values("ticket_id")
    )
    desks = visible_desk_ids(access)
    return (Q(desk_id__in=desks) | own) if desks else own


def visible_tickets(user: Any, queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    qs = Ticket.objects.all() if queryset is None else queryset
    return qs.filter(visibility_filter(user))


def can_view(user: Any, ticket: Ticket) -> bool:
    access = access_for(user)
    if access.user_id is None:
        return False
    if ticket.requester_id == access.user_id or access.works_on(ticket.desk_id):
        return True
    if (access.is_agent or access.is_admin) and not ticket.desk.confidential:
        return True
    return ticket.watchers.filter(pk=access.user_id).exists()


def can_work(user: Any, ticket: Ticket) -> bool:
    """Agents and managers of the ticket's desk change its fields, state and internal notes."""
    return access_for(user).works_on(ticket.desk_id)


DETAIL_RELATED = ("desk", "requester", "assignee", "group", "service", "category")


def get_visible_ticket(
    user: Any, number: str, queryset: QuerySet[Ticket] | None = None, related: tuple[str, ...] = DETAIL_RELATED
) -> Ticket | None:
    """The ticket with this number if `user` may read it. Parent and duplicate-of load lazily when set: joining
    the ticket table to itself twice costs more to plan than to run on a large table."""
    qs = (queryset if queryset is not None else Ticket.objects.all()).select_related(*related)
    ticket = qs.filter(number=number.strip().upper()).first()
    if ticket is None or not can_view(user, ticket):
        return None
    return ticket


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a ticket's timeline: a change or a comment."""

    at: datetime
    kind: str  # "event" or "comment"
    event: AuditEvent | None = None
    comment: Comment | None = None

    @property
    def actor(self) -> Any:
        if self.comment is not None:
            return self.comment.author
        return self.event.actor if self.event else None


def timeline(ticket: Ticket, *, include_internal: bool) -> list[TimelineEntry]:
    """Changes and comments of a ticket, oldest first; internal notes only for its desk's staff."""
    comments = ticket.comments.select_related("author").prefetch_related("attachments")
    if not include_internal:
        comments = comments.filter(is_public=True)
    # Comments appear as themselves; their audit events ("comment", "note") stay in the audit API.
    events = events_for("ticket", ticket.pk).exclude(action__in=["comment", "note"])
    entries = [TimelineEntry(at=e.at, kind="event", event=e) for e in events]
    entries += [TimelineEntry(at=c.created_at, kind="comment", comment=c) for c in comments]
    entries.sort(key=lambda entry: (entry.at, 0 if entry.kind == "event" else 1))
    return entries
