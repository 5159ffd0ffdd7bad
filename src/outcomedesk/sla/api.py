"""Service-level endpoints, mounted under /api/v1/sla: thin doors onto sla.services and sla.queries.

Any desk staff reads calendars, policies and rules; the services let only service managers and admins change
them. A ticket's targets follow the ticket's visibility: a confidential desk's targets are not found elsewhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.parsing import Id
from outcomedesk.sla import engine, queries, services
from outcomedesk.sla.models import BusinessCalendar, EscalationRule, SlaPolicy, TicketTarget
from outcomedesk.tickets.models import Ticket
from outcomedesk.tickets.queries import get_visible_ticket
from outcomedesk.tickets.schemas import NamedRef as Ref

router = Router(tags=["service levels"])
POLICY_RELATED = ("desk", "service", "group", "calendar")
TARGET_RELATED = ("policy__calendar", "group")
BREACHING_MAX_MINUTES = 7 * 24 * 60


# --- shapes ------------------------------------------------------------------------------------------------

def _ref(obj: Any) -> dict[str, Any] | None:
    return {"id": obj.pk, "name": str(obj)} if obj is not None else None


class CalendarIn(Schema):
    name: str
    definition: dict[str, Any] = Field(
        description='{"timezone": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]], ...} or "24x7", '
        '"holidays": {"country": "DE", "subdiv": "BY"}, "extra_holidays": [...], "half_days": {...}}')


class CalendarOut(Schema):
    id: int
    name: str
    definition: dict[str, Any]
    updated_at: datetime


class CalendarSaved(CalendarOut):
    recompute_tasks: int = Field(0, description="Recompute tasks queued for the running targets on the calendar "
                                                "(one per 50,000 targets; without a broker, run by the worker "
                                                "threads of `outcomedesk serve`)")


class TargetRuleIn(Schema):
    metric: str = Field(description="response, resolution, next_update (SLA); group_hold (OLA); vendor_pending (UC)")
    priority: int | None = Field(None, description="1 to 5; empty: every priority without its own target")
    minutes: int = Field(description="Business minutes in the policy's calendar")


class TargetRuleOut(Schema):
    metric: str
    priority: int | None
    minutes: int


Reference = int | str | None


class PolicyCreate(Schema):
    name: str
    kind: str = "sla"
    order: int = 100
    is_active: bool = True
    description: str = ""
    desk: Reference = Field(None, description="Desk id or slug; empty: every desk")
    service: Reference = Field(None, description="Business service id or slug")
    ticket_type: str = ""
    priorities: list[int] = Field(default_factory=list, description="[] is every priority")
    vip: bool | None = None
    channel: str = ""
    group: Reference = Field(None, description="OLA: assignment group id or name")
    vendor: str = ""
    calendar: Reference = Field(None, description="Calendar id or name; empty: 24x7 in UTC")
    pause_reasons: list[str] = Field(default_factory=list)
    at_risk_percent: int = 75
    starts_on: str = Field("opened", description="SLA clocks start when the ticket is opened, or first assigned")
    response_stops_on: str = Field("reply", description="reply, or assigned (a reply or an agent taking it)")
    resolution_stops_on: str = Field("resolved", description="resolved (a reopen resumes), or closed")
    targets: list[TargetRuleIn] = Field(default_factory=list)


class PolicyPatch(Schema):
    """Only the fields sent change; `targets`, when sent, replaces every target of the policy."""

    name: str | None = None
    kind: str | None = None
    order: int | None = None
    is_active: bool | None = None
    description: str | None = None
    desk: Reference = None
    service: Reference = None
    ticket_type: str | None = None
    priorities: list[int] | None = None
    vip: bool | None = None
    channel: str | None = None
    group: Reference = None
    vendor: str | None = None
    calendar: Reference = None
    pause_reasons: list[str] | None = None
    at_risk_percent: int | None = None
    starts_on: str | None = None
    response_stops_on: str | None = None
    resolution_stops_on: str | None = None
    targets: list[TargetRuleIn] | None = None


class SlaPolicyOut(Schema):
    id: int
    name: str
    kind: str
    order: int
    is_active: bool
    description: str
    desk: str | None
    service: Ref | None
    ticket_type: str
    priorities: list[int]
    vip: bool | None
    channel: str
    group: Ref | None
    vendor: str
    calendar: Ref | None
    pause_reasons: list[str]
    at_risk_percent: int
    starts_on: str
    response_stops_on: str
    resolution_stops_on: str
    updated_at: datetime
    targets: list[TargetRuleOut]

    @staticmethod
    def resolve_desk(obj: SlaPolicy) -> str | None:
        return obj.desk.slug if obj.desk else None

    @staticmethod
    def resolve_service(obj: SlaPolicy) -> dict[str, Any] | None:
        return _ref(obj.service)

    @staticmethod
    def resolve_group(obj: SlaPolicy) -> dict[str, Any] | None:
        return _ref(obj.group)

    @staticmethod
    def resolve_calendar(obj: SlaPolicy) -> dict[str, Any] | None:
        return _ref(obj.calendar)

    @staticmethod
    def resolve_targets(obj: SlaPolicy) -> list[Any]:
        return list(obj.targets.all())


class RepairOut(Schema):
    scheduled: int = Field(description="Tickets whose history is queued for replay (by a worker; without a broker, "
                                       "serve's worker threads)")


class RuleCreate(Schema):
    name: str
    policy: Reference = Field(None, description="Policy id or name; empty: every policy")
    metric: str = Field("", description="Empty: every metric")
    at_percent: int = Field(description="Share of the target elapsed, e.g. 75, 100, 150")
    action: str = Field(description="notify_assignee, notify_group, notify_managers, raise_priority, reassign")
    reassign_to: Reference = Field(None, description="Group id or name, for the reassign action")
    business_hours_only: bool = False
    is_active: bool = True


class RulePatch(Schema):
    name: str | None = None
    policy: Reference = None
    metric: str | None = None
    at_percent: int | None = None
    action: str | None = None
    reassign_to: Reference = None
    business_hours_only: bool | None = None
    is_active: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    policy: Ref | None
    metric: str
    at_percent: int
    action: str
    reassign_to: Ref | None
    business_hours_only: bool
    is_active: bool

    @staticmethod
    def resolve_policy(obj: EscalationRule) -> dict[str, Any] | None:
        return _ref(obj.policy)

    @staticmethod
    def resolve_reassign_to(obj: EscalationRule) -> dict[str, Any] | None:
        return _ref(obj.reassign_to)


class PauseOut(Schema):
    begin: datetime
    end: datetime | None = Field(description="Empty: still paused")
    reason: str


class TargetOut(Schema):
    id: int
    metric: str
    metric_label: str
    cycle: int
    policy: Ref | None
    group: Ref | None
    minutes: int
    state: str
    is_active: bool
    started_at: datetime
    stopped_at: datetime | None
    deadline: datetime | None = Field(description="Empty while paused short of the target")
    at_risk_at: datetime | None
    breached_at: datetime | None
    paused_since: datetime | None
    pauses: list[PauseOut]
    elapsed_seconds: int = Field(description="Business time counted, as of the last computation")
    remaining_seconds: int | None = Field(
        description="Wall-clock seconds from now to the deadline (negative once past it); empty when the target "
        "has stopped or is paused short of it")


class TicketTargetOut(TargetOut):
    explanation: list[str]


class BreachingOut(TargetOut):
    ticket: str
    title: str
    desk: str


class IntervalOut(Schema):
    begin: datetime
    end: datetime
    kind: str = Field(description="running, paused or breached")


class TimelineOut(Schema):
    metric: str
    metric_label: str
    cycle: int
    state: str
    deadline: datetime | None
    intervals: list[IntervalOut]
    explanation: list[str]


# --- helpers -----------------------------------------------------------------------------------------------

def _staff(request: HttpRequest) -> None:
    if not policy.can(request.user, policy.VIEW, policy.Capability.SERVICE_LEVELS):
        raise NotAllowed("service levels are for desk staff")


def _calendar(pk: int) -> BusinessCalendar:
    found = BusinessCalendar.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"no calendar {pk}", field="calendar_id")
    return found


def _policy(pk: int) -> SlaPolicy:
    found = SlaPolicy.objects.filter(pk=pk).select_related(*POLICY_RELATED).first()
    if found is None:
        raise NotFound(f"no policy {pk}", field="policy_id")
    return found


def _rule(pk: int) -> EscalationRule:
    found = EscalationRule.objects.filter(pk=pk).select_related("policy", "reassign_to").first()
    if found is None:
        raise NotFound(f"no escalation rule {pk}", field="rule_id")
    return found


def _ticket(request: HttpRequest, number: str) -> Ticket:
    _staff(request)
    ticket = get_visible_ticket(request.user, number, related=("desk", "requester"))
    if ticket is None:
        raise NotFound(f"no ticket {number}", field="number")
    return ticket


def _target(row: TicketTarget, now: datetime) -> dict[str, Any]:
    remaining = None
    if row.is_active and row.deadline is not None:
        remaining = int((row.deadline - now).total_seconds())
    return {
        "id": row.pk, "metric": row.metric, "metric_label": row.metric_label, "cycle": row.cycle,
        "policy": _ref(row.policy), "group": _ref(row.group), "minutes": row.minutes, "state": row.state,
        "is_active": row.is_active, "started_at": row.started_at, "stopped_at": row.stopped_at,
        "deadline": row.deadline, "at_risk_at": row.at_risk_at, "breached_at": row.breached_at,
        "paused_since": row.paused_since,
        "pauses": [{"begin": begin, "end": end, "reason": why} for begin, end, why in row.pauses],
        "elapsed_seconds": row.elapsed_seconds, "remaining_seconds": remaining,
    }


def _policy_values(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    targets = data.pop("targets", None)
    return _without_nulls(data, nullable=("desk", "service", "group", "calendar", "vip")), targets


def _without_nulls(data: dict[str, Any], nullable: tuple[str, ...]) -> dict[str, Any]:
    """A patch's null means "empty" only for fields that may be empty; elsewhere it leaves the field as it is."""
    return {name: value for name, value in data.items() if value is not None or name in nullable}


