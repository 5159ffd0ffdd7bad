"""Insights endpoints under /api/v1/insights: the figures of METRICS.md, read-only.

Figures cover the desks whose tickets the caller sees as staff; a confidential desk's figures only reach its
own members. Requesters get 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from outcomedesk.accounts.queries import access_for
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.insights import periods, report
from outcomedesk.insights.access import can_see_insights
from outcomedesk.insights.scope import DIMENSIONS, insights_desks, resolve_scope

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


def _check(request: HttpRequest) -> Any:
    access = access_for(request.user)
    if not can_see_insights(request.user):
        raise NotAllowed("figures are for desk staff, service managers and executives")
    return access


@router.get("/report", response=dict[str, Any], summary="The figures of a period beside the previous period")
def get_report(request: HttpRequest, query: Query[ReportQuery]) -> dict[str, Any]:
    """Every figure of METRICS.md, keyed by its name, for the period and the previous period of the same length,
    optionally broken down `by` one dimension. Durations are hours, rates are shares from 0 to 1."""
    access = _check(request)
    if query.by and query.by not in DIMENSIONS:
        raise InvalidInput({"by": f"must be one of {', '.join(DIMENSIONS)}"})
    period = periods.between(query.from_, query.to)
    desks = insights_desks(access, executive=bool(getattr(request.user, "is_executive", False)))
    scope = resolve_scope(desks, **{name: getattr(query, name) for name in DIMENSIONS})
    return report.build(scope, period, query.by)
