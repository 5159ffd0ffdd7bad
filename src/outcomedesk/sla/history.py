"""A ticket's SLA history read back from its audit trail: the input of the engine, live and on replay.

The audit trail records every change with its old and new value, so the ticket's first phase is its current
state with every change undone, newest first; the phases follow from the changes in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup
from outcomedesk.core.models import AuditEvent
from outcomedesk.sla.engine import History, Phase
from outcomedesk.tickets.models import Comment, Ticket

TRACKED = ("state", "pending_reason", "group")


def history_of(ticket: Ticket) -> History:
    """The phases and agent replies of one ticket, from the database."""
    events = list(
        AuditEvent.objects.filter(object_type="ticket", object_id=ticket.pk, field__in=TRACKED)
        .order_by("at", "pk")
        .values_list("at", "field", "old_value", "new_value")
    )
    groups = dict(AssignmentGroup.objects.filter(desk_id=ticket.desk_id).values_list("name", "pk"))
    staff = set(policy.people(policy.WORK, [ticket.desk_id], active=False).values_list("pk", flat=True))
    replies = Comment.objects.filter(ticket_id=ticket.pk, is_public=True, author_id__in=staff).exclude(
        author_id=ticket.requester_id
    ).values_list("created_at", flat=True)
    responses = list(replies)
    if ticket.first_response_at:
        responses.append(ticket.first_response_at)
    current = {"state": ticket.state, "pending_reason": ticket.pending_reason, "group": ticket.group_id}
    return build_history(ticket.opened_at, current, events, responses, groups)


def build_history(
    opened_at: datetime,
    current: dict[str, Any],
    events: Sequence[tuple[datetime, str, str, str]],
    responses: Iterable[datetime],
    group_ids: dict[str, int],
) -> History:
    """Phases from the current values and the (at, field, old, new) changes, oldest first. Group names in the
    audit are turned into ids by `group_ids`; a name that no longer exists counts as no group."""

    def value(field: str, text: str) -> Any:
        if field == "group":
            return group_ids.get(text) if text else None
        return text

    first = dict(current)
    for _, field, old, _ in reversed(events):
        first[field] = value(field, old)
    if not first["state"]:
        first["state"] = "new"
    phases = [Phase(opened_at, first["state"], first["pending_reason"] or "", first["group"])]
    values = dict(first)
    index = 0
    while index < len(events):
        at = events[index][0]
        while index < len(events) and events[index][0] == at:
            _, field, _, new = events[index]
            values[field] = value(field, new)
            index += 1
        phase = Phase(max(at, opened_at), values["state"], values["pending_reason"] or "", values["group"])
        if phase.at == phases[-1].at:
            phases[-1] = phase
        elif (phase.state, phase.pending_reason, phase.group_id) != (
            phases[-1].state, phases[-1].pending_reason, phases[-1].group_id
        ):
            phases.append(phase)
    return History(tuple(phases), tuple(sorted(set(responses))))