# --- calendars ---------------------------------------------------------------------------------------------

@router.get("/calendars", response=list[CalendarOut], summary="Business calendars")
def list_calendars(request: HttpRequest) -> Any:
    _staff(request)
    return BusinessCalendar.objects.all()


@router.get("/calendars/{calendar_id}", response=CalendarOut)
def get_calendar(request: HttpRequest, calendar_id: Id) -> BusinessCalendar:
    _staff(request)
    return _calendar(calendar_id)


@router.post("/calendars", response={201: CalendarSaved}, summary="Create a calendar from its JSON form")
def create_calendar(request: HttpRequest, payload: CalendarIn) -> Status[BusinessCalendar]:
    row = services.save_calendar(request.user, payload.name, payload.definition)  # type: ignore[arg-type]
    return Status(201, row)


@router.put("/calendars/{calendar_id}", response=CalendarSaved,
            summary="Replace a calendar; running targets on it get new deadlines")
def replace_calendar(request: HttpRequest, calendar_id: Id, payload: CalendarIn) -> dict[str, Any]:
    row = services.save_calendar(request.user, payload.name, payload.definition,  # type: ignore[arg-type]
                                 calendar=_calendar(calendar_id))
    # Deadlines on the old calendar would otherwise stay wrong; at scale this is long, so it is queued.
    tasks = services.schedule_recompute(calendar=row)
    return {"id": row.pk, "name": row.name, "definition": row.definition, "updated_at": row.updated_at,
            "recompute_tasks": tasks}


