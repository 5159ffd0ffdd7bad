"""The figures of METRICS.md for a period and a scope, optionally by one dimension, as grouped SQL queries.

Every figure is named as in METRICS.md. Durations are hours (`_hours`) or calendar hours (`_business_hours`);
rates are shares from 0 to 1; a figure with nothing to count is None, not 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Avg, Count, ExpressionWrapper, F, FloatField, Func, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Least

from outcomedesk.core import clock
from outcomedesk.core.models import AuditEvent
from outcomedesk.core.parsing import is_digits
from outcomedesk.experience.models import Survey
from outcomedesk.insights import delivery
from outcomedesk.insights.aggregates import Percentile, Seconds
from outcomedesk.insights.periods import Period
from outcomedesk.insights.scope import DIMENSIONS, Scope
from outcomedesk.sla.models import Metric, TargetState, TicketTarget
from outcomedesk.tickets import impact as impact_figures
from outcomedesk.tickets.models import ServiceImpact, Ticket, TicketType

HOUR = 3600.0
TOTAL = "__total__"
Rows = dict[Any, dict[str, Any]]

# Customer-facing targets make `sla_compliance`; OLA (group hold) and UC (vendor) targets are reported beside.
SLA_METRICS = {Metric.RESPONSE: "response", Metric.RESOLUTION: "resolution", Metric.NEXT_UPDATE: "next_update"}
OTHER_METRICS = {Metric.GROUP_HOLD: "ola", Metric.VENDOR_PENDING: "underpinning"}


def _grouped(qs: QuerySet[Any], field: str | None, aggregates: dict[str, Any], *, counts: bool = False) -> Rows:
    """{TOTAL: values} or {TOTAL: ..., key: values per group}: one query for the total, one for the groups.
    With `counts` (every aggregate a count, so each row adds to exactly one group) the total is the sum of the
    groups, and on PostgreSQL the total comes from the grouped query itself: one query either way."""
    if field and counts:
        total = dict.fromkeys(aggregates, 0)
        groups: Rows = {}
        for row in qs.order_by().values(field).annotate(**aggregates):
            groups[row.pop(field)] = row
            for name in aggregates:
                total[name] += row[name]
        return {TOTAL: total, **groups}
    if field and connections[qs.db].vendor == "postgresql":
        return _grouping_sets(qs, field, aggregates)
    rows: Rows = {TOTAL: qs.aggregate(**aggregates)}
    if field:
        for row in qs.order_by().values(field).annotate(**aggregates):
            rows[row.pop(field)] = row
    return rows


class _Grouping(Func):
    """GROUPING(column): 1 on the row of the whole set of a GROUPING SETS query, 0 on the rows of the groups."""

    function = "GROUPING"
    output_field = IntegerField()
    contains_aggregate = True  # computed per group, never itself a GROUP BY column


_WHOLE = "_whole_set"


def _grouping_sets(qs: QuerySet[Any], field: str, aggregates: dict[str, Any]) -> Rows:
    """What `_grouped` returns, in one pass over the rows (PostgreSQL): the grouped query with GROUP BY
    GROUPING SETS ((field), ()), whose extra row (GROUPING(field) = 1) aggregates every row, as the total."""
    grouped = qs.order_by().values(field).annotate(**aggregates, **{_WHOLE: _Grouping(field)})
    query = grouped.query
    compiler = query.get_compiler(using=grouped.db)
    group_by = compiler.get_group_by

    def grouping_sets(select: Any, order_by: Any) -> list[tuple[str, tuple[Any, ...]]]:
        columns = []
        for sql, params in group_by(select, order_by):
            if is_digits(sql):  # a position in the select list: not allowed inside GROUPING SETS
                sql, params = select[int(sql) - 1][1]
            columns.append((sql, tuple(params)))
        listed = ", ".join(sql for sql, _ in columns)
        return [(f"GROUPING SETS (({listed}), ())", tuple(p for _, params in columns for p in params))]

    setattr(compiler, "get_group_by", grouping_sets)  # noqa: B010  (this compiler only)
    names = list(query.selected) if query.selected else [*query.extra_select, *query.values_select,
                                                         *query.annotation_select]
    rows: Rows = {}
    for values in compiler.results_iter():
        row = dict(zip(names, values, strict=True))
        whole = row.pop(_WHOLE)
        key = row.pop(field)
        rows[TOTAL if whole else key] = row
    return rows


def _hours(value: float | None) -> float | None:
    return None if value is None else value / HOUR


def _share(part: int | None, whole: int | None) -> float | None:
    return (part or 0) / whole if whole else None


def _in(period: Period, field: str) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


# The ticket sets behind the figures; the drill-down lists use the same definitions.

def opened_in(scope: Scope, period: Period) -> QuerySet[Ticket]:
    """Tickets opened in the period (`ticket_volume`, `time_to_first_response`)."""
    return scope.tickets().filter(_in(period, "opened_at"))


def resolved_in(scope: Scope, period: Period) -> QuerySet[Ticket]:
    """Tickets resolved in the period (`mttr`, the resolution rates, `reopen_rate`)."""
    return scope.tickets().filter(_in(period, "resolved_at"))


def done_at() -> Coalesce:
    """When a ticket stopped being open: the earlier of resolved_at and closed_at (a cancellation closes it),
    None while neither is set. The expression of the index `ticket_desk_done` (tickets migration 0006)."""
    return Coalesce(Least("resolved_at", "closed_at"), "resolved_at", "closed_at")


def open_at_end(scope: Scope, period: Period) -> QuerySet[Ticket]:
    """`backlog`: opened before the period's end, and neither resolved nor closed (or cancelled) before it,
    i.e. not done before it: written on `done_at` so that it is two ranges of an index, not every older ticket."""
    return scope.tickets().alias(done=done_at()).filter(
        Q(done__isnull=True) | Q(done__gte=period.end), opened_at__lt=period.end
    )


def escalated_in(scope: Scope, period: Period) -> QuerySet[Ticket]:
    """`escalation_count`: escalated in the period, functionally (handed from one group to another) or
    hierarchically (the SLA engine's escalations)."""
    changes = AuditEvent.objects.filter(
        _in(period, "at"), object_type="ticket", field__in=("group", "priority"),
    ).filter(Q(action="escalated") | Q(action="assigned", field="group") & ~Q(old_value=""))
    return scope.tickets().filter(pk__in=changes.values("object_id"))


# --- operational --------------------------------------------------------------------------------------------

def _opened(scope: Scope, period: Period, by: str | None) -> Rows:
    responded = Q(first_response_at__isnull=False)
    response = Seconds(F("first_response_at"), F("opened_at"))
    return _grouped(opened_in(scope, period), by, {
        "volume": Count("pk"),
        "responded": Count("pk", filter=responded),
        "ttfr_median": Percentile(response, 0.5, filter=responded),
        "ttfr_p90": Percentile(response, 0.9, filter=responded),
    })


def _resolved(scope: Scope, period: Period, by: str | None) -> Rows:
    duration = Seconds(F("resolved_at"), F("opened_at"))
    wait = ExpressionWrapper(duration - F("awaiting_requester_seconds"), output_field=FloatField())
    blocking = Q(blocks_work=True, type=TicketType.REQUEST)
    return _grouped(resolved_in(scope, period), by, {
        "resolved": Count("pk"),
        "mttr_mean": Avg(duration),
        "mttr_median": Percentile(duration, 0.5),
        "mttr_p90": Percentile(duration, 0.9),
        "first_touch": Count("pk", filter=Q(reassignment_count=0)),
        "first_contact": Count("pk", filter=Q(first_contact_resolution=True)),
        "reopened": Count("pk", filter=Q(reopen_count__gt=0)),
        "reassignments": Sum("reassignment_count"),
        "wait_mean": Avg(wait),
        "wait_median": Percentile(wait, 0.5),
        "wait_p90": Percentile(wait, 0.9),
        "blocking_wait": Sum(wait, filter=blocking),
    })


def _backlog(scope: Scope, period: Period, by: str | None) -> Rows:
    return _grouped(open_at_end(scope, period), by, {"backlog": Count("pk")}, counts=True)


def _business(scope: Scope, period: Period, by: str | None) -> Rows:
    """The resolution target's counted business time of tickets resolved in the period (pauses excluded)."""
    qs = TicketTarget.objects.filter(
        scope.q("ticket__"), _in(period, "ticket__resolved_at"), metric=Metric.RESOLUTION, cycle=0,
        state__in=(TargetState.MET, TargetState.BREACHED),
    )
    return _grouped(qs, f"ticket__{by}" if by else None, {
        "business_count": Count("pk"),
        "business_mean": Avg("elapsed_seconds"),
        "business_median": Percentile(F("elapsed_seconds"), 0.5),
        "business_p90": Percentile(F("elapsed_seconds"), 0.9),
    })


def target_windows(period: Period) -> tuple[Q, Q]:
    """On SLA targets: completed in the period; still running at its end but already past the deadline."""
    done = Q(stopped_at__gte=period.start, stopped_at__lt=period.end)
    late = Q(started_at__lt=period.end, breached_at__lt=period.end) & (
        Q(stopped_at__isnull=True) | Q(stopped_at__gte=period.end)
    )
    return done, late


def imported_completed_in(scope: Scope, period: Period) -> QuerySet[Ticket]:
    """Imported tickets with their own SLA outcome and no target computed here, completed in the period."""
    return scope.tickets().filter(imported_sla_met__isnull=False, sla_targets__isnull=True).annotate(
        completed=Coalesce("resolved_at", "closed_at")
    ).filter(_in(period, "completed"))


def sla_breached_in(scope: Scope, period: Period) -> QuerySet[Ticket]:
    """Tickets with a customer-facing target counted as breached in the period (`sla_compliance`)."""
    done, late = target_windows(period)
    targets = TicketTarget.objects.filter(scope.q("ticket__"), metric__in=list(SLA_METRICS)).filter(
        (done & Q(state=TargetState.BREACHED)) | (late & ~Q(state="cancelled"))
    )
    imported = imported_completed_in(scope, period).filter(imported_sla_met=False)
    return scope.tickets().filter(Q(pk__in=targets.values("ticket_id")) | Q(pk__in=imported.values("pk")))


def _targets(scope: Scope, period: Period, by: str | None) -> Rows:
    """Met and breached targets per metric: those that completed in the period, and those still running at
    its end already past their deadline (breached). Tickets imported with their own SLA outcome and no target
    computed here count as a resolution target completing when they were resolved (or closed)."""
    done, late = target_windows(period)
    aggregates: dict[str, Any] = {}
    for metric, name in {**SLA_METRICS, **OTHER_METRICS}.items():
        aggregates[f"{name}_met"] = Count("pk", filter=done & Q(metric=metric, state=TargetState.MET))
        aggregates[f"{name}_breached"] = Count(
            "pk", filter=Q(metric=metric) & ((done & Q(state=TargetState.BREACHED)) | (late & ~Q(state="cancelled")))
        )
    qs = TicketTarget.objects.filter(scope.q("ticket__")).filter(done | late)
    rows = _grouped(qs, f"ticket__{by}" if by else None, aggregates, counts=True)
    imported = imported_completed_in(scope, period)
    for key, values in _grouped(imported, by, {
        "imported_met": Count("pk", filter=Q(imported_sla_met=True)),
        "imported_breached": Count("pk", filter=Q(imported_sla_met=False)),
    }, counts=True).items():
        rows.setdefault(key, {}).update(values)
    return rows


def _escalations(scope: Scope, period: Period, by: str | None) -> Rows:
    return _grouped(escalated_in(scope, period), by, {"escalated": Count("pk")}, counts=True)


# --- experience ------------------------------------------------------------------------------------------

def _experience(scope: Scope, period: Period, by: str | None) -> Rows:
    key = f"ticket__{by}" if by else None
    answered = Survey.objects.filter(scope.q("ticket__"), _in(period, "responded_at"), score__isnull=False)
    rows = _grouped(answered, key, {
        "responses": Count("pk"),
        "csat": Avg("score"),
        "satisfied": Count("pk", filter=Q(score__gte=4)),
    })
    sent = Survey.objects.filter(scope.q("ticket__"), _in(period, "sent_at"))
    for group, values in _grouped(sent, key, {
        "sent": Count("pk"), "sent_answered": Count("pk", filter=Q(responded_at__isnull=False)),
    }, counts=True).items():
        rows.setdefault(group, {}).update(values)
    return rows


# --- business outcomes -----------------------------------------------------------------------------------

def impact_rows(scope: Scope, period: Period, now: datetime) -> list[dict[str, Any]]:
    """Each impact window that started in the period, with its outage hours, fraction, cost and user hours."""
    impacts = ServiceImpact.objects.filter(scope.q("ticket__"), _in(period, "impact_start")).select_related(
        "service", "ticket"
    )
    rows = []
    for impact in impacts:
        hours = impact_figures.outage_hours(impact.impact_start, impact.impact_end, min(now, period.end))
        served = impact.service.users_served
        fraction = impact_figures.affected_share(impact.users_affected, impact.impact_fraction, served)
        users = impact.users_affected if impact.users_affected is not None else fraction * served
        rows.append({
            "impact": impact, "ticket": impact.ticket, "service": impact.service, "outage_hours": hours,
            "impact_fraction": fraction, "users_affected": users, "ongoing": impact.impact_end is None,
            "downtime_cost": impact_figures.downtime_cost(hours, impact.service.cost_of_downtime_per_hour, fraction),
            "user_hours": hours * users,
        })
    return rows


def _outcomes(scope: Scope, period: Period, by: str | None, now: datetime) -> Rows:
    rows: Rows = defaultdict(lambda: {"outage_hours": 0.0, "downtime_cost": 0.0, "user_hours": 0.0,
                                      "impacts": 0})
    field = DIMENSIONS.get(by or "")
    for item in impact_rows(scope, period, now):
        keys = [TOTAL]
        if field:
            keys.append(item["service"].pk if by == "service" else getattr(item["ticket"], field))
        for key in keys:
            rows[key]["outage_hours"] += item["outage_hours"]
            rows[key]["downtime_cost"] += item["downtime_cost"]
            rows[key]["user_hours"] += item["user_hours"]
            rows[key]["impacts"] += 1
    rows.setdefault(TOTAL, rows[TOTAL])
    return dict(rows)


# --- assembly --------------------------------------------------------------------------------------------

def _assemble(v: dict[str, Any], weeks: float = 0.0) -> dict[str, Any]:
    """The METRICS.md figures from the raw counts of one group."""
    resolved = v.get("resolved") or 0
    met = sum(v.get(f"{n}_met") or 0 for n in SLA_METRICS.values()) + (v.get("imported_met") or 0)
    breached = sum(v.get(f"{n}_breached") or 0 for n in SLA_METRICS.values()) + (v.get("imported_breached") or 0)
    compliance: dict[str, Any] = {"overall": _share(met, met + breached), "met": met, "breached": breached}
    for name in (*SLA_METRICS.values(), *OTHER_METRICS.values()):
        m, b = v.get(f"{name}_met") or 0, v.get(f"{name}_breached") or 0
        if name == "resolution":
            m, b = m + (v.get("imported_met") or 0), b + (v.get("imported_breached") or 0)
        compliance[name] = _share(m, m + b)
    responses = v.get("responses") or 0
    wait_blocking = (v.get("blocking_wait") or 0.0) / HOUR
    return {
        "ticket_volume": v.get("volume") or 0,
        "backlog": v.get("backlog") or 0,
        "time_to_first_response": {
            "median_hours": _hours(v.get("ttfr_median")), "p90_hours": _hours(v.get("ttfr_p90")),
            "tickets": v.get("responded") or 0,
        },
        "mttr": {
            "mean_hours": _hours(v.get("mttr_mean")), "median_hours": _hours(v.get("mttr_median")),
            "p90_hours": _hours(v.get("mttr_p90")), "tickets": resolved,
        },
        "mttr_business_hours": {
            "mean_business_hours": _hours(v.get("business_mean")),
            "median_business_hours": _hours(v.get("business_median")),
            "p90_business_hours": _hours(v.get("business_p90")), "tickets": v.get("business_count") or 0,
        },
        "first_touch_resolution_rate": _share(v.get("first_touch"), resolved),
        "first_contact_resolution_rate": _share(v.get("first_contact"), resolved),
        "sla_compliance": compliance,
        "reopen_rate": _share(v.get("reopened"), resolved),
        "reassignment_count": {
            "total": v.get("reassignments") or 0,
            "mean": (v.get("reassignments") or 0) / resolved if resolved else None,
        },
        "escalation_count": v.get("escalated") or 0,
        "csat": float(v["csat"]) if v.get("csat") is not None else None,
        "csat_satisfied_share": _share(v.get("satisfied"), responses),
        "survey_response_rate": _share(v.get("sent_answered"), v.get("sent")),
        "surveys": {"sent": v.get("sent") or 0, "responses": responses},
        "requester_wait_hours": {
            "mean_hours": _hours(v.get("wait_mean")), "median_hours": _hours(v.get("wait_median")),
            "p90_hours": _hours(v.get("wait_p90")),
        },
        "outage_hours": v.get("outage_hours") or 0.0,
        "downtime_cost": v.get("downtime_cost") or 0.0,
        "productivity_loss_user_hours": (v.get("user_hours") or 0.0) + wait_blocking,
        **delivery.assemble(v, weeks),
    }


PARTS: tuple[Callable[[Scope, Period, str | None], Rows], ...] = (
    _opened, _resolved, _backlog, _business, _targets, _escalations, _experience,
)


def compute(scope: Scope, period: Period, by: str | None = None, now: datetime | None = None) -> Rows:
    """{TOTAL: figures} plus {key: figures} per value of the `by` dimension."""
    if by is not None and by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}")
    field = DIMENSIONS[by] if by else None
    merged: Rows = defaultdict(dict)
    for part in PARTS:
        for key, values in part(scope, period, field).items():
            merged[key].update(values)
    for key, values in _outcomes(scope, period, by, now or clock.now()).items():
        merged[key].update(values)
    for key, values in delivery.source().rows(scope, period, field).items():
        merged[key].update(values)
    weeks = period.days / 7
    return {key: _assemble(values, weeks) for key, values in merged.items()}


def empty_figures() -> dict[str, Any]:
    """The figures of a group with no tickets."""
    return _assemble({})
