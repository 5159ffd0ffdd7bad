"""Changing a ticket's fields (one or several tickets at once), its parent included."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_int
from outcomedesk.tickets import search
from outcomedesk.tickets.models import (
    State,
    Ticket,
    TicketType,
)
from outcomedesk.tickets.priority import priority_for
from outcomedesk.tickets.services.common import (
    EDITABLE,
    _after_commit,
    _assign_in_group,
    _audit,
    _changed,
    _check_version,
    _display,
    _flag,
    _level,
    _lock,
    _require_work,
    _resolve_references,
    _set_state,
    _set_tags,
    _touch,
    _validate_text,
    _validate_title,
)
from outcomedesk.tickets.services.lifecycle import change_state

HIERARCHY_LOCK = 0x0D_0E5C  # the PostgreSQL advisory lock of parent changes


def _serialise_hierarchy_changes() -> None:
    """Hold, until the transaction ends, the lock every change of a parent takes before it walks the chain: two
    agents making A the parent of B and B the parent of A at once would each see no cycle. (SQLite has one
    writer at a time already.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [HIERARCHY_LOCK])


def _is_ancestor_or_self(ticket_id: int, parent: Ticket) -> bool:
    """True when `ticket_id` is `parent` or any ticket up `parent`'s chain of parents (the whole chain, however
    long: a cycle anywhere would loop every reader of the hierarchy)."""
    seen: set[int] = set()
    current: int | None = parent.pk
    while current is not None and current not in seen:
        if current == ticket_id:
            return True
        seen.add(current)
        current = Ticket.objects.filter(pk=current).values_list("parent_id", flat=True).first()
    return False


# --- changing fields -------------------------------------------------------------------------------------

