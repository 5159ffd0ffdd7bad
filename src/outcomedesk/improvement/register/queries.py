"""Reads of the continual improvement register.

Whoever sees figures (accounts.policy) reads the initiatives of the desks whose figures they see; desk managers
of the desk, service managers and admins edit them. The benefit of an initiative is measured here from the
figures of METRICS.md, never typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.core.audit import events_for
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.parsing import as_id
from outcomedesk.improvement.models import Initiative, InitiativeStatus
from outcomedesk.improvement.register.tracked import PER_DAYS, TrackedFigure, value_at
from outcomedesk.insights.figures import TOTAL, compute
from outcomedesk.insights.periods import Period, midnight, month, zone
from outcomedesk.insights.scope import Scope

# --- who ---------------------------------------------------------------------------------------------------

INITIATIVE_RELATED = ("owner", "desk", "service", "category")
MEASURE_DECIMALS = 6
TREND_MONTHS = 36  # a trend chart draws at most the last three years, one figure computation a month


def can_see_register(user: Any) -> bool:
    return policy.can(user, policy.VIEW, policy.Capability.INSIGHTS)


def register_desk_ids(user: Any) -> frozenset[int]:
    """Desks whose initiatives `user` reads: those whose figures they see (a confidential desk: its members)."""
    return policy.desk_ids(user, policy.VIEW, policy.Kind.FIGURES)


def editable_desk_ids(user: Any, visible: frozenset[int] | None = None) -> frozenset[int]:
    """Desks whose initiatives `user` creates and edits: desk managers their desks; service managers and
    admins the desks they oversee. `visible`: register_desk_ids(user), when the caller has it already."""
    visible = register_desk_ids(user) if visible is None else visible
    return visible & policy.desk_ids(user, policy.MANAGE, policy.Kind.FIGURES)


def visible_initiatives(user: Any, visible: frozenset[int] | None = None) -> QuerySet[Initiative]:
    desk_ids = register_desk_ids(user) if visible is None else visible
    return Initiative.objects.filter(desk_id__in=sorted(desk_ids)).select_related(*INITIATIVE_RELATED)


def filter_initiatives(rows: QuerySet[Initiative], *, status: str | None = None,
                       desk: str | int | None = None) -> QuerySet[Initiative]:
    """The one filter of the register, for its page and its API; an unknown value is an error naming its field."""
    if status not in (None, ""):
        if status not in InitiativeStatus.values:
            raise InvalidInput({"status": f"must be one of {', '.join(InitiativeStatus.values)}, not {status!r}"})
        rows = rows.filter(status=status)
    if desk not in (None, ""):
        text = str(desk)
        desk_id = as_id(text)
        rows = rows.filter(Q(desk__slug=text) | (Q(desk_id=desk_id) if desk_id is not None else Q(pk__in=[])))
    return rows


# --- measuring ---------------------------------------------------------------------------------------------

def scope_for(desk_id: int, service_id: int | None = None, category_id: int | None = None) -> Scope:
    # No desk_ids: who may read the initiative is checked by its doors, and its figures are its desk's.
    return Scope(desk=desk_id, service=service_id, category=category_id)


def initiative_scope(initiative: Initiative) -> Scope:
    return scope_for(initiative.desk_id, initiative.service_id, initiative.category_id)


def day_of(moment: datetime) -> date:
    return moment.astimezone(zone()).date()


def days_period(first: date, last: date) -> Period:
    """The days `first` to `last`, both included."""
    return Period(midnight(first), midnight(last + timedelta(days=1)))


def baseline_period(initiative: Initiative) -> Period:
    return days_period(initiative.baseline_from, initiative.baseline_to)


def current_period(initiative: Initiative, now: datetime) -> Period | None:
    """From the day it started (or was created) until now; None while that day is still to come."""
    first = initiative.started_on or day_of(initiative.created_at)
    start = midnight(first)
    return Period(start, now) if start < now else None


FigureCache = dict[tuple[Scope, Period], dict[str, Any]]


def figures_over(scope: Scope, period: Period, now: datetime, cache: FigureCache | None = None) -> dict[str, Any]:
    """Every figure of METRICS.md over the period (computed once per scope and period with a cache)."""
    if cache is not None and (scope, period) in cache:
        return cache[(scope, period)]
    found = compute(scope, period, now=now)[TOTAL]
    if cache is not None:
        cache[(scope, period)] = found
    return found


def figure_value(tracked: TrackedFigure, figures: dict[str, Any], period: Period) -> float | None:
    """The tracked figure's value in `figures`; a sum over the period scaled to PER_DAYS days."""
    value = value_at(figures, tracked.path)
    if value is None or (tracked.per_period and period.days <= 0):
        return None
    scaled = float(value) * PER_DAYS / period.days if tracked.per_period else float(value)
    # Six decimals drop the noise of date arithmetic in SQL (SQLite's julianday gives 3.9999999963 hours).
    return round(scaled, MEASURE_DECIMALS)


