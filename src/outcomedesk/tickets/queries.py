"""Reads about tickets that other layers use: one visible ticket, the timeline (who sees what: accounts.policy)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.core.audit import events_for
from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets.models import Comment, Tag, Ticket

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


def _attach(ticket: Ticket, name: str, rows: Iterable[Any]) -> None:
    """Hold `rows` as the ticket's `name` relation, as `prefetch_related` does: the related manager's own queryset
    (so that filtering it still asks about this ticket only) with its result set."""
    cache = ticket.__dict__.setdefault("_prefetched_objects_cache", {})
    cache.pop(name, None)
    found = getattr(ticket, name).get_queryset()
    found._result_cache = list(rows)
    found._prefetch_done = True
    cache[name] = found


def opened(ticket: Ticket, *, tags: Iterable[Tag] = (), watchers: Sequence[User] = ()) -> Ticket:
    """A ticket just opened, with what it holds attached as if prefetched: the tags it was opened with, no
    children or links (nothing can point at it yet), and no watchers when none were given (given ones are left to
    be read in the database's order of people). Reading them then costs no query; changing them through the
    related managers drops what is attached, as after a prefetch."""
    _attach(ticket, "tags", sorted(tags, key=lambda t: t.name))
    for name in ("children", "links_out", "links_in"):
        _attach(ticket, name, ())
    if not watchers:
        _attach(ticket, "watchers", ())
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
