"""What the dashboards show, as data: the pages (web) draw it; the benchmark times `service_manager`.

Three views of the same figures: the service manager's (every figure of the scope, by service, trends,
watermelons and suggestions), the service owner's (one service and what it cost the business) and the
executive's (every visible desk side by side, the business outcome of each service over the quarter).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, F, Q

from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.insights import figures, suggestions, trends, watermelon
from outcomedesk.insights.aggregates import Seconds
from outcomedesk.insights.parallel import lanes
from outcomedesk.insights.periods import Period, midnight, zone
from outcomedesk.insights.report import labels
from outcomedesk.insights.scope import Scope
from outcomedesk.insights.units import pick
from outcomedesk.tickets.models import Priority

# Headline figures: (name in the figures, label, unit, which way is better, drill-down set)
HEADLINES: tuple[tuple[str, str, str, str, str], ...] = (
    ("ticket_volume", "Tickets opened", "count", "neutral", "ticket_volume"),
    ("backlog", "Backlog at the end", "count", "lower", "backlog"),
    ("mttr.median_hours", "MTTR median", "hours", "lower", "mttr"),
    ("mttr.p90_hours", "MTTR p90", "hours", "lower", "mttr"),
    ("time_to_first_response.median_hours", "First response median", "hours", "lower", "time_to_first_response"),
    ("sla_compliance.overall", "SLA compliance", "share", "higher", "sla_breaches"),
    ("first_touch_resolution_rate", "First-touch resolution", "share", "higher", "first_touch_resolution_rate"),
    ("first_contact_resolution_rate", "First-contact resolution", "share", "higher", "mttr"),
    ("reopen_rate", "Reopen rate", "share", "lower", "reopen_rate"),
    ("escalation_count", "Escalated", "count", "lower", "escalation_count"),
    ("csat", "CSAT", "score", "higher", "csat"),
    ("survey_response_rate", "Survey response rate", "share", "higher", "csat"),
    ("downtime_cost", "Downtime cost", "money", "lower", "downtime_cost"),
    ("productivity_loss_user_hours", "Productivity loss", "user_hours", "lower", "downtime_cost"),
)


@dataclass
class Headline:
    name: str
    label: str
    unit: str
    better: str
    drilldown: str
    value: Any
    previous: Any

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None or self.previous == 0:
            return None
        return (self.value - self.previous) / abs(self.previous)

    @property
    def verdict(self) -> str:
        """better | worse | same | "" (no comparison or no direction)."""
        if self.value is None or self.previous is None or self.better == "neutral" or self.value == self.previous:
            return "same" if self.value == self.previous and self.value is not None else ""
        up = self.value > self.previous
        return "better" if up == (self.better == "higher") else "worse"


def headlines(current: dict[str, Any], previous: dict[str, Any]) -> list[Headline]:
    return [Headline(name, label, unit, better, drill, pick(current, name), pick(previous, name))
            for name, label, unit, better, drill in HEADLINES]


@dataclass
class Group:
    key: Any
    label: str
    figures: dict[str, Any]
    previous: dict[str, Any]


def _groups(by: str, current: dict[Any, Any], previous: dict[Any, Any]) -> list[Group]:
    keys = [k for k in {*current, *previous} if k != figures.TOTAL]
    names = labels(by, keys)
    empty = figures.empty_figures()
    groups = [Group(k, names[k], current.get(k, empty), previous.get(k, empty)) for k in keys]
    groups.sort(key=lambda g: (-g.figures["ticket_volume"], g.label))
    return groups


@dataclass
class ServiceManagerView:
    period: Period
    previous_period: Period
    figures: dict[str, Any]
    previous: dict[str, Any]
    headlines: list[Headline]
    services: list[Group]
    priorities: list[tuple[int, str, int, int]]  # priority, label, opened, open at the end
    resolution_bands: list[tuple[str, int]]
    trend: trends.Trend
    watermelons: list[watermelon.Flag]
    suggestions: list[suggestions.Suggestion] = field(default_factory=list)


def _priorities(scope: Scope, period: Period) -> list[tuple[int, str, int, int]]:
    opened = dict(figures.opened_in(scope, period).order_by().values_list("priority").annotate(n=Count("pk")))
    backlog = dict(figures.open_at_end(scope, period).order_by().values_list("priority").annotate(n=Count("pk")))
    return [(p.value, p.label, opened.get(p.value, 0), backlog.get(p.value, 0)) for p in Priority]


# Bands of time to resolve that people think in; a long tail of slow tickets stays readable.
RESOLUTION_BANDS: tuple[tuple[float, str], ...] = (
    (1, "under 1 h"), (4, "1-4 h"), (8, "4-8 h"), (24, "8-24 h"), (72, "1-3 days"), (168, "3-7 days"),
    (720, "1-4 weeks"), (float("inf"), "over 4 weeks"),
)


def resolution_bands(scope: Scope, period: Period) -> list[tuple[str, int]]:
    """How many tickets resolved in the period took how long, by RESOLUTION_BANDS: one query."""
    seconds = Seconds(F("resolved_at"), F("opened_at"))
    counts: dict[str, Any] = {}
    low = 0.0
    for index, (upper, _) in enumerate(RESOLUTION_BANDS):
        # Rounded to the millisecond, so that a ticket resolved in exactly an hour is in "1-4 h" on SQLite too.
        band = Q(s__gte=low * figures.HOUR - 0.001)
        if upper != float("inf"):
            band &= Q(s__lt=upper * figures.HOUR - 0.001)
        counts[f"b{index}"] = Count("pk", filter=band)
        low = upper
    found = figures.resolved_in(scope, period).annotate(s=seconds).aggregate(**counts)
    return [(label, found[f"b{i}"] or 0) for i, (_, label) in enumerate(RESOLUTION_BANDS)]


def service_manager(scope: Scope, period: Period, now: datetime | None = None) -> ServiceManagerView:
    """Every figure of the service manager's dashboard."""
    now = now or clock.now()
    before = period.previous()
    # Two lanes of about the same work (a third gave nothing more on two cores: docs/benchmarks.md).
    parts = lanes({
        "current": lambda: figures.compute(scope, period, "service", now),
        "trend": lambda: trends.trend(scope, period),
        "priorities": lambda: _priorities(scope, period),
    }, {
        "previous": lambda: figures.compute(scope, before, "service", now),
        "suggestions": lambda: suggestions.suggest(scope, period),
        "resolution_bands": lambda: resolution_bands(scope, period),
        "causes": lambda: watermelon.find_causes(scope, period),
    })
    current, previous = parts["current"], parts["previous"]
    return ServiceManagerView(
        period=period, previous_period=before,
        figures=current[figures.TOTAL], previous=previous[figures.TOTAL],
        headlines=headlines(current[figures.TOTAL], previous[figures.TOTAL]),
        services=_groups("service", current, previous),
        priorities=parts["priorities"],
        resolution_bands=parts["resolution_bands"],
        trend=parts["trend"],
        watermelons=watermelon.detect(scope, period, current=current, previous=previous, causes=parts["causes"],
                                      now=now),
        suggestions=parts["suggestions"],
    )


