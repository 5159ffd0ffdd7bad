"""Watermelon detection (METRICS.md): a service whose SLA figures are green while what its users live is red.

A service is watermelon in a period when `sla_compliance >= its SLA target` and at least one reason holds:
CSAT below its experience target, reopen rate above its threshold, downtime cost up more than its threshold
on the previous period of the same length, or `watermelon_cluster_size` incidents sharing a probable cause.

Probable causes come from `CAUSES`, functions that group a service's incidents of the period. Built in: the
same category, and the same parent incident. Problems and CIs (issue 7) and pattern clusters (AI assist) add
their function here or through the setting OUTCOMEDESK_WATERMELON_CAUSES (dotted paths).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.utils.module_loading import import_string

from outcomedesk.cmdb.models import BusinessService
from outcomedesk.insights import figures
from outcomedesk.insights.periods import Period
from outcomedesk.insights.scope import Scope
from outcomedesk.tickets.models import Category, TicketType


@dataclass(frozen=True)
class Cause:
    """Incidents of one service sharing a probable cause: `kind` (category, parent...), what it is, and which."""

    kind: str
    label: str
    ticket_ids: tuple[int, ...]
    filters: dict[str, Any] = field(default_factory=dict)  # drill-down filters that list these tickets


@dataclass
class Reason:
    code: str  # csat | reopen_rate | downtime_cost | repeated_cause
    text: str
    figures: dict[str, Any]
    drilldown: dict[str, Any]  # figure name and filters of the tickets behind it
    ticket_ids: tuple[int, ...] = ()  # the tickets themselves, when the reason names them (a shared cause)


@dataclass
class Flag:
    service: BusinessService
    sla_compliance: float
    sla_target: float
    reasons: list[Reason]

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


CauseFinder = Callable[[Scope, Period, int], Iterable[tuple[int, Cause]]]


def _incidents(scope: Scope, period: Period) -> Any:
    return figures.opened_in(scope, period).filter(type=TicketType.INCIDENT, service__isnull=False)


def same_category(scope: Scope, period: Period, least: int) -> list[tuple[int, Cause]]:
    rows = _incidents(scope, period).filter(category__isnull=False).order_by().values(
        "service_id", "category_id").annotate(n=Count("pk")).filter(n__gte=least)
    groups = [(r["service_id"], r["category_id"]) for r in rows]
    if not groups:
        return []
    names = dict(Category.objects.filter(pk__in={c for _, c in groups}).values_list("pk", "name"))
    # The incidents of every such group in one query (in the tickets' default order, as a query per group
    # would list them), not one query per service and category.
    ids: dict[tuple[int, int], list[int]] = {group: [] for group in groups}
    for service_id, category_id, pk in _incidents(scope, period).filter(category__isnull=False).values_list(
            "service_id", "category_id", "pk"):
        if (service_id, category_id) in ids:
            ids[(service_id, category_id)].append(pk)
    found = []
    for service_id, category_id in groups:
        found.append((service_id, Cause("category", f"category {names.get(category_id, category_id)}",
                                        tuple(ids[(service_id, category_id)]),
                                        {"service": service_id, "category": category_id, "type": "incident"})))
    return found


def same_parent(scope: Scope, period: Period, least: int) -> list[tuple[int, Cause]]:
    rows = _incidents(scope, period).filter(parent__isnull=False).order_by().values(
        "service_id", "parent_id", "parent__number").annotate(n=Count("pk")).filter(n__gte=least)
    found = []
    for row in rows:
        ids = tuple(_incidents(scope.narrowed(service=row["service_id"]), period)
                    .filter(parent_id=row["parent_id"]).values_list("pk", flat=True))
        found.append((row["service_id"], Cause("parent", f"linked to {row['parent__number']}", ids,
                                               {"service": row["service_id"], "type": "incident"})))
    return found


CAUSES: tuple[CauseFinder, ...] = (same_category, same_parent)


def _cause_finders() -> list[CauseFinder]:
    extra = getattr(settings, "OUTCOMEDESK_WATERMELON_CAUSES", ())
    return [*CAUSES, *(import_string(path) for path in extra)]


def find_causes(scope: Scope, period: Period) -> dict[int, list[Cause]]:
    """Incidents of the period grouped by probable cause, per service (groups as large as the smallest
    cluster size of any service, or larger)."""
    least = BusinessService.objects.aggregate(least=Min("watermelon_cluster_size"))["least"] or 3
    causes: dict[int, list[Cause]] = {}
    for finder in _cause_finders():
        for service_id, cause in finder(scope, period, least):
            causes.setdefault(service_id, []).append(cause)
    return causes


def detect(scope: Scope, period: Period, *, current: dict[Any, dict[str, Any]] | None = None,
           previous: dict[Any, dict[str, Any]] | None = None, causes: dict[int, list[Cause]] | None = None,
           now: datetime | None = None) -> list[Flag]:
    """The watermelon services of the scope in the period, most reasons first. `current` and `previous` are
    the figures by service of the period and of the one before, `causes` those of `find_causes` (each
    computed here when not given)."""
    if current is None:
        current = figures.compute(scope, period, "service", now)
    if previous is None:
        previous = figures.compute(scope, period.previous(), "service", now)
    if causes is None:
        causes = find_causes(scope, period)
    service_ids = [k for k in current if k not in (figures.TOTAL, None)]
    services = {s.pk: s for s in BusinessService.objects.filter(pk__in=service_ids)}
    flags = []
    for service_id, service in services.items():
        now_figures = current[service_id]
        before = previous.get(service_id) or figures.empty_figures()
        compliance = now_figures["sla_compliance"]["overall"]
        target = float(service.sla_target_percent) / 100
        if compliance is None or compliance < target:
            continue
        reasons = _reasons(service, now_figures, before, causes.get(service_id, []))
        if reasons:
            flags.append(Flag(service, compliance, target, reasons))
    flags.sort(key=lambda f: (-len(f.reasons), f.service.name))
    return flags


def _reasons(service: BusinessService, now: dict[str, Any], before: dict[str, Any],
             causes: list[Cause]) -> list[Reason]:
    reasons = []
    on_service = {"service": service.pk}
    csat, csat_target = now["csat"], float(service.experience_target)
    if csat is not None and csat < csat_target:
        reasons.append(Reason(
            "csat", f"CSAT {csat:.2f} is below the experience target {csat_target:.2f}",
            {"csat": csat, "experience_target": csat_target, "responses": now["surveys"]["responses"]},
            {"figure": "csat_low", **on_service},
        ))
    reopen, reopen_limit = now["reopen_rate"], float(service.watermelon_reopen_rate)
    if reopen is not None and reopen > reopen_limit:
        reasons.append(Reason(
            "reopen_rate", f"{reopen:.0%} of resolved tickets were reopened (threshold {reopen_limit:.0%})",
            {"reopen_rate": reopen, "threshold": reopen_limit, "resolved": now["mttr"]["tickets"]},
            {"figure": "reopen_rate", **on_service},
        ))
    cost, cost_before = now["downtime_cost"], before["downtime_cost"]
    rise = float(service.watermelon_downtime_rise)
    if cost > 0 and cost > cost_before * (1 + rise):
        change = (cost - cost_before) / cost_before if cost_before else None
        text = (f"downtime cost {cost:,.0f} is up {change:.0%} on the previous period ({cost_before:,.0f})"
                if change is not None else f"downtime cost {cost:,.0f}, none in the previous period")
        reasons.append(Reason(
            "downtime_cost", text,
            {"downtime_cost": cost, "previous_downtime_cost": cost_before, "change": change, "threshold": rise},
            {"figure": "downtime_cost", **on_service},
        ))
    for cause in causes:
        if len(cause.ticket_ids) >= service.watermelon_cluster_size:
            reasons.append(Reason(
                "repeated_cause", f"{len(cause.ticket_ids)} incidents share a probable cause: {cause.label}",
                {"incidents": len(cause.ticket_ids), "threshold": service.watermelon_cluster_size,
                 "cause": cause.kind},
                {"figure": "ticket_volume", **cause.filters}, cause.ticket_ids,
            ))
    return reasons
