"""Reads of service-level data that pages, the API and other apps use."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from outcomedesk.sla import engine
from outcomedesk.sla.models import TicketTarget


def breaching_between(start: datetime, end: datetime) -> QuerySet[TicketTarget]:
    """Running targets (not yet breached) whose deadline falls in [start, end): one range scan of an index."""
    return TicketTarget.objects.filter(is_active=True, deadline__gte=start, deadline__lt=end).exclude(
        state=engine.BREACHED)


def targets_of(ticket_ids: Iterable[int]) -> dict[int, list[TicketTarget]]:
    """The targets of several tickets in one query, for a queue page (active ones first, soonest first)."""
    out: dict[int, list[TicketTarget]] = {}
    rows = TicketTarget.objects.filter(ticket_id__in=list(ticket_ids)).select_related("policy")
    for row in sorted(rows, key=_urgency):
        out.setdefault(row.ticket_id, []).append(row)
    return out


def _urgency(row: TicketTarget) -> tuple[Any, ...]:
    return (not row.is_active, row.deadline is None, row.deadline or row.started_at, row.metric)
