"""Insights endpoints under /api/v1/insights: the figures of METRICS.md, read-only.

Figures cover the desks whose tickets the caller sees as staff; a confidential desk's figures only reach its
own members. Requesters get 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from outcomedesk.accounts import policy
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.insights import periods, report, suggestions, watermelon
from outcomedesk.insights.drilldown import tickets_behind
from outcomedesk.insights.scope import DIMENSIONS, resolve_scope
from outcomedesk.tickets.models import Ticket

router = Router(tags=["insights"])


class ReportQuery(Schema):
    from_: str = Field(alias="from", description="First day, YYYY-MM-DD; or a month, YYYY-MM, without `to`")
    to: str = Field("", description="Last day, included, YYYY-MM-DD")
    desk: str | None = Field(None, description="Desk slug or id")
    service: str | None = Field(None, description="Business service slug or id")
    group: str | None = Field(None, description="Assignment group name or id")
    category: str | None = Field(None, description="Category name or id")
    priority: str | None = Field(None, description="1 to 5")
    channel: str | None = None
    type: str | None = Field(None, description="incident or request")
    by: str | None = Field(None, description="Break down by " + ", ".join(DIMENSIONS))


def _check(request: HttpRequest) -> frozenset[int]:
    """The desks whose figures the person sees; refuses people who see none."""
    if not policy.can(request.user, policy.VIEW, policy.Capability.INSIGHTS):
        raise NotAllowed("figures are for desk staff, service managers and executives")
    return policy.desk_ids(request.user, policy.VIEW, policy.Kind.FIGURES)


@router.get("/report", response=dict[str, Any], summary="The figures of a period beside the previous period")
def get_report(request: HttpRequest, query: Query[ReportQuery]) -> dict[str, Any]:
    """Every figure of METRICS.md, keyed by its name, for the period and the previous period of the same length,
    optionally broken down `by` one dimension. Durations are hours, rates are shares from 0 to 1."""
    desks = _check(request)
    if query.by and query.by not in DIMENSIONS:
        raise InvalidInput({"by": f"must be one of {', '.join(DIMENSIONS)}"})
    period = periods.between(query.from_, query.to)
    scope = resolve_scope(desks, **{name: getattr(query, name) for name in DIMENSIONS})
    return report.build(scope, period, query.by)


def _scope_and_period(request: HttpRequest, query: ReportQuery) -> tuple[Any, periods.Period]:
    desks = _check(request)
    period = periods.between(query.from_, query.to)
    return resolve_scope(desks, **{name: getattr(query, name) for name in DIMENSIONS}), period


@router.get("/watermelons", response=list[dict[str, Any]],
            summary="Services whose SLA is green while their users' experience or the business outcome is red")
def get_watermelons(request: HttpRequest, query: Query[ReportQuery]) -> list[dict[str, Any]]:
    """Per watermelon service: its SLA compliance and target, and each reason with the figures behind it and
    the tickets (numbers, or the drill-down filter that lists them)."""
    scope, period = _scope_and_period(request, query)
    flags = watermelon.detect(scope, period)
    ids = {i for flag in flags for r in flag.reasons for i in r.ticket_ids}
    numbers = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "number")) if ids else {}
    return [{
        "service": flag.service.slug, "sla_compliance": flag.sla_compliance, "sla_target": flag.sla_target,
        "reasons": [{"code": r.code, "text": r.text, "figures": r.figures, "tickets": r.drilldown,
                     "ticket_numbers": [numbers[i] for i in r.ticket_ids if i in numbers]} for r in flag.reasons],
    } for flag in flags]


@router.get("/suggestions", response=list[dict[str, Any]],
            summary="Rising volume, repeated incidents without a problem, knowledge gaps, automatable requests")
def get_suggestions(request: HttpRequest, query: Query[ReportQuery]) -> list[dict[str, Any]]:
    scope, period = _scope_and_period(request, query)
    return [{"kind": s.kind, "title": s.title, "detail": s.detail, "figures": s.figures, "evidence": s.drilldown}
            for s in suggestions.suggest(scope, period)]


@router.get("/tickets", response=dict[str, Any], summary="The tickets behind a figure (drill-down)")
def get_tickets(request: HttpRequest, query: Query[ReportQuery], figure: str = "ticket_volume", title: str = "",
                limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """`figure` is one of the drill-down sets (ticket_volume, backlog, mttr, reopen_rate, sla_breaches, csat...)."""
    scope, period = _scope_and_period(request, query)
    if not 1 <= limit <= 1000:
        raise InvalidInput({"limit": "must be between 1 and 1000"})
    if offset < 0:
        raise InvalidInput({"offset": "cannot be negative"})
    chosen, qs = tickets_behind(figure, scope, period, title)
    rows = qs.values_list("number", "title", "desk__slug", "state", "priority", "opened_at", "resolved_at")
    return {"figure": figure, "label": chosen.label, "count": qs.count(), "tickets": [
        {"number": n, "title": t, "desk": d, "state": s, "priority": p, "opened_at": o, "resolved_at": r}
        for n, t, d, s, p, o, r in rows[offset:offset + limit]
    ]}