def measure(tracked: TrackedFigure, scope: Scope, period: Period, now: datetime | None = None) -> float | None:
    return figure_value(tracked, figures_over(scope, period, now or clock.now()), period)


@dataclass(frozen=True)
class Benefit:
    """What an initiative has achieved so far: its figure now against the baseline and the target."""

    initiative: Initiative
    period: Period | None  # None: not started yet
    current: float | None
    figures: dict[str, Any]  # every figure over the period, for the figures behind the benefit

    @property
    def change(self) -> float | None:
        return None if self.current is None else self.current - self.initiative.baseline_value

    @property
    def change_percent(self) -> float | None:
        baseline = self.initiative.baseline_value
        return None if self.change is None or baseline == 0 else self.change / abs(baseline) * 100

    @property
    def progress_percent(self) -> float | None:
        """How far from the baseline to the target the figure has come: 0 (or worse) to 100, and beyond."""
        baseline, target = self.initiative.baseline_value, self.initiative.target_value
        if self.current is None or target == baseline:
            return None
        return max(0.0, (self.current - baseline) / (target - baseline) * 100)

    @property
    def improved(self) -> bool | None:
        if self.change is None or self.change == 0:
            return None
        return (self.change < 0) == (self.initiative.tracked.direction == "lower")


def benefit(initiative: Initiative, period: Period | None = None, *, now: datetime | None = None,
            cache: FigureCache | None = None) -> Benefit:
    """The benefit over `period`, by default from the day the initiative started (or was created) to now."""
    now = now or clock.now()
    period = period or current_period(initiative, now)
    if period is None:
        return Benefit(initiative, None, None, {})
    figures = figures_over(initiative_scope(initiative), period, now, cache)
    return Benefit(initiative, period, figure_value(initiative.tracked, figures, period), figures)


def benefits(initiatives: list[Initiative], *, now: datetime | None = None) -> dict[int, Benefit]:
    """The benefit of each initiative, computing the figures once per distinct scope and period."""
    now = now or clock.now()
    cache: FigureCache = {}
    return {row.pk: benefit(row, now=now, cache=cache) for row in initiatives}


def monthly_trend(initiative: Initiative, *, now: datetime | None = None) -> list[tuple[Period, float | None]]:
    """The figure per calendar month from the baseline's first month to now (the last month until now)."""
    now = now or clock.now()
    cursor, last = initiative.baseline_from.replace(day=1), day_of(now).replace(day=1)
    months = []
    while cursor <= last:
        months.append(month(cursor.year, cursor.month))
        cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
    scope = initiative_scope(initiative)
    trend = []
    for whole in months[-TREND_MONTHS:]:
        period = Period(whole.start, min(whole.end, now))
        trend.append((period, measure(initiative.tracked, scope, period, now) if period.start < now else None))
    return trend


def initiative_events(initiative: Initiative) -> Any:
    """The audit trail of an initiative, oldest first."""
    return events_for("initiative", initiative.pk)
