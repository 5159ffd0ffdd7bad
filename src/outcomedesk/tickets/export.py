"""CSV export of a ticket list: the same filter and the same visibility as the queue and the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from outcomedesk.core.csv_export import csv_writer
from outcomedesk.tickets.models import Ticket

COLUMNS = [
    "number", "type", "state", "pending_reason", "priority", "impact", "urgency", "title", "desk", "service",
    "category", "group", "assignee", "requester", "channel", "opened_at", "first_response_at", "resolved_at",
    "closed_at", "reassignment_count", "reopen_count", "resolution_code",
]
MAX_ROWS = 100_000


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""


def csv_lines(tickets: QuerySet[Ticket]) -> Iterator[str]:
    """The header, then one CSV line per ticket (at most MAX_ROWS), streamed in chunks."""
    writer = csv_writer()
    yield writer.writerow(COLUMNS)
    rows = tickets.select_related("desk", "service", "category", "group", "assignee", "requester")[:MAX_ROWS]
    for t in rows.iterator(chunk_size=2000):
        yield writer.writerow([
            t.number, t.type, t.state, t.pending_reason, t.priority, t.impact, t.urgency, t.title, t.desk.slug,
            t.service.name if t.service else "", t.category.name if t.category else "",
            t.group.name if t.group else "", t.assignee.username if t.assignee else "", t.requester.username,
            t.channel, _iso(t.opened_at), _iso(t.first_response_at), _iso(t.resolved_at), _iso(t.closed_at),
            t.reassignment_count, t.reopen_count, t.resolution_code,
        ])
