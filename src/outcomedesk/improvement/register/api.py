"""Improvement register endpoints, mounted under /api/v1/improvement/initiatives: thin doors onto
register.services and register.queries.

Whoever sees figures reads the initiatives of the desks whose figures they see; desk managers of the desk,
service managers and admins register and change them. The baseline and the benefit are measured, never sent:
values are in the figure's unit (hours, shares from 0 to 1, a 1-5 score, counts or costs per 30 days).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from outcomedesk.core.errors import NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import Id
from outcomedesk.improvement.models import Initiative
from outcomedesk.improvement.register import queries, services
from outcomedesk.improvement.register.tracked import TRACKED_FIGURES
from outcomedesk.insights import periods

router = Router(tags=["improvement"])
FIGURES = ", ".join(TRACKED_FIGURES)


# --- shapes ------------------------------------------------------------------------------------------------

class InitiativeIn(Schema):
    title: str
    description: str = ""
    desk: int | str = Field(description="Desk id or slug")
    owner: int | str | None = Field(None, description="User id or username; empty: whoever registers it")
    service: int | str | None = Field(None, description="Business service id or slug: narrows the figures")
    category: int | str | None = Field(None, description="Category id or name (of the desk): narrows the figures")
    figure: str = Field(description=f"The figure to improve: {FIGURES}")
    baseline_from: date
    baseline_to: date = Field(description="Included; the baseline must be over")
    target_value: float = Field(description="In the figure's unit, better than the baseline")
    started_on: date | None = None
    due_on: date | None = None


class InitiativePatch(Schema):
    title: str | None = None
    description: str | None = None
    desk: int | str | None = None
    owner: int | str | None = None
    service: int | str | None = Field(None, description="null: every service")
    category: int | str | None = Field(None, description="null: every category")
    figure: str | None = None
    baseline_from: date | None = None
    baseline_to: date | None = None
    target_value: float | None = None
    started_on: date | None = None
    due_on: date | None = None


class StatusIn(Schema):
    status: str = Field(description="proposed, approved, in_progress, done or abandoned")


class InitiativeOut(Schema):
    id: int
    title: str
    description: str
    status: str
    desk: str = Field(description="The desk's slug")
    service: str | None = Field(description="The service's slug")
    category: str | None
    owner: str = Field(description="Username")
    figure: str
    figure_label: str
    direction: str = Field(description="lower or higher is better")
    unit: str
    baseline_from: date
    baseline_to: date
    baseline_value: float
    baseline_measured_at: datetime
    target_value: float
    started_on: date | None
    due_on: date | None
    next_statuses: list[str]
    created_at: datetime
    updated_at: datetime


class BenefitOut(Schema):
    period: dict[str, str] | None = Field(description="What `current` is measured over; empty: not started yet")
    current: float | None
    change: float | None = Field(description="current - baseline")
    change_percent: float | None
    progress_percent: float | None = Field(description="From baseline (0) to target (100); may exceed 100")
    improved: bool | None
    figures: dict[str, Any] = Field(description="Every figure of METRICS.md over the period")


class TrendPointOut(Schema):
    month: str = Field(description="YYYY-MM")
    value: float | None


class InitiativeDetailOut(InitiativeOut):
    benefit: BenefitOut
    trend: list[TrendPointOut] = Field(description="The figure per month from the baseline's first month to now")


class ListQuery(Schema):
    status: str | None = None
    desk: str | None = Field(None, description="Desk slug or id")


class BenefitQuery(Schema):
    from_: str = Field("", alias="from", description="Measure `current` from this day (YYYY-MM-DD) instead")
    to: str = Field("", description="Last day, included")


# --- helpers -----------------------------------------------------------------------------------------------

def _reader(request: HttpRequest) -> None:
    if not queries.can_see_register(request.user):
        raise NotAllowed("the improvement register is for desk staff, service managers and executives")


def _initiative(request: HttpRequest, initiative_id: Id) -> Initiative:
    _reader(request)
    found = queries.visible_initiatives(request.user).filter(pk=initiative_id).first()
    if found is None:
        raise NotFound(f"no initiative {initiative_id}")
    return found


def _out(row: Initiative) -> dict[str, Any]:
    tracked = row.tracked
    return {
        "id": row.pk, "title": row.title, "description": row.description, "status": row.status,
        "desk": row.desk.slug, "service": row.service.slug if row.service else None,
        "category": row.category.name if row.category else None, "owner": row.owner.username,
        "figure": row.figure, "figure_label": tracked.label, "direction": tracked.direction, "unit": tracked.unit,
        "baseline_from": row.baseline_from, "baseline_to": row.baseline_to, "baseline_value": row.baseline_value,
        "baseline_measured_at": row.baseline_measured_at, "target_value": row.target_value,
        "started_on": row.started_on, "due_on": row.due_on, "next_statuses": [s for s, _ in row.next_statuses],
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


def _detail(row: Initiative, query: BenefitQuery | None = None) -> dict[str, Any]:
    chosen = periods.between(query.from_, query.to) if query and query.from_ else None
    measured = queries.benefit(row, chosen)
    return {**_out(row), "benefit": {
        "period": measured.period.as_json() if measured.period else None, "current": measured.current,
        "change": measured.change, "change_percent": measured.change_percent,
        "progress_percent": measured.progress_percent, "improved": measured.improved, "figures": measured.figures,
    }, "trend": [{"month": f"{p.start.astimezone(periods.zone()):%Y-%m}", "value": v}
                 for p, v in queries.monthly_trend(row)]}


def _reload(request: HttpRequest, row: Initiative) -> Initiative:
    return queries.visible_initiatives(request.user).get(pk=row.pk)


# --- routes ------------------------------------------------------------------------------------------------

@router.get("/", response=list[InitiativeOut], summary="Initiatives of the desks whose figures the caller sees")
def list_initiatives(request: HttpRequest, query: Query[ListQuery]) -> list[dict[str, Any]]:
    _reader(request)
    rows = queries.filter_initiatives(queries.visible_initiatives(request.user), status=query.status,
                                      desk=query.desk)
    return [_out(row) for row in rows]


@router.get("/{initiative_id}", response=InitiativeDetailOut,
            summary="An initiative with its measured benefit and the figure per month")
def get_initiative(request: HttpRequest, initiative_id: Id, query: Query[BenefitQuery]) -> dict[str, Any]:
    return _detail(_initiative(request, initiative_id), query)


@router.post("/", response={201: InitiativeDetailOut},
             summary="Register an initiative; its baseline is measured from the baseline period's tickets")
def create_initiative(request: HttpRequest, payload: InitiativeIn) -> Status[dict[str, Any]]:
    row = services.create_initiative(request.user, payload.dict(), channel=Channel.API)  # type: ignore[arg-type]
    return Status(201, _detail(_reload(request, row)))


@router.patch("/{initiative_id}", response=InitiativeDetailOut,
              summary="Change an initiative; changing its figure, scope or baseline period re-measures it")
def update_initiative(request: HttpRequest, initiative_id: Id, payload: InitiativePatch) -> dict[str, Any]:
    # null clears only what may be empty; elsewhere it leaves the field as it is.
    nullable = ("service", "category", "started_on", "due_on")
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None or k in nullable}
    row = services.update_initiative(request.user, _initiative(request, initiative_id), changes,  # type: ignore[arg-type]
                                     channel=Channel.API)
    return _detail(_reload(request, row))


@router.post("/{initiative_id}/status", response=InitiativeDetailOut,
             summary="Move an initiative: proposed, approved, in_progress, done, or abandoned")
def change_status(request: HttpRequest, initiative_id: Id, payload: StatusIn) -> dict[str, Any]:
    row = services.change_initiative_status(request.user, _initiative(request, initiative_id),  # type: ignore[arg-type]
                                            payload.status, channel=Channel.API)
    return _detail(_reload(request, row))
