"""Reads of maturity assessments and of the improvement register.

Maturity: service managers and admins see and assess every scope; a desk manager sees the organisation's
assessments and those of the desks they manage, and assesses only the latter. Requesters and agents see none.

Register: whoever sees figures (accounts.policy) reads the initiatives of the desks whose figures they see;
desk managers of the desk, service managers and admins edit them. The benefit of an initiative is measured
here from the figures of METRICS.md, never typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk
from outcomedesk.core import clock
from outcomedesk.core.audit import events_for
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.parsing import as_id
from outcomedesk.improvement.models import Assessment, Initiative, InitiativeStatus
from outcomedesk.improvement.questionnaire import LEVEL_NAMES, PRACTICES, Practice, level_of
from outcomedesk.improvement.tracked import PER_DAYS, TrackedFigure, value_at
from outcomedesk.insights.figures import TOTAL, compute
from outcomedesk.insights.periods import Period, midnight, month, zone
from outcomedesk.insights.scope import Scope

RELATED = ("assessed_by", "desk")


# --- who ---------------------------------------------------------------------------------------------------

def can_see_maturity(user: Any) -> bool:
    return policy.can(user, policy.VIEW, policy.Capability.MATURITY)


def may_assess(user: Any, desk_id: int | None) -> bool:
    """Service managers and admins assess the organisation and the desks they oversee; a desk manager the desks
    they manage."""
    return policy.can(user, policy.MANAGE, Assessment(desk_id=desk_id))


def may_assess_organisation(user: Any) -> bool:
    return may_assess(user, None)


def visible_desks(user: Any) -> QuerySet[Desk]:
    """Desks whose assessments `user` may read (the organisation's are readable by all who see maturity)."""
    if not can_see_maturity(user):
        return Desk.objects.none()
    return Desk.objects.filter(pk__in=sorted(policy.desk_ids(user, policy.MANAGE, policy.Kind.DESK)))


def assessable_desks(user: Any) -> QuerySet[Desk]:
    return visible_desks(user).filter(is_active=True)


def visible_desk(user: Any, ref: int | str) -> Desk | None:
    """The desk with this id or slug, if `user` may read its assessments."""
    desks = visible_desks(user)
    desk_id = as_id(ref)
    if desk_id is not None:
        return desks.filter(pk=desk_id).first()
    return desks.filter(slug=ref).first()


# --- assessments -------------------------------------------------------------------------------------------

def _in_scope(desk: Desk | int | None) -> Q:
    return Q(desk__isnull=True) if desk is None else Q(desk=desk)


def latest_assessments(desk: Desk | int | None = None, *, per_practice: int = 1) -> dict[str, list[Assessment]]:
    """The newest `per_practice` assessments of each practice in the scope, newest first, in one query.

    `desk=None` is the whole organisation's assessments, not every desk's.
    """
    ranked = Assessment.objects.filter(_in_scope(desk)).annotate(
        rank=Window(RowNumber(), partition_by=[F("practice")], order_by=[F("assessed_at").desc(), F("id").desc()])
    )
    rows = ranked.filter(rank__lte=per_practice).select_related(*RELATED).order_by("practice", "-assessed_at", "-id")
    found: dict[str, list[Assessment]] = {}
    for row in rows:
        found.setdefault(row.practice, []).append(row)
    return found


def latest_by_practice(desk: Desk | int | None = None) -> dict[str, Assessment]:
    """The newest assessment of each practice assessed in the scope."""
    return {practice: rows[0] for practice, rows in latest_assessments(desk).items()}


@dataclass(frozen=True)
class PracticeSummary:
    """A practice's latest assessment in a scope and the one before it (either may be missing)."""

    practice: Practice
    latest: Assessment | None
    previous: Assessment | None

    @property
    def change(self) -> Decimal | None:
        """The score's change since the assessment before; None for a first assessment or none."""
        if self.latest is None or self.previous is None:
            return None
        return self.latest.score - self.previous.score

    @property
    def level_label(self) -> str:
        return level_label(self.latest.score if self.latest else None)


def practice_summaries(desk: Desk | int | None = None) -> list[PracticeSummary]:
    """Every practice in questionnaire order with its two newest assessments in the scope, in one query."""
    found = latest_assessments(desk, per_practice=2)
    summaries = []
    for practice in PRACTICES:
        newest = found.get(practice.key, [])
        summaries.append(PracticeSummary(practice, newest[0] if newest else None,
                                         newest[1] if len(newest) > 1 else None))
    return summaries


def history(practice: str, desk: Desk | int | None = None) -> QuerySet[Assessment]:
    """The assessments of a practice in the scope, oldest first."""
    return Assessment.objects.filter(_in_scope(desk), practice=practice).select_related(*RELATED).order_by(
        "assessed_at", "id")


def latest_of(practice: str, desk: Desk | int | None = None) -> Assessment | None:
    return Assessment.objects.filter(_in_scope(desk), practice=practice).order_by("-assessed_at", "-id").first()


def level_label(score: Decimal | float | None) -> str:
    """"2 - Repeatable" for a score of 2.00 to 2.99 (a level counts once fully reached); empty for no score."""
    if score is None:
        return ""
    level = level_of(score)
    return f"{level} - {LEVEL_NAMES[level]}"


# --- the improvement register: who -------------------------------------------------------------------------

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


# --- the improvement register: measuring -------------------------------------------------------------------

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
