"""The tickets behind a figure: every number on a dashboard links to the list of the tickets it counts.

The sets are those `figures` counts (the same functions), so a list's length is the figure it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from outcomedesk.core.errors import InvalidInput
from outcomedesk.experience.models import Survey
from outcomedesk.insights import figures
from outcomedesk.insights.periods import Period
from outcomedesk.insights.scope import Scope
from outcomedesk.tickets.models import ServiceImpact, Ticket


@dataclass(frozen=True)
class TicketSet:
    label: str
    tickets: Callable[[Scope, Period], QuerySet[Ticket]]
    order: str  # the time that puts the list in order, latest first


def _surveyed(scope: Scope, period: Period, low_only: bool = False) -> QuerySet[Ticket]:
    answered = Survey.objects.filter(
        responded_at__gte=period.start, responded_at__lt=period.end, score__isnull=False
    )
    if low_only:
        answered = answered.filter(score__lte=3)
    return scope.tickets().filter(pk__in=answered.values("ticket_id"))


def _impacted(scope: Scope, period: Period) -> QuerySet[Ticket]:
    impacts = ServiceImpact.objects.filter(scope.q("ticket__"), impact_start__gte=period.start,
                                           impact_start__lt=period.end)  # as figures.impact_rows counts them
    return Ticket.objects.filter(pk__in=impacts.values("ticket_id"))


SETS: dict[str, TicketSet] = {
    "ticket_volume": TicketSet("Opened", figures.opened_in, "opened_at"),
    "time_to_first_response": TicketSet(
        "Opened and answered", lambda s, p: figures.opened_in(s, p).filter(first_response_at__isnull=False),
        "opened_at",
    ),
    "backlog": TicketSet("Open at the period's end", figures.open_at_end, "opened_at"),
    "mttr": TicketSet("Resolved", figures.resolved_in, "resolved_at"),
    "first_touch_resolution_rate": TicketSet(
        "Resolved without reassignment", lambda s, p: figures.resolved_in(s, p).filter(reassignment_count=0),
        "resolved_at",
    ),
    "reassigned": TicketSet(
        "Resolved after reassignment", lambda s, p: figures.resolved_in(s, p).filter(reassignment_count__gt=0),
        "resolved_at",
    ),
    "reopen_rate": TicketSet(
        "Resolved and reopened at least once", lambda s, p: figures.resolved_in(s, p).filter(reopen_count__gt=0),
        "resolved_at",
    ),
    "sla_breaches": TicketSet("SLA targets breached", figures.sla_breached_in, "opened_at"),
    "escalation_count": TicketSet("Escalated", figures.escalated_in, "opened_at"),
    "csat": TicketSet("Survey answered", _surveyed, "resolved_at"),
    "csat_low": TicketSet("Survey answered with 1 to 3", lambda s, p: _surveyed(s, p, low_only=True),
                          "resolved_at"),
    "downtime_cost": TicketSet("Incidents with a business impact", _impacted, "opened_at"),
    "blocking": TicketSet(
        "Requests blocking work, resolved",
        lambda s, p: figures.resolved_in(s, p).filter(Q(blocks_work=True)), "resolved_at",
    ),
}


def tickets_behind(figure: str, scope: Scope, period: Period, title: str = "") -> tuple[TicketSet, QuerySet[Ticket]]:
    """The set named `figure` and its tickets, latest first; an unknown name is an error naming `figure`.
    `title` keeps the tickets of that title (letter case aside), as repeated incidents are grouped."""
    if figure not in SETS:
        raise InvalidInput({"figure": f"must be one of {', '.join(SETS)}"})
    found = SETS[figure]
    qs = found.tickets(scope, period).select_related("desk", "service", "category", "group", "assignee")
    if title.strip():
        qs = qs.filter(title__iexact=title.strip())
    return found, qs.order_by(f"-{found.order}", "-pk")
