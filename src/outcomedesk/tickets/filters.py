"""The ticket list filter: one definition for the agent queue, the API list and CSV export."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from outcomedesk.accounts import policy
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.parsing import as_id
from outcomedesk.tickets import search
from outcomedesk.tickets.models import DONE_STATES, OPEN_STATES, State, Ticket, TicketType

SORTS = {
    "priority": ("priority", "opened_at", "id"),
    "-priority": ("-priority", "-opened_at", "-id"),
    "opened": ("opened_at", "id"),
    "-opened": ("-opened_at", "-id"),
    "updated": ("updated_at", "id"),
    "-updated": ("-updated_at", "-id"),
}
OPEN_SQL = "tickets_ticket.state IN (" + ", ".join(f"'{s}'" for s in OPEN_STATES) + ")"


def is_open_sql() -> RawSQL:
    """"Open" as the literal SQL of the partial indexes' condition: SQLite uses a partial index only when the
    query repeats its condition with literal values, not bound parameters."""
    return RawSQL(OPEN_SQL, [], output_field=BooleanField())  # noqa: S611 - constant SQL, no user input


NUMBER = re.compile(r"^\s*(INC|REQ)\d{1,10}\s*$", re.IGNORECASE)


@dataclass
class TicketFilter:
    """Parsed and validated list parameters."""

    q: str = ""
    state: list[str] = field(default_factory=lambda: list(OPEN_STATES))
    desk: list[str] = field(default_factory=list)
    group: list[int] = field(default_factory=list)
    assignee: str = ""
    requester: str = ""
    priority: list[int] = field(default_factory=list)
    type: str = ""
    service: list[int] = field(default_factory=list)
    category: list[int] = field(default_factory=list)
    channel: str = ""
    tag: str = ""
    sort: str = "priority"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TicketFilter:
        """Build from a query dict (QueryDict, dict of str or lists); names the first bad parameter."""
        errors: dict[str, str] = {}

        def values(name: str) -> list[str]:
            if hasattr(params, "getlist"):
                raw = params.getlist(name)
            else:
                value = params.get(name)
                raw = value if isinstance(value, list) else ([] if value in (None, "") else [value])
            out: list[str] = []
            for item in raw:
                out += [part.strip() for part in str(item).split(",") if part.strip()]
            return out

        def ints(name: str) -> list[int]:
            result = []
            for item in values(name):
                number = as_id(item)
                if number is None:
                    errors[name] = f"expects numbers, got {item[:20]!r}"
                    continue
                result.append(number)
            return result

        f = cls()
        f.q = str(params.get("q") or "").strip()[:200]
        states: list[str] = []
        for item in values("state") or ["open"]:
            if item == "open":
                states += list(OPEN_STATES)
            elif item == "done":
                states += list(DONE_STATES)
            elif item == "all":
                states += list(State.values)
            elif item in State.values:
                states.append(item)
            else:
                errors["state"] = f"unknown state {item!r}; use open, done, all or one of {', '.join(State.values)}"
        # Keep the lifecycle order: "open" then reads exactly like the open-queue partial index's condition,
        # which SQLite needs to use that index.
        f.state = [s for s in State.values if s in set(states)]
        f.desk = values("desk")
        f.group = ints("group")
        f.priority = ints("priority")
        if any(p not in range(1, 6) for p in f.priority):
            errors["priority"] = "must be 1 to 5"
        f.service = ints("service")
        f.category = ints("category")
        f.assignee = str(params.get("assignee") or "")
        if f.assignee and f.assignee not in ("me", "none") and as_id(f.assignee) is None:
            errors["assignee"] = "use me, none or a user id"
        f.requester = str(params.get("requester") or "")
        if f.requester and f.requester != "me" and as_id(f.requester) is None:
            errors["requester"] = "use me or a user id"
        f.type = str(params.get("type") or "")
        if f.type and f.type not in TicketType.values:
            errors["type"] = f"use one of {', '.join(TicketType.values)}"
        f.channel = str(params.get("channel") or "")
        f.tag = str(params.get("tag") or "").strip().lower()
        f.sort = str(params.get("sort") or "priority")
        if f.sort not in SORTS:
            errors["sort"] = f"use one of {', '.join(SORTS)}"
        if errors:
            raise InvalidInput(errors)
        return f

    def apply(self, user: Any, queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
        """Visible tickets matching the filter, in the requested order (search rank when `q` is text)."""
        qs = policy.restrict(Ticket.objects.all() if queryset is None else queryset, user)
        if self.q and NUMBER.match(self.q):
            return qs.filter(number=self.q.strip().upper())
        if self.state == list(OPEN_STATES):
            qs = qs.filter(is_open_sql())
        elif self.state:
            qs = qs.filter(state__in=self.state)
        if self.desk:
            desk_ids = [n for n in (as_id(d) for d in self.desk) if n is not None]
            slugs = [d for d in self.desk if as_id(d) is None]
            qs = qs.filter(Q(desk_id__in=desk_ids) | Q(desk__slug__in=slugs))
        if self.group:
            qs = qs.filter(group_id__in=self.group)
        if self.assignee == "me":
            qs = qs.filter(assignee_id=getattr(user, "pk", None))
        elif self.assignee == "none":
            qs = qs.filter(assignee__isnull=True)
        elif self.assignee:
            qs = qs.filter(assignee_id=as_id(self.assignee))
        if self.requester == "me":
            qs = qs.filter(requester_id=getattr(user, "pk", None))
        elif self.requester:
            qs = qs.filter(requester_id=as_id(self.requester))
        if self.priority:
            qs = qs.filter(priority__in=self.priority)
        if self.type:
            qs = qs.filter(type=self.type)
        if self.service:
            qs = qs.filter(service_id__in=self.service)
        if self.category:
            qs = qs.filter(category_id__in=self.category)
        if self.channel:
            qs = qs.filter(channel=self.channel)
        if self.tag:
            qs = qs.filter(tags__name=self.tag)
        if self.q:
            matches = search.backend().ranked_ids(self.q, limit=search.FILTER_CANDIDATES)
            qs = qs.filter(pk__in=matches)
        return qs.order_by(*SORTS[self.sort])