# --- service owner: one service and its value -----------------------------------------------------------

def quarter_of(day: date) -> Period:
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    after = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return Period(midnight(first), midnight(after))


@dataclass
class ValueView:
    """What a service cost the business over a period, and why: its impact windows, costliest first."""

    service: BusinessService
    period: Period
    downtime_cost: float
    outage_hours: float
    productivity_loss_user_hours: float
    impacts: list[dict[str, Any]]
    incidents: int
    top_categories: list[tuple[str, int]]


def value_view(scope: Scope, service: BusinessService, period: Period, now: datetime | None = None) -> ValueView:
    now = now or clock.now()
    on_service = scope.narrowed(service=service.pk)
    rows = sorted(figures.impact_rows(on_service, period, now), key=lambda r: -r["downtime_cost"])
    totals = figures.compute(on_service, period, None, now)[figures.TOTAL]
    incidents = figures.opened_in(on_service, period).filter(type="incident")
    categories = incidents.order_by().values_list("category__name").annotate(n=Count("pk")).order_by("-n")[:5]
    return ValueView(
        service=service, period=period, downtime_cost=totals["downtime_cost"],
        outage_hours=totals["outage_hours"], productivity_loss_user_hours=totals["productivity_loss_user_hours"],
        impacts=rows, incidents=incidents.count(),
        top_categories=[(name or "(no category)", n) for name, n in categories],
    )