def update_ticket(
    actor: User,
    ticket: Ticket | int,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
    channel: str = Channel.WEB,
) -> Ticket:
    """Change fields of a ticket; raises Conflict if it changed since `expected_version`."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput({name: "is not a field that can be changed" for name in unknown})
    with transaction.atomic():
        if changes.get("parent") not in (None, ""):
            # Before the row lock: the new parent's row is locked too (by the foreign key check) while the chain
            # is walked, and a change the other way round must wait here, holding nothing.
            _serialise_hierarchy_changes()
        ticket = _lock(ticket)
        _require_work(actor, ticket)
        _check_version(ticket, expected_version)
        if ticket.state in (State.CLOSED, State.CANCELLED):
            raise InvalidInput({"state": f"{ticket.number} is {ticket.get_state_display().lower()}; it cannot change"})
        now = clock.now()
        audit = _audit(ticket, actor, channel, now)
        changed = _apply_changes(actor, ticket, changes, audit, now)
        if not changed:
            return ticket
        _touch(ticket, now)
        ticket.save()
        audit.save()
        if {"title", "description"} & changed:
            search.refresh_documents([ticket.pk])
        _changed(ticket, now)
        if "assignee" in changed and ticket.assignee_id and ticket.assignee_id != actor.pk:
            _after_commit("assigned", ticket, actor)
    return ticket


def _apply_changes(actor: User, ticket: Ticket, changes: dict[str, Any], audit: AuditBatch, now: Any) -> set[str]:
    errors: dict[str, str] = {}
    values = dict(changes)
    if "title" in values:
        values["title"] = _validate_title(errors, values["title"])
    if "description" in values:
        values["description"] = _validate_text(errors, "description", values["description"])
    if "type" in values and values["type"] not in TicketType.values:
        errors["type"] = f"must be one of {', '.join(TicketType.values)}"
    if "channel" in values and values["channel"] not in Channel.values:
        errors["channel"] = f"must be one of {', '.join(Channel.values)}"
    for name in ("impact", "urgency"):
        if name in values:
            values[name] = _level(errors, name, values[name])
            if values[name] is None and name not in errors:
                errors[name] = "is required"
    if "priority" in values:
        priority = as_int(values["priority"], minimum=1, maximum=5)
        if priority is None:
            errors["priority"] = f"must be 1 to 5, not {str(values['priority'])[:20]!r}"
        else:
            values["priority"] = priority
    if "parent" in values and values["parent"] not in (None, ""):
        parent = values["parent"]
        if not isinstance(parent, Ticket):
            parent = Ticket.objects.filter(number=str(parent).upper()).first()
        if parent is None or not policy.can(actor, policy.VIEW, parent):
            errors["parent"] = f"no ticket {values['parent']!r}"
        else:
            _serialise_hierarchy_changes()
            if _is_ancestor_or_self(ticket.pk, parent):
                errors["parent"] = f"{parent.number} is {ticket.number} or below it: that would be a cycle"
        values["parent"] = parent
    elif "parent" in values:
        values["parent"] = None
    if "blocks_work" in values:
        values["blocks_work"] = _flag(errors, "blocks_work", values["blocks_work"])
    refs = _resolve_references(ticket.desk, values, errors)
    if errors:
        raise InvalidInput(errors)
    values.update(refs)

    changed: set[str] = set()
    group_changed = "group" in values and values["group"] != ticket.group
    for name in ("title", "description", "type", "channel", "category", "service", "requester", "parent",
                 "blocks_work"):
        if name in values and values[name] != getattr(ticket, name):
            audit.add("changed", name, _display(getattr(ticket, name)), _display(values[name]))
            setattr(ticket, name, values[name])
            changed.add(name)
    if "impact" in values or "urgency" in values:
        for name in ("impact", "urgency"):
            if name in values and values[name] != getattr(ticket, name):
                audit.add("changed", name, getattr(ticket, name), values[name])
                setattr(ticket, name, values[name])
                changed.add(name)
        if "priority" not in values and changed & {"impact", "urgency"}:
            values["priority"] = priority_for(ticket.impact, ticket.urgency)
    if "priority" in values and values["priority"] != ticket.priority:
        audit.add("changed", "priority", ticket.priority, values["priority"])
        ticket.priority = values["priority"]
        changed.add("priority")
    if group_changed:
        old_group = ticket.group
        audit.add("assigned", "group", _display(old_group), _display(values["group"]))
        if old_group is not None:
            ticket.reassignment_count += 1
        ticket.group = values["group"]
        changed.add("group")
        if "assignee" not in values and ticket.assignee_id and ticket.group is not None:
            if not ticket.group.members.filter(pk=ticket.assignee_id).exists():
                values["assignee"] = _assign_in_group(ticket, ticket.group)
        elif "assignee" not in values and ticket.assignee_id is None:
            values["assignee"] = _assign_in_group(ticket, ticket.group)
    if "assignee" in values and values["assignee"] != ticket.assignee:
        audit.add("assigned", "assignee", _display(ticket.assignee), _display(values["assignee"]))
        ticket.assignee = values["assignee"]
        changed.add("assignee")
        if ticket.assignee is not None and ticket.state == State.NEW:
            _set_state(ticket, State.ASSIGNED, actor, audit, now)
        elif ticket.assignee is None and ticket.state == State.ASSIGNED:
            _set_state(ticket, State.NEW, actor, audit, now)
    if "tags" in values:
        old = sorted(ticket.tags.values_list("name", flat=True))
        if old != values["tags"]:
            _set_tags(ticket, values["tags"])
            audit.add("changed", "tags", old, values["tags"])
            changed.add("tags")
    if "watchers" in values:
        old_watchers = sorted(ticket.watchers.all(), key=lambda u: u.pk)
        if [w.pk for w in old_watchers] != sorted(w.pk for w in values["watchers"]):
            ticket.watchers.set(values["watchers"])
            audit.add("changed", "watchers", _display(old_watchers), _display(values["watchers"]))
            changed.add("watchers")
    return changed


def bulk_update(
    actor: User, numbers: Sequence[str], *, changes: dict[str, Any] | None = None, state: str | None = None,
    channel: str = Channel.WEB, **state_args: Any,
) -> list[Ticket]:
    """Apply the same change to several tickets, all or none."""
    if not numbers:
        raise InvalidInput({"tickets": "select at least one ticket"})
    done: list[Ticket] = []
    with transaction.atomic():
        for number in numbers:
            ticket = Ticket.objects.filter(number=number).select_related("desk").first()
            if ticket is None or not policy.can(actor, policy.VIEW, ticket):
                raise InvalidInput({"tickets": f"no ticket {number!r}"})
            try:
                if changes:
                    ticket = update_ticket(actor, ticket, changes, channel=channel)
                if state:
                    ticket = change_state(actor, ticket, state, channel=channel, **state_args)
            except (InvalidInput, NotAllowed, NotFound) as exc:
                raise InvalidInput({"tickets": f"{number}: {exc.message}"}) from exc
            done.append(ticket)
    return done
