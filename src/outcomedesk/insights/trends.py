"""Figures per day, week or month of a period, for trend charts: one grouped query per series.

The buckets are those of `periods.buckets`; a bucket's figures use the same definitions as the period's,
except `sla_compliance`, which per bucket counts only the targets that completed in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Avg, Count, F, Q, QuerySet
from django.db.models.functions import Coalesce, Least, TruncDay, TruncMonth, TruncWeek

from outcomedesk.experience.models import Survey
from outcomedesk.insights import figures
from outcomedesk.insights.aggregates import Percentile, Seconds
from outcomedesk.insights.periods import Period, buckets, zone
from outcomedesk.insights.scope import Scope
from outcomedesk.sla.models import TargetState, TicketTarget

TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


@dataclass
class Trend:
    step: str
    buckets: list[Period]
    opened: list[int]
    resolved: list[int]
    backlog: list[int]
    mttr_median_hours: list[float | None]
    sla_compliance: list[float | None]
    csat: list[float | None]

    def labels(self) -> list[str]:
        fmt = {"day": "%d %b", "week": "%d %b", "month": "%b %Y"}[self.step]
        return [b.start.astimezone(zone()).strftime(fmt) for b in self.buckets]


def _key(step: str, moment: datetime | date) -> date:
    """The natural start (local date) of the bucket that holds `moment`."""
    day = moment.astimezone(zone()).date() if isinstance(moment, datetime) else moment
    if step == "week":
        return date.fromordinal(day.toordinal() - day.weekday())
    if step == "month":
        return day.replace(day=1)
    return day


def _per_bucket(qs: QuerySet[Any], field: Any, step: str, aggregates: dict[str, Any]) -> dict[date, dict[str, Any]]:
    trunc = TRUNC[step](field, tzinfo=zone())
    rows = qs.annotate(bucket=trunc).order_by().values("bucket").annotate(**aggregates)
    return {_key(step, row.pop("bucket")): row for row in rows if row["bucket"] is not None}


def trend(scope: Scope, period: Period) -> Trend:
    step, pieces = buckets(period)
    keys = [_key(step, piece.start) for piece in pieces]

    opened = _per_bucket(figures.opened_in(scope, period), "opened_at", step, {"n": Count("pk")})
    duration = Seconds(F("resolved_at"), F("opened_at"))
    resolved = _per_bucket(figures.resolved_in(scope, period), "resolved_at", step, {
        "n": Count("pk"), "median": Percentile(duration, 0.5),
    })
    done = scope.tickets().annotate(done=Coalesce(Least("resolved_at", "closed_at"), "resolved_at", "closed_at"))
    finished = _per_bucket(done.filter(done__gte=period.start, done__lt=period.end, opened_at__lt=period.end),
                           "done", step, {"n": Count("pk")})
    targets = TicketTarget.objects.filter(
        scope.q("ticket__"), metric__in=list(figures.SLA_METRICS), stopped_at__gte=period.start,
        stopped_at__lt=period.end, state__in=(TargetState.MET, TargetState.BREACHED),
    )
    sla = _per_bucket(targets, "stopped_at", step, {
        "met": Count("pk", filter=Q(state=TargetState.MET)), "all": Count("pk"),
    })
    imported = figures.imported_completed_in(scope, period)
    for bucket, row in _per_bucket(imported, "completed", step, {
        "met": Count("pk", filter=Q(imported_sla_met=True)), "all": Count("pk"),
    }).items():
        into = sla.setdefault(bucket, {"met": 0, "all": 0})
        into["met"] += row["met"]
        into["all"] += row["all"]
    answered = Survey.objects.filter(scope.q("ticket__"), responded_at__gte=period.start,
                                     responded_at__lt=period.end, score__isnull=False)
    csat = _per_bucket(answered, "responded_at", step, {"mean": Avg("score")})

    # Backlog at each bucket's end, walking back from the period's end: what was open at the end of a bucket
    # is what was open at the end of the next, less what the next opened, plus what it finished.
    backlog = [0] * len(keys)
    if keys:
        backlog[-1] = figures.open_at_end(scope, period).count()
        for i in range(len(keys) - 2, -1, -1):
            nxt = keys[i + 1]
            backlog[i] = (backlog[i + 1] - opened.get(nxt, {}).get("n", 0)
                          + finished.get(nxt, {}).get("n", 0))

    def hours(value: float | None) -> float | None:
        return None if value is None else value / figures.HOUR

    return Trend(
        step=step, buckets=pieces,
        opened=[opened.get(k, {}).get("n", 0) for k in keys],
        resolved=[resolved.get(k, {}).get("n", 0) for k in keys],
        backlog=backlog,
        mttr_median_hours=[hours(resolved.get(k, {}).get("median")) for k in keys],
        sla_compliance=[(sla[k]["met"] / sla[k]["all"]) if sla.get(k, {}).get("all") else None for k in keys],
        csat=[float(csat[k]["mean"]) if csat.get(k, {}).get("mean") is not None else None for k in keys],
    )