# --- policies ----------------------------------------------------------------------------------------------

@router.get("/policies", response=list[SlaPolicyOut], summary="Policies with their targets, in matching order")
def list_policies(request: HttpRequest) -> Any:
    _staff(request)
    return SlaPolicy.objects.select_related(*POLICY_RELATED).prefetch_related("targets")


@router.get("/policies/{policy_id}", response=SlaPolicyOut)
def get_policy(request: HttpRequest, policy_id: Id) -> SlaPolicy:
    _staff(request)
    return _policy(policy_id)


@router.post("/policies", response={201: SlaPolicyOut}, summary="Create a policy with its targets")
def create_policy(request: HttpRequest, payload: PolicyCreate) -> Status[SlaPolicy]:
    values, targets = _policy_values(payload.dict())
    row = services.save_policy(request.user, values, targets=targets)  # type: ignore[arg-type]
    return Status(201, _policy(row.pk))


@router.patch("/policies/{policy_id}", response=SlaPolicyOut,
              summary="Change a policy; POST .../repair to apply it to the tickets it already governs")
def update_policy(request: HttpRequest, policy_id: Id, payload: PolicyPatch) -> SlaPolicy:
    values, targets = _policy_values(payload.dict(exclude_unset=True))
    row = services.save_policy(request.user, values, targets=targets,  # type: ignore[arg-type]
                               policy=_policy(policy_id))
    return _policy(row.pk)


