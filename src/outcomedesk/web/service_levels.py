"""Service levels in the agent workspace: the queue's SLA column and filter, the ticket page's SLA panel.

What is shown is worked out from the stored deadlines and `now`, so a target past its deadline reads as breached
even before the sweep has marked it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from outcomedesk.sla import engine, queries, services
from outcomedesk.sla.models import TicketTarget
from outcomedesk.tickets.models import Ticket

SOON_MINUTES = 60
SLA_FILTERS = [("", "Any"), ("soon", f"Breaching within {SOON_MINUTES} min"), ("breached", "Breached")]
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Badge:
    """How one target reads now: "2 h 10 min left" in the colour of its state."""

    text: str
    css: str  # sla-ok, sla-at-risk, sla-breached, sla-paused, sla-met, sla-none
    state: str  # the state as of now, for its label


STATE_LABELS = {
    engine.RUNNING: "Running", engine.AT_RISK: "At risk", engine.BREACHED: "Breached", engine.PAUSED: "Paused",
    engine.MET: "Met", engine.CANCELLED_TARGET: "Cancelled",
}


def duration(value: timedelta) -> str:
    """A span for people: "35 min", "2 h 10 min", "3 d 4 h"."""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def badge(row: TicketTarget, now: datetime) -> Badge:
    if not row.is_active:
        if row.state == engine.BREACHED:
            return Badge("breached", "sla-breached", engine.BREACHED)
        if row.state == engine.MET:
            return Badge("met", "sla-met", engine.MET)
        return Badge("—", "sla-none", row.state)
    if row.deadline is not None and row.deadline <= now:
        return Badge(f"breached {duration(now - row.deadline)} ago", "sla-breached", engine.BREACHED)
    if row.paused_since is not None:
        left = timedelta(minutes=row.minutes) - timedelta(seconds=row.elapsed_seconds)
        return Badge(f"paused, {duration(left)} left", "sla-paused", engine.PAUSED)
    if row.deadline is None:
        return Badge("—", "sla-none", row.state)
    text = f"{duration(row.deadline - now)} left"
    if row.state == engine.AT_RISK or (row.at_risk_at is not None and row.at_risk_at <= now):
        return Badge(text, "sla-at-risk", engine.AT_RISK)
    return Badge(text, "sla-ok", engine.RUNNING)


def queue_badges(tickets: list[Ticket], now: datetime) -> dict[int, Badge]:
    """The badge of each ticket's most urgent target (active first, soonest first): one query for the page."""
    if not tickets:
        return {}
    return {pk: badge(rows[0], now) for pk, rows in queries.targets_of(t.pk for t in tickets).items()}


def parse_filter(params: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    value = str(params.get("sla") or "")
    if value and value not in {key for key, _ in SLA_FILTERS}:
        return "", {"sla": "use soon or breached"}
    return value, {}


def apply_filter(tickets: QuerySet[Ticket], value: str, now: datetime) -> QuerySet[Ticket]:
    """Only the tickets with a target breaching soon, or breached: a subquery on the targets' deadline index."""
    if value == "soon":
        targets = queries.breaching_between(now, now + timedelta(minutes=SOON_MINUTES))
    elif value == "breached":
        targets = queries.breached_by(now)
    else:
        return tickets
    return tickets.filter(pk__in=targets.values("ticket_id"))


@dataclass(frozen=True)
class PanelRow:
    """One target on the ticket page."""

    target: TicketTarget
    label: str
    badge: Badge
    state_label: str
    target_text: str  # business time allowed
    deadline: str  # in the policy calendar's time zone, where the desk works
    explanation: list[str]


def panel(ticket: Ticket, now: datetime) -> list[PanelRow]:
    """The ticket's targets, most urgent first, with their explanations (one query)."""
    rows = queries.targets_of([ticket.pk], related=("policy__calendar", "group")).get(ticket.pk, [])
    out = []
    for row in rows:
        shown = badge(row, now)
        tz = services.calendar_of(row.policy.calendar).tz if row.policy else UTC
        label = row.metric_label + (f" #{row.cycle + 1}" if row.cycle else "")
        if row.group is not None:
            label += f" · {row.group}"
        out.append(PanelRow(
            target=row, label=label, badge=shown, state_label=STATE_LABELS.get(shown.state, shown.state),
            target_text=duration(timedelta(minutes=row.minutes)) + " of business time",
            deadline=f"{row.deadline.astimezone(tz):%a %d %b %Y %H:%M %Z}" if row.deadline else "",
            explanation=services.explain_target(row, now),
        ))
    return out
