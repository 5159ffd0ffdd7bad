"""Incident impact windows: when an incident stopped (part of) a business service, and what that cost.

The one write path of ServiceImpact: recording, changing, ending and removing a window. Each call checks that
the actor works the ticket's desk and that the ticket is an incident, validates (InvalidInput naming the field),
and writes the window with its audit event on the ticket in one transaction, so that it shows in the timeline.

The reads at the end give each window its figures as METRICS.md defines them (`outage_hours`, `downtime_cost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from outcomedesk.accounts.models import User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_id, as_int
from outcomedesk.tickets.models import ServiceImpact, State, Ticket, TicketType

# The same row lock and desk check as every other change of a ticket.
from outcomedesk.tickets.services.common import _lock, _require_work

EDITABLE = ("service", "impact_start", "impact_end", "users_affected", "impact_fraction", "note")
NOTE_MAX = 300
FRACTION_STEP = Decimal("0.0001")  # the model keeps four decimal places
HOUR = 3600.0
MOMENT_HINT = "enter a date and time such as 2025-03-14 09:30"


# --- parsing and validation ------------------------------------------------------------------------------

def _moment(errors: dict[str, str], name: str, value: Any) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    moment: datetime | None = value if isinstance(value, datetime) else None
    if moment is None:
        try:
            moment = parse_datetime(str(value).strip())
        except ValueError:  # well formed but impossible, such as a 31 April
            moment = None
    if moment is None:
        errors[name] = f"{MOMENT_HINT}, not {str(value)[:40]!r}"
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _users(errors: dict[str, str], value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = as_int(value if isinstance(value, (bool, int)) else str(value))
    if number is None:
        errors["users_affected"] = f"must be a whole number of people, not {str(value)[:20]!r}"
        return None
    if number < 0:
        errors["users_affected"] = "cannot be negative"
        return None
    return number


def _fraction(errors: dict[str, str], value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors["impact_fraction"] = f"must be a number from 0 to 1, not {str(value)[:20]!r}"
        return None
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(1):
        errors["impact_fraction"] = f"must be from 0 to 1 (1 = every user of the service), not {number}"
        return None
    return number.quantize(FRACTION_STEP)


def _service(errors: dict[str, str], value: Any) -> BusinessService | None:
    if isinstance(value, BusinessService):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        errors["service"] = "is required: the business service the incident affected"
        return None
    pk = as_id(text)
    lookup: dict[str, Any] = {"pk": pk} if pk is not None else {"slug": text}
    found = BusinessService.objects.filter(is_active=True, **lookup).first()
    if found is None:
        errors["service"] = f"no active business service {text!r}"
    return found


def _parse(given: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The given raw values as typed values; a value that does not parse is left out and named in `errors`."""
    parsers = {
        "service": lambda v: _service(errors, v),
        "impact_start": lambda v: _moment(errors, "impact_start", v),
        "impact_end": lambda v: _moment(errors, "impact_end", v),
        "users_affected": lambda v: _users(errors, v),
        "impact_fraction": lambda v: _fraction(errors, v),
        "note": lambda v: str(v or "").strip(),
    }
    parsed: dict[str, Any] = {}
    for name, value in given.items():
        result = parsers[name](value)
        if name not in errors:
            parsed[name] = result
    return parsed


def _check(values: dict[str, Any], errors: dict[str, str], now: datetime) -> None:
    """The rules that tie the fields of a whole window together."""
    start, end = values.get("impact_start"), values.get("impact_end")
    if start is None:
        errors.setdefault("impact_start", f"is required: {MOMENT_HINT}")
    elif start > now:
        errors.setdefault("impact_start", f"is in the future ({_text(start)}); record what already happened")
    if end is not None:
        if start is not None and end < start:
            errors.setdefault("impact_end", f"{_text(end)} is before the impact started ({_text(start)})")
        elif end > now:
            errors.setdefault("impact_end", f"is in the future ({_text(end)}); leave it empty while the impact lasts")
    users, fraction = values.get("users_affected"), values.get("impact_fraction")
    if users is not None and fraction is not None:
        errors.setdefault(
            "impact_fraction", "give the users affected or the share of users, not both (neither: a full outage)"
        )
    service = values.get("service")
    if users is not None and service is not None and service.users_served > 0 and users > service.users_served:
        errors.setdefault("users_affected", f"is more than the {service.users_served} users {service.name} serves")
    note = values.get("note") or ""
    if len(note) > NOTE_MAX:
        errors.setdefault("note", f"is {len(note)} characters long; at most {NOTE_MAX}")


