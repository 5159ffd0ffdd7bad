"""Insight suggestions: what the figures say the service manager could act on, each with its evidence.

- rising volume: a service or category whose ticket volume rose sharply on the previous period;
- repeated incidents without a problem: incidents of one service and category, none of them handed to
  problem management (put pending on a problem); problem records (issue 7) will add their links here;
- knowledge gaps: a category with many resolved tickets that are rarely resolved at first contact, where an
  article would let the requester or the first agent solve it (the knowledge base arrives with its issue and
  will narrow this to categories without a used article);
- automatable requests: service requests of one category, frequent, handled by one group without
  reassignment or a question to the requester, in a short and steady time.

Thresholds are module constants below; each suggestion says which numbers tripped it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Count, F, Min, Q
from django.db.models.functions import Lower, Trim

from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core.models import AuditEvent
from outcomedesk.insights import figures
from outcomedesk.insights.aggregates import Percentile, Seconds
from outcomedesk.insights.periods import Period
from outcomedesk.insights.scope import Scope
from outcomedesk.tickets.models import Category, PendingReason, TicketType

RISE_SHARE = 0.5  # volume up 50 % or more ...
RISE_LEAST = 10  # ... and at least this many tickets in the period
REPEATED_LEAST = 3  # incidents of one service with the same title
KNOWLEDGE_LEAST = 10  # resolved tickets of one category
KNOWLEDGE_FCR_BELOW = 0.5  # first-contact resolution below this share
AUTOMATION_LEAST = 10  # requests of one category
AUTOMATION_FIRST_TOUCH = 0.9  # resolved without reassignment, at least this share
AUTOMATION_P90_HOURS = 8.0  # and 90 % of them resolved within this many hours


@dataclass
class Suggestion:
    kind: str  # rising_volume | repeated_incidents | knowledge_gap | automatable_requests
    title: str
    detail: str
    figures: dict[str, Any]
    drilldown: dict[str, Any]  # the drill-down figure and filters listing the evidence


def _names(category_ids: set[Any], service_ids: set[Any]) -> tuple[dict[Any, str], dict[Any, str]]:
    categories = dict(Category.objects.filter(pk__in=category_ids - {None}).values_list("pk", "name"))
    services = dict(BusinessService.objects.filter(pk__in=service_ids - {None}).values_list("pk", "name"))
    return categories, services


def rising_volume(scope: Scope, period: Period) -> list[Suggestion]:
    def counts(p: Period) -> dict[tuple[Any, Any], int]:
        rows = figures.opened_in(scope, p).order_by().values("service_id", "category_id").annotate(n=Count("pk"))
        return {(r["service_id"], r["category_id"]): r["n"] for r in rows}

    now, before = counts(period), counts(period.previous())
    rising = [(key, n, before.get(key, 0)) for key, n in now.items()
              if n >= RISE_LEAST and n >= before.get(key, 0) * (1 + RISE_SHARE)]
    categories, services = _names({k[1] for k, _, _ in rising}, {k[0] for k, _, _ in rising})
    found = []
    for (service_id, category_id), n, was in sorted(rising, key=lambda r: -(r[1] - r[2])):
        where = " / ".join(x for x in (services.get(service_id), categories.get(category_id)) if x) or "no service"
        change = f"up {(n - was) / was:.0%}" if was else "new"
        found.append(Suggestion(
            "rising_volume", f"Rising volume: {where}", f"{n} tickets opened, {was} the period before ({change})",
            {"ticket_volume": n, "previous_ticket_volume": was},
            {"figure": "ticket_volume", "service": service_id, "category": category_id},
        ))
    return found


def repeated_incidents(scope: Scope, period: Period) -> list[Suggestion]:
    """Incidents of one service with the same title (letter case and spaces aside), none handed to problem
    management. Pattern detection (AI assist) will group incidents that say the same in other words."""
    incidents = figures.opened_in(scope, period).filter(type=TicketType.INCIDENT).annotate(
        symptom=Lower(Trim("title")))
    # An incident of the period was handed over after it was opened: its audit events are in or after the period.
    to_problem = AuditEvent.objects.filter(object_type="ticket", field="pending_reason", at__gte=period.start,
                                           new_value=PendingReason.PROBLEM).values("object_id")
    rows = incidents.order_by().values("service_id", "symptom").annotate(
        n=Count("pk"), title=Min("title"),
        handed=Count("pk", filter=Q(pending_reason=PendingReason.PROBLEM) | Q(pk__in=to_problem)),
    ).filter(n__gte=REPEATED_LEAST, handed=0)
    _, services = _names(set(), {r["service_id"] for r in rows})
    return [
        Suggestion(
            "repeated_incidents",
            f"Repeated incidents without a problem: \u201c{r['title']}\u201d"
            + (f" on {services[r['service_id']]}" if r["service_id"] in services else ""),
            f"{r['n']} incidents with this title in the period, none handed to problem management",
            {"incidents": r["n"]},
            {"figure": "ticket_volume", "service": r["service_id"], "type": "incident", "title": r["title"]},
        )
        for r in sorted(rows, key=lambda r: -r["n"])
    ]


def knowledge_gaps(scope: Scope, period: Period) -> list[Suggestion]:
    rows = figures.resolved_in(scope, period).filter(category__isnull=False).order_by().values(
        "category_id").annotate(n=Count("pk"), fcr=Count("pk", filter=Q(first_contact_resolution=True)),
                                reassigned=Avg("reassignment_count")).filter(n__gte=KNOWLEDGE_LEAST)
    gaps = [r for r in rows if r["fcr"] / r["n"] < KNOWLEDGE_FCR_BELOW]
    categories, _ = _names({r["category_id"] for r in gaps}, set())
    return [
        Suggestion(
            "knowledge_gap", f"Knowledge gap: {categories.get(r['category_id'], r['category_id'])}",
            f"{r['n']} tickets resolved, {r['fcr'] / r['n']:.0%} at first contact, "
            f"{r['reassigned']:.1f} reassignments on average",
            {"resolved": r["n"], "first_contact_resolution_rate": r["fcr"] / r["n"],
             "reassignment_mean": float(r["reassigned"])},
            {"figure": "mttr", "category": r["category_id"]},
        )
        for r in sorted(gaps, key=lambda r: -r["n"])
    ]


def automatable_requests(scope: Scope, period: Period) -> list[Suggestion]:
    duration = Seconds(F("resolved_at"), F("opened_at"))
    rows = figures.resolved_in(scope, period).filter(type=TicketType.REQUEST, category__isnull=False).order_by(
    ).values("category_id").annotate(
        n=Count("pk"), first_touch=Count("pk", filter=Q(reassignment_count=0, awaiting_requester_seconds=0)),
        p90=Percentile(duration, 0.9), median=Percentile(duration, 0.5),
    ).filter(n__gte=AUTOMATION_LEAST)
    fits = [r for r in rows if r["first_touch"] / r["n"] >= AUTOMATION_FIRST_TOUCH
            and r["p90"] is not None and r["p90"] / figures.HOUR <= AUTOMATION_P90_HOURS]
    categories, _ = _names({r["category_id"] for r in fits}, set())
    return [
        Suggestion(
            "automatable_requests", f"Automatable requests: {categories.get(r['category_id'], r['category_id'])}",
            f"{r['n']} requests, {r['first_touch'] / r['n']:.0%} handled by one group with no question to the "
            f"requester; median {r['median'] / figures.HOUR:.1f} h, p90 {r['p90'] / figures.HOUR:.1f} h",
            {"requests": r["n"], "one_touch_share": r["first_touch"] / r["n"],
             "median_hours": r["median"] / figures.HOUR, "p90_hours": r["p90"] / figures.HOUR},
            {"figure": "mttr", "category": r["category_id"], "type": "request"},
        )
        for r in sorted(fits, key=lambda r: -r["n"])
    ]


PER_KIND = 5  # the strongest of each kind; the API and the page say how many more there are


def suggest(scope: Scope, period: Period) -> list[Suggestion]:
    """The strongest `PER_KIND` suggestions of each kind, strongest first."""
    found: list[Suggestion] = []
    for kind in (rising_volume, repeated_incidents, knowledge_gaps, automatable_requests):
        found.extend(kind(scope, period)[:PER_KIND])
    return found
