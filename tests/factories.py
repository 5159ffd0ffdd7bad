"""Typed factories for tests: each makes one object through the same services the product uses."""

from __future__ import annotations

import itertools
from typing import Any

from outcomedesk.accounts import policy
from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.accounts.policy import OPERATOR
from outcomedesk.cmdb import services as cmdb
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Category, Ticket

_seq = itertools.count(1)


def make_user(username: str | None = None, **fields: Any) -> User:
    n = next(_seq)
    username = username or f"user{n}"
    fields.setdefault("email", f"{username}@example.org")
    fields.setdefault("password", "correct horse battery staple")
    return accounts.create_user(username, **fields)


def make_desk(slug: str | None = None, **fields: Any) -> Desk:
    n = next(_seq)
    slug = slug or f"desk{n}"
    name = fields.pop("name", slug.upper())
    active = fields.pop("is_active", True)
    desk = accounts.create_desk(slug, name, **fields)
    if not active:
        accounts.set_desk_active(desk, False)
    return desk


def make_group(desk: Desk, name: str | None = None, **fields: Any) -> AssignmentGroup:
    return accounts.create_group(desk, name or f"group{next(_seq)}", **fields)


def make_agent(desk: Desk, username: str | None = None, *, group: AssignmentGroup | None = None,
               role: str = "agent", **fields: Any) -> User:
    user = make_user(username, **fields)
    accounts.add_to_desk(user, desk, role)
    if group is not None:
        accounts.add_to_group(user, group)
    return user


def make_category(desk: Desk, name: str | None = None) -> Category:
    return tickets.create_category(desk, name or f"category{next(_seq)}")


def make_service(desk: Desk, name: str | None = None, **fields: Any) -> BusinessService:
    n = next(_seq)
    return cmdb.create_service(name or f"Service {n}", desk, slug=f"service-{n}", **fields)


def make_ticket(requester: User, desk: Desk, **fields: Any) -> Ticket:
    """A ticket of `requester`; one with an impact is logged by an agent of the desk on the requester's behalf
    (a requester states urgency only)."""
    fields.setdefault("title", f"Ticket {next(_seq)}")
    actor = requester
    if fields.get("impact") is not None and not policy.can(requester, policy.WORK, desk):
        member = policy.people(policy.WORK, [desk.pk]).order_by("pk").first()
        if member is not None:
            actor, fields["requester"] = member, requester
    return tickets.open_ticket(actor, desk=desk, **fields)


BERLIN_OFFICE = {
    "timezone": "Europe/Berlin",
    "hours": {d: [["09:00", "12:00"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE", "subdiv": "BY"},
}


def make_calendar(name: str | None = None, definition: dict[str, Any] | None = None) -> Any:
    from outcomedesk.sla import services as sla

    return sla.save_calendar(OPERATOR, name or f"Calendar {next(_seq)}", definition or BERLIN_OFFICE)


def make_policy(name: str | None = None, *, targets: dict[str, int] | list[dict[str, Any]] | None = None,
                **values: Any) -> Any:
    """A policy; `targets` as {"resolution": 240, ...} (every priority) or the full list form."""
    from outcomedesk.sla import services as sla

    values.setdefault("pause_reasons", ["requester", "vendor"])
    if isinstance(targets, dict) or targets is None:
        targets = [{"metric": m, "priority": None, "minutes": v} for m, v in (targets or {}).items()]
    return sla.save_policy(OPERATOR, {"name": name or f"Policy {next(_seq)}", **values}, targets=targets)
