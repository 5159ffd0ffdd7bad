"""Reads about tickets that other layers use: one visible ticket, the timeline (who sees what: accounts.policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from outcomedesk.accounts import policy
from outcomedesk.core.audit import events_for
from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets.models import Comment, Ticket

DETAIL_RELATED = ("desk", "requester", "assignee", "group", "service", "category")


def get_visible_ticket(
    user: Any, number: str, queryset: QuerySet[Ticket] | None = None, related: tuple[str, ...] = DETAIL_RELATED
) -> Ticket | None:
    """The ticket with this number if `user` may read it. Parent and duplicate-of load lazily when set: joining
    the ticket table to itself twice costs more to plan than to run on a large table."""
    qs = (queryset if queryset is not None else Ticket.objects.all()).select_related(*related)
    ticket = qs.filter(number=number.strip().upper()).first()
    if ticket is None or not policy.can(user, policy.VIEW, ticket):
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