@dataclass
class ServiceOwnerView:
    service: BusinessService
    period: Period
    headlines: list[Headline]
    figures: dict[str, Any]
    trend: trends.Trend
    watermelon: watermelon.Flag | None
    value: ValueView


def service_owner(scope: Scope, service: BusinessService, period: Period,
                  now: datetime | None = None) -> ServiceOwnerView:
    now = now or clock.now()
    on_service = scope.narrowed(service=service.pk)
    before = period.previous()
    quarter = quarter_of(min(now, period.end).astimezone(zone()).date())
    parts = lanes({
        "current": lambda: figures.compute(on_service, period, "service", now),
        "trend": lambda: trends.trend(on_service, period),
    }, {
        "previous": lambda: figures.compute(on_service, before, "service", now),
        "causes": lambda: watermelon.find_causes(on_service, period),
        "value": lambda: value_view(scope, service, quarter, now),
    })
    current, previous = parts["current"], parts["previous"]
    flags = watermelon.detect(on_service, period, current=current, previous=previous, causes=parts["causes"],
                              now=now)
    return ServiceOwnerView(
        service=service, period=period,
        headlines=headlines(current[figures.TOTAL], previous[figures.TOTAL]),
        figures=current[figures.TOTAL], trend=parts["trend"],
        watermelon=next((f for f in flags if f.service.pk == service.pk), None),
        value=parts["value"],
    )


# --- executive: every visible desk, outcomes per service ------------------------------------------------

@dataclass
class ExecutiveView:
    period: Period
    headlines: list[Headline]
    desks: list[Group]
    outcomes: list[dict[str, Any]]  # per service: downtime cost, outage hours, user hours, over the period
    watermelons: list[watermelon.Flag]
    trend: trends.Trend


def executive(scope: Scope, period: Period, now: datetime | None = None) -> ExecutiveView:
    now = now or clock.now()
    before = period.previous()
    parts = lanes({
        "current": lambda: figures.compute(scope, period, "desk", now),
        "services": lambda: figures.compute(scope, period, "service", now),
        "trend": lambda: trends.trend(scope, period),
    }, {
        "previous": lambda: figures.compute(scope, before, "desk", now),
        "services_before": lambda: figures.compute(scope, before, "service", now),
        "causes": lambda: watermelon.find_causes(scope, period),
    })
    current, previous = parts["current"], parts["previous"]
    per_service: dict[int, dict[str, Any]] = defaultdict(lambda: {"downtime_cost": 0.0, "outage_hours": 0.0,
                                                                  "user_hours": 0.0, "impacts": 0})
    names: dict[int, BusinessService] = {}
    for row in figures.impact_rows(scope, period, now):
        item = per_service[row["service"].pk]
        names[row["service"].pk] = row["service"]
        item["downtime_cost"] += row["downtime_cost"]
        item["outage_hours"] += row["outage_hours"]
        item["user_hours"] += row["user_hours"]
        item["impacts"] += 1
    outcomes = sorted(({"service": names[k], **v} for k, v in per_service.items()),
                      key=lambda r: -r["downtime_cost"])
    return ExecutiveView(
        period=period, headlines=headlines(current[figures.TOTAL], previous[figures.TOTAL]),
        desks=_groups("desk", current, previous), outcomes=outcomes,
        watermelons=watermelon.detect(scope, period, current=parts["services"], previous=parts["services_before"],
                                      causes=parts["causes"], now=now),
        trend=parts["trend"],
    )
