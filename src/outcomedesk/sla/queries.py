"""Reads of service-level data that pages, the API and other apps use."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from outcomedesk.accounts import policy
from outcomedesk.sla import engine
from outcomedesk.sla.models import TicketTarget


def breaching_between(start: datetime, end: datetime) -> QuerySet[TicketTarget]:
    """Running targets (not yet breached) whose deadline falls in [start, end): one range scan of an index."""
    return TicketTarget.objects.filter(is_active=True, deadline__gte=start, deadline__lt=end).exclude(
        state=engine.BREACHED)


def breached_by(now: datetime) -> QuerySet[TicketTarget]:
    """Targets still running past their deadline, whether or not the sweep has marked them breached yet."""
    return TicketTarget.objects.filter(is_active=True, deadline__lt=now)


def visible_targets(user: Any, queryset: QuerySet[TicketTarget] | None = None) -> QuerySet[TicketTarget]:
    """The targets of tickets `user` may read: a confidential desk's targets stay with that desk."""
    return policy.restrict(TicketTarget.objects.all() if queryset is None else queryset, user)


def targets_of(ticket_ids: Iterable[int], *, related: tuple[str, ...] = ("policy",)) -> dict[int, list[TicketTarget]]:
    """The targets of several tickets in one query, for a queue page (active ones first, soonest first).

    `related` adds joins for pages that explain the targets (the policy's calendar, the group)."""
    out: dict[int, list[TicketTarget]] = {}
    rows = TicketTarget.objects.filter(ticket_id__in=list(ticket_ids)).select_related(*related)
    for row in sorted(rows, key=_urgency):
        out.setdefault(row.ticket_id, []).append(row)
    return out


def _urgency(row: TicketTarget) -> tuple[Any, ...]:
    """Active before stopped; then the soonest deadline; then, paused short of their target, the least time left."""
    if row.deadline is not None:
        return (not row.is_active, 0, row.deadline.timestamp(), row.metric)
    return (not row.is_active, 1, row.minutes * 60 - row.elapsed_seconds, row.metric)
