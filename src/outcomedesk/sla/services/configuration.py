"""Configuration writes, for service managers and admins only: business calendars (and the cache of their parsed
form that every computation reads through `calendar_of`), SLA/OLA policies with their targets. Escalation rules
are saved in `escalation`, beside the sweep that fires them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, Desk
from outcomedesk.accounts.policy import Actor
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.core.parsing import as_id, as_int
from outcomedesk.sla.calendar import Calendar, CalendarError, calendar_from_json
from outcomedesk.sla.models import (
    KIND_METRICS,
    BusinessCalendar,
    ClockStart,
    PolicyKind,
    PolicyTarget,
    ResolutionStop,
    ResponseStop,
    SlaPolicy,
)
from outcomedesk.tickets.models import PendingReason, Priority, TicketType

UTC_24X7 = Calendar()


def _require_admin(actor: Actor) -> None:
    if not policy.can(actor, policy.ADMINISTER, policy.Capability.SERVICE_LEVELS):
        raise NotAllowed("only service managers and admins may change service levels")


# --- calendars ---------------------------------------------------------------------------------------------

def save_calendar(actor: Actor, name: str, definition: Any, *, calendar: BusinessCalendar | None = None
                  ) -> BusinessCalendar:
    """Create or replace a business calendar from its JSON form; nothing is stored if any part is wrong."""
    _require_admin(actor)
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "is required"
    elif BusinessCalendar.objects.filter(name=name).exclude(pk=calendar.pk if calendar else 0).exists():
        errors["name"] = f"a calendar named {name!r} exists"
    try:
        parsed = calendar_from_json(definition)
    except CalendarError as exc:
        errors[f"definition.{exc.field}" if exc.field != "calendar" else "definition"] = exc.message
    if errors:
        raise InvalidInput(errors)
    from outcomedesk.sla.calendar import calendar_to_json

    with transaction.atomic():
        row = calendar or BusinessCalendar()
        row.name, row.definition, row.updated_at = name, calendar_to_json(parsed), clock.now()
        row.save()
    _calendars.clear()
    return row


_calendars: dict[tuple[int, datetime], Calendar] = {}


def calendar_of(row: BusinessCalendar | None) -> Calendar:
    """The parsed calendar of a stored one, cached until it changes (parsing checks the holiday country)."""
    if row is None:
        return UTC_24X7
    key = (row.pk, row.updated_at)
    found = _calendars.get(key)
    if found is None:
        found = _calendars[key] = row.calendar()
    return found


# --- policies ----------------------------------------------------------------------------------------------

POLICY_FIELDS = ("name", "kind", "order", "is_active", "description", "desk", "service", "ticket_type", "priorities",
                 "vip", "channel", "group", "vendor", "calendar", "pause_reasons", "at_risk_percent", "starts_on",
                 "response_stops_on", "resolution_stops_on")
CLOCK_CHOICES = {"starts_on": ClockStart, "response_stops_on": ResponseStop, "resolution_stops_on": ResolutionStop}


def save_policy(actor: Actor, values: dict[str, Any], *, targets: list[dict[str, Any]] | None = None,
                policy: SlaPolicy | None = None) -> SlaPolicy:
    """Create or change a policy and (when given) replace its targets; the tickets it governs are recomputed
    by `schedule_repair`, which the caller schedules (it can be long)."""
    _require_admin(actor)
    unknown = sorted(set(values) - set(POLICY_FIELDS))
    errors: dict[str, str] = {name: "is not a policy field" for name in unknown}
    row = policy or SlaPolicy(updated_at=clock.now())
    clean = {**{f: getattr(row, f) for f in ("name", "kind", "order", "is_active", "description", "ticket_type",
                                             "priorities", "vip", "channel", "vendor", "pause_reasons",
                                             "at_risk_percent", *CLOCK_CHOICES)}, **values}
    name = str(clean.get("name") or "").strip()
    if not name:
        errors["name"] = "is required"
    elif SlaPolicy.objects.filter(name=name).exclude(pk=row.pk).exists():
        errors["name"] = f"a policy named {name!r} exists"
    if clean["kind"] not in PolicyKind.values:
        errors["kind"] = f"must be one of {', '.join(PolicyKind.values)}"
    for clock_field, choices in CLOCK_CHOICES.items():
        if clean[clock_field] not in choices.values:
            errors[clock_field] = f"must be one of {', '.join(choices.values)}"
    if clean["ticket_type"] and clean["ticket_type"] not in TicketType.values:
        errors["ticket_type"] = f"must be one of {', '.join(TicketType.values)} or empty"
    priorities = clean.get("priorities") or []
    if not isinstance(priorities, list) or any(p not in Priority.values for p in priorities):
        errors["priorities"] = "must be a list of priorities 1 to 5"
    reasons = clean.get("pause_reasons") or []
    if not isinstance(reasons, list) or any(r not in PendingReason.values for r in reasons):
        errors["pause_reasons"] = f"must be a list of pending reasons: {', '.join(PendingReason.values)}"
    try:
        order = as_int(clean.get("order") or 0, minimum=0, maximum=1_000_000)
        if order is None:
            raise ValueError
    except ValueError:
        errors["order"] = "must be a whole number, 0 or more"
        order = 0
    try:
        at_risk = as_int(clean.get("at_risk_percent") or 0, minimum=1, maximum=99)
        if at_risk is None:
            raise ValueError
    except ValueError:
        errors["at_risk_percent"] = "must be 1 to 99"
        at_risk = 75
    refs: dict[str, Any] = {}
    for name_, model, label in (("desk", Desk, "desk"), ("service", BusinessService, "service"),
                                ("group", AssignmentGroup, "group"), ("calendar", BusinessCalendar, "calendar")):
        if name_ not in values:
            continue
        raw = values[name_]
        if raw in (None, ""):
            refs[name_] = None
            continue
        if isinstance(raw, model):
            refs[name_] = raw
            continue
        pk = as_id(str(raw))
        lookup = {"pk": pk} if pk is not None else {
            "desk": {"slug": str(raw)}, "service": {"slug": str(raw)}, "group": {"name": str(raw)},
            "calendar": {"name": str(raw)}}[name_]
        found = model.objects.filter(**lookup).first()
        if found is None:
            errors[name_] = f"no {label} {raw!r}"
        refs[name_] = found
    if targets is not None:
        errors.update(_check_targets(clean["kind"], targets))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        for f in ("kind", "is_active", "description", "ticket_type", "vip", "channel", "vendor", *CLOCK_CHOICES):
            setattr(row, f, clean[f])
        row.name, row.order, row.priorities, row.pause_reasons, row.at_risk_percent = (
            name, order, sorted(priorities), sorted(reasons), at_risk)
        for f, v in refs.items():
            setattr(row, f, v)
        row.updated_at = clock.now()
        row.save()
        if targets is not None:
            row.targets.all().delete()
            PolicyTarget.objects.bulk_create(
                PolicyTarget(policy=row, metric=t["metric"], priority=t.get("priority"), minutes=int(t["minutes"]))
                for t in targets
            )
    return row


def _check_targets(kind: str, targets: list[dict[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    seen = set()
    allowed = KIND_METRICS.get(kind, ())  # type: ignore[call-overload]
    for i, t in enumerate(targets):
        where = f"targets[{i}]"
        if not isinstance(t, dict):
            errors[where] = "expects {metric, priority, minutes}"
            continue
        if t.get("metric") not in allowed:
            errors[f"{where}.metric"] = f"must be one of {', '.join(allowed)} for a {kind} policy"
        priority = t.get("priority")
        if priority is not None and priority not in Priority.values:
            errors[f"{where}.priority"] = "must be 1 to 5 or empty (every priority)"
        minutes = t.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            errors[f"{where}.minutes"] = "must be a positive whole number of minutes"
        key = (t.get("metric"), priority)
        if key in seen:
            errors[where] = "repeats a metric and priority given before"
        seen.add(key)
    return errors
