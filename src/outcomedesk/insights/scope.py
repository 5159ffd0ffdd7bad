"""What a figure is computed over: the desks a person may see, narrowed by desk, service, group, category,
priority, channel and type."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Q, QuerySet

from outcomedesk.accounts.models import AssignmentGroup, Desk
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_id, as_int
from outcomedesk.tickets.models import Category, Priority, Ticket, TicketType

# Dimension name -> ticket field: the `by` of a report and the narrowing of a scope.
DIMENSIONS: dict[str, str] = {
    "priority": "priority",
    "desk": "desk_id",
    "service": "service_id",
    "group": "group_id",
    "category": "category_id",
    "channel": "channel",
    "type": "type",
}


@dataclass(frozen=True)
class Scope:
    """Tickets of `desk_ids` (None: every desk, for the command line) with the given values."""

    desk_ids: frozenset[int] | None = None
    desk: int | None = None
    service: int | None = None
    group: int | None = None
    category: int | None = None
    priority: int | None = None
    channel: str | None = None
    type: str | None = None

    def q(self, prefix: str = "") -> Q:
        """The filter on tickets; `prefix` ("ticket__") applies it to a model that points at tickets."""
        conditions: dict[str, Any] = {}
        if self.desk_ids is not None:
            conditions["desk_id__in"] = sorted(self.desk_ids)
        for name, field in DIMENSIONS.items():
            value = getattr(self, name)
            if value is not None:
                conditions[field] = value
        return Q(**{prefix + k: v for k, v in conditions.items()})

    def tickets(self) -> QuerySet[Ticket]:
        return Ticket.objects.filter(self.q())

    def narrowed(self, **values: Any) -> Scope:
        return replace(self, **values)

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}


def resolve_scope(desk_ids: frozenset[int] | None, **given: Any) -> Scope:
    """A scope from user input (slugs, names or ids); each unknown value is an error naming its field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    desk_filter = Q(pk__in=desk_ids) if desk_ids is not None else Q()
    if given.get("desk") not in (None, ""):
        text = str(given["desk"])
        desk = Desk.objects.filter(desk_filter).filter(Q(slug=text) | _pk_q(text)).first()
        if desk is None:
            errors["desk"] = f"no desk {text!r}"
        else:
            values["desk"] = desk.pk
    if given.get("service") not in (None, ""):
        text = str(given["service"])
        service = BusinessService.objects.filter(Q(slug=text) | _pk_q(text)).filter(
            Q(desk_id__in=desk_ids) if desk_ids is not None else Q()).first()
        if service is None:
            errors["service"] = f"no service {text!r}"
        else:
            values["service"] = service.pk
    for name, model in (("group", AssignmentGroup), ("category", Category)):
        if given.get(name) in (None, ""):
            continue
        text = str(given[name])
        matches = model.objects.filter(_pk_q(text) | Q(name=text))
        if desk_ids is not None:  # a confidential desk's names stay unknown to outsiders
            matches = matches.filter(desk_id__in=desk_ids)
        if values.get("desk"):
            matches = matches.filter(desk_id=values["desk"])
        found = list(matches.values_list("pk", flat=True)[:2])
        if not found:
            errors[name] = f"no {name} {text!r}"
        elif len(found) > 1:
            errors[name] = f"{text!r} names {name}s of several desks: give --desk or its id"
        else:
            values[name] = found[0]
    if given.get("priority") not in (None, ""):
        values["priority"] = as_int(str(given["priority"]).upper().lstrip("P"))
        if values["priority"] not in Priority.values:
            errors["priority"] = f"must be 1 to 5, not {given['priority']!r}"
    if given.get("channel") not in (None, ""):
        if given["channel"] not in Channel.values:
            errors["channel"] = f"must be one of {', '.join(Channel.values)}"
        values["channel"] = given["channel"]
    if given.get("type") not in (None, ""):
        if given["type"] not in TicketType.values:
            errors["type"] = f"must be one of {', '.join(TicketType.values)}"
        values["type"] = given["type"]
    if errors:
        raise InvalidInput(errors)
    return Scope(desk_ids=desk_ids, **values)


def _pk_q(text: str) -> Q:
    pk = as_id(text)
    return Q(pk=pk) if pk is not None else Q(pk__in=[])
