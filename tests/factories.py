"""Typed factories for tests: each makes one object through the same services the product uses."""

from __future__ import annotations

import itertools
from typing import Any

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
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
    fields.setdefault("title", f"Ticket {next(_seq)}")
    return tickets.open_ticket(requester, desk=desk, **fields)