@router.post("/policies/{policy_id}/repair", response={202: RepairOut},
             summary="Queue the replay of the history of the policy's tickets to recompute their targets")
def repair_policy(request: HttpRequest, policy_id: Id) -> Status[dict[str, Any]]:
    _staff(request)
    return Status(202, {"scheduled": services.schedule_repair(request.user, _policy(policy_id))})  # type: ignore[arg-type]


# --- escalation rules --------------------------------------------------------------------------------------

@router.get("/escalations", response=list[RuleOut], summary="Escalation rules")
def list_rules(request: HttpRequest) -> Any:
    _staff(request)
    return EscalationRule.objects.select_related("policy", "reassign_to")


@router.post("/escalations", response={201: RuleOut}, summary="Create an escalation rule")
def create_rule(request: HttpRequest, payload: RuleCreate) -> Status[EscalationRule]:
    row = services.save_escalation_rule(request.user, payload.dict())  # type: ignore[arg-type]
    return Status(201, _rule(row.pk))


@router.patch("/escalations/{rule_id}", response=RuleOut, summary="Change an escalation rule")
def update_rule(request: HttpRequest, rule_id: Id, payload: RulePatch) -> EscalationRule:
    values = _without_nulls(payload.dict(exclude_unset=True), nullable=("policy", "reassign_to"))
    row = services.save_escalation_rule(request.user, values, rule=_rule(rule_id))  # type: ignore[arg-type]
    return _rule(row.pk)


# --- targets of tickets ------------------------------------------------------------------------------------

@router.get("/tickets/{number}/targets", response=list[TicketTargetOut],
            summary="A ticket's targets, most urgent first, each with why it is due when it is")
def ticket_targets(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    ticket = _ticket(request, number)
    now = clock.now()
    rows = queries.targets_of([ticket.pk], related=TARGET_RELATED).get(ticket.pk, [])
    return [{**_target(row, now), "explanation": services.explain_target(row, now)} for row in rows]


@router.get("/tickets/{number}/timeline", response=list[TimelineOut],
            summary="Running, paused and breached stretches of each target, replayed from the ticket's history")
def ticket_timeline(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    ticket = _ticket(request, number)
    return [
        {**item, "metric_label": engine.METRIC_LABELS.get(item["metric"], item["metric"]),
         "intervals": [{"begin": begin, "end": end, "kind": kind} for begin, end, kind in item["intervals"]]}
        for item in services.timeline(ticket, clock.now())
    ]


@router.get("/breaching", response=list[BreachingOut],
            summary="Targets of tickets you can see that breach within the next minutes, soonest first")
def breaching(request: HttpRequest, within_minutes: int = 60, limit: int = 100) -> list[dict[str, Any]]:
    _staff(request)
    if not 1 <= within_minutes <= BREACHING_MAX_MINUTES:
        raise InvalidInput({"within_minutes": f"must be 1 to {BREACHING_MAX_MINUTES}"})
    now = clock.now()
    rows = queries.visible_targets(
        request.user, queries.breaching_between(now, now + timedelta(minutes=within_minutes))
    ).select_related("ticket__desk", "policy", "group").order_by("deadline", "pk")[: min(max(limit, 1), 500)]
    return [{**_target(row, now), "ticket": row.ticket.number, "title": row.ticket.title,
             "desk": row.ticket.desk.slug} for row in rows]