def _incident(ticket: Ticket) -> None:
    if ticket.type != TicketType.INCIDENT:
        raise InvalidInput({"ticket": f"{ticket.number} is a service request; impact windows belong to incidents"})
    if ticket.state == State.CANCELLED:
        raise InvalidInput({"ticket": f"{ticket.number} is cancelled; record the impact on the incident that "
                                      "stays open"})


def _text(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "ongoing"


def describe(impact: ServiceImpact) -> str:
    """One line for the audit trail: which window, which service, when, how many people."""
    if impact.impact_fraction is not None:
        reach = f"{float(impact.impact_fraction) * 100:g}% of its users"
    elif impact.users_affected is not None:
        reach = f"{impact.users_affected} users"
    else:
        reach = "full outage"
    line = f"#{impact.pk} {impact.service.name}: {_text(impact.impact_start)} to {_text(impact.impact_end)}, {reach}"
    return f"{line} ({impact.note})" if impact.note else line


def _audit(ticket: Ticket, actor: User, channel: str, now: datetime) -> AuditBatch:
    return AuditBatch("ticket", ticket.pk, actor.pk, channel, now)


def _touch(ticket: Ticket, now: datetime) -> None:
    # Like a comment: the ticket was worked on, but none of its own fields changed (no version bump).
    ticket.updated_at = now
    ticket.save(update_fields=["updated_at"])


def _locked(actor: User, impact: ServiceImpact | int) -> tuple[Ticket, ServiceImpact]:
    """The window's ticket and the window, both locked, once the actor may work the ticket."""
    pk = impact.pk if isinstance(impact, ServiceImpact) else impact
    ticket_id = ServiceImpact.objects.filter(pk=pk).values_list("ticket_id", flat=True).first()
    if ticket_id is None:
        raise NotFound(f"no impact window {pk}", field="impact")
    ticket = _lock(ticket_id)
    _require_work(actor, ticket)
    _incident(ticket)
    found = (
        ServiceImpact.objects.select_for_update(of=("self",)).select_related("service")
        .filter(pk=pk, ticket=ticket).first()
    )
    if found is None:
        raise NotFound(f"no impact window {pk} on {ticket.number}", field="impact")
    return ticket, found


# --- writes ----------------------------------------------------------------------------------------------

def record_impact(
    actor: User,
    ticket: Ticket | int,
    *,
    service: BusinessService | int | str | None,
    impact_start: datetime | str | None,
    impact_end: datetime | str | None = None,
    users_affected: int | str | None = None,
    impact_fraction: Decimal | float | str | None = None,
    note: str = "",
    channel: str = Channel.WEB,
) -> ServiceImpact:
    """Record when an incident stopped a service: give the users affected, or the share of them, or neither for a
    full outage. Leave `impact_end` empty while the impact lasts (then `end_impact`)."""
    with transaction.atomic():
        ticket = _lock(ticket)
        _require_work(actor, ticket)
        _incident(ticket)
        now = clock.now()
        errors: dict[str, str] = {}
        values = _parse({
            "service": service, "impact_start": impact_start, "impact_end": impact_end,
            "users_affected": users_affected, "impact_fraction": impact_fraction, "note": note,
        }, errors)
        _check(values, errors, now)
        if errors:
            raise InvalidInput(errors)
        impact = ServiceImpact.objects.create(ticket=ticket, recorded_by=actor, recorded_at=now, **values)
        audit = _audit(ticket, actor, channel, now)
        audit.add("impact_recorded", "impact", None, describe(impact))
        audit.save()
        _touch(ticket, now)
    return impact


def update_impact(
    actor: User, impact: ServiceImpact | int, *, channel: str = Channel.WEB, **changes: Any
) -> ServiceImpact:
    """Change fields of a window (the names of EDITABLE). Giving the users affected clears the share of users and
    the other way round, unless both are given (which is refused)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput({name: "is not a field of an impact window that can be changed" for name in unknown})
    with transaction.atomic():
        ticket, found = _locked(actor, impact)
        now = clock.now()
        errors: dict[str, str] = {}
        parsed = _parse(changes, errors)
        values = {name: getattr(found, name) for name in EDITABLE}
        values.update(parsed)
        for given, other in (("users_affected", "impact_fraction"), ("impact_fraction", "users_affected")):
            if parsed.get(given) is not None and other not in changes:
                values[other] = None
        _check(values, errors, now)
        if errors:
            raise InvalidInput(errors)
        before = describe(found)
        changed = [name for name in EDITABLE if values[name] != getattr(found, name)]
        if not changed:
            return found
        for name in changed:
            setattr(found, name, values[name])
        found.save(update_fields=changed)
        audit = _audit(ticket, actor, channel, now)
        audit.add("impact_changed", "impact", before, describe(found))
        audit.save()
        _touch(ticket, now)
    return found


def end_impact(
    actor: User, impact: ServiceImpact | int, at: datetime | str | None = None, *, channel: str = Channel.WEB
) -> ServiceImpact:
    """The service is back: close the window at `at` (default now)."""
    with transaction.atomic():
        ticket, found = _locked(actor, impact)
        now = clock.now()
        if found.impact_end is not None:
            raise InvalidInput({"impact_end": f"the impact ended already, at {_text(found.impact_end)}"})
        errors: dict[str, str] = {}
        end = _moment(errors, "impact_end", at) if at is not None else now
        values = {name: getattr(found, name) for name in EDITABLE}
        values["impact_end"] = end
        if not errors:
            _check(values, errors, now)
        if errors:
            raise InvalidInput(errors)
        before = describe(found)
        found.impact_end = end
        found.save(update_fields=["impact_end"])
        audit = _audit(ticket, actor, channel, now)
        audit.add("impact_ended", "impact", before, describe(found))
        audit.save()
        _touch(ticket, now)
    return found


def remove_impact(actor: User, impact: ServiceImpact | int, *, channel: str = Channel.WEB) -> None:
    """Delete a window recorded by mistake; the audit trail keeps what it said."""
    with transaction.atomic():
        ticket, found = _locked(actor, impact)
        now = clock.now()
        before = describe(found)
        found.delete()
        audit = _audit(ticket, actor, channel, now)
        audit.add("impact_removed", "impact", before, None)
        audit.save()
        _touch(ticket, now)


# --- figures (METRICS.md "Business outcome figures") -----------------------------------------------------

def outage_hours(start: datetime, end: datetime | None, now: datetime) -> float:
    """`outage_hours`: impact_end - impact_start; a window still open counts up to `now`."""
    return max(0.0, ((end or now) - start).total_seconds() / HOUR)


def affected_share(users_affected: int | None, impact_fraction: Decimal | None, users_served: int) -> float:
    """`impact_fraction`: the share given; else the users affected over the users served; else 1 (full outage)."""
    if impact_fraction is not None:
        return float(impact_fraction)
    if users_affected is not None and users_served > 0:
        return min(1.0, users_affected / users_served)
    return 1.0


def downtime_cost(hours: float, cost_per_hour: Decimal | float, share: float) -> float:
    """`downtime_cost`: outage_hours x the service's cost of downtime per hour x impact_fraction."""
    return round(hours * float(cost_per_hour or 0) * share, 2)


@dataclass(frozen=True)
class ImpactWindow:
    """One window with its figures, as the ticket page and the API show it."""

    impact: ServiceImpact
    outage_hours: float
    affected_share: float
    downtime_cost: float

    @property
    def ongoing(self) -> bool:
        return self.impact.impact_end is None


def window_of(impact: ServiceImpact, now: datetime) -> ImpactWindow:
    hours = outage_hours(impact.impact_start, impact.impact_end, now)
    share = affected_share(impact.users_affected, impact.impact_fraction, impact.service.users_served)
    return ImpactWindow(impact, hours, share, downtime_cost(hours, impact.service.cost_of_downtime_per_hour, share))


def impact_windows(ticket: Ticket, now: datetime) -> list[ImpactWindow]:
    """The windows of one incident, oldest first, in one query."""
    windows = []
    for impact in ServiceImpact.objects.filter(ticket=ticket).select_related("service", "recorded_by"):
        impact.ticket = ticket  # already loaded: no query per window for its number
        windows.append(window_of(impact, now))
    return windows
