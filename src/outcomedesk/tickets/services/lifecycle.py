"""A ticket's lifecycle: its state changes, reopening, the nightly auto-close and the SLA engine's escalations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, User
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.tickets.models import (
    OPEN_STATES,
    PendingReason,
    State,
    Ticket,
)
from outcomedesk.tickets.services.common import (
    _after_commit,
    _audit,
    _changed,
    _check_version,
    _display,
    _lock,
    _set_state,
    _touch,
)
from outcomedesk.tickets.services.conversation import _write_comment

# Which state may follow which; reopening (resolved -> in progress/new) is `reopen_ticket`'s job.
TRANSITIONS: dict[str, set[str]] = {
    State.NEW: {State.ASSIGNED, State.IN_PROGRESS, State.PENDING, State.RESOLVED, State.CANCELLED},
    State.ASSIGNED: {State.IN_PROGRESS, State.PENDING, State.RESOLVED, State.CANCELLED},
    State.IN_PROGRESS: {State.ASSIGNED, State.PENDING, State.RESOLVED, State.CANCELLED},
    State.PENDING: {State.ASSIGNED, State.IN_PROGRESS, State.RESOLVED, State.CANCELLED},
    State.RESOLVED: {State.CLOSED},
    State.CLOSED: set(),
    State.CANCELLED: set(),
}

# --- state -----------------------------------------------------------------------------------------------

def change_state(
    actor: User,
    ticket: Ticket | int,
    state: str,
    *,
    pending_reason: str = "",
    resolution_code: str = "",
    resolution_notes: str = "",
    expected_version: int | None = None,
    channel: str = Channel.WEB,
) -> Ticket:
    """Move a ticket along its lifecycle. Requesters may only cancel their own open tickets or close resolved ones."""
    with transaction.atomic():
        ticket = _lock(ticket)
        if not policy.can(actor, policy.VIEW, ticket):
            raise NotFound(f"no ticket {ticket.number}")
        staff = policy.can(actor, policy.WORK, ticket)
        own = ticket.requester_id == actor.pk
        if not staff and not (own and state in (State.CANCELLED, State.CLOSED)):
            raise NotAllowed(f"you are not an agent of the {ticket.desk.name} desk")
        _check_version(ticket, expected_version)
        errors: dict[str, str] = {}
        if state not in State.values:
            errors["state"] = f"must be one of {', '.join(State.values)}, not {state!r}"
        elif state == ticket.state:
            errors["state"] = f"{ticket.number} is already {ticket.get_state_display().lower()}"
        elif state not in TRANSITIONS[ticket.state]:
            hint = " (use reopen)" if ticket.state == State.RESOLVED else ""
            errors["state"] = (
                f"cannot go from {ticket.get_state_display().lower()} to {State(state).label.lower()}{hint}"
            )
        if state == State.PENDING and pending_reason not in PendingReason.values:
            errors["pending_reason"] = f"is required when pending: one of {', '.join(PendingReason.values)}"
        if state == State.RESOLVED and not resolution_notes.strip():
            errors["resolution_notes"] = "say how the ticket was resolved"
        if state == State.ASSIGNED and ticket.assignee_id is None:
            errors["assignee"] = "assign someone first"
        if errors:
            raise InvalidInput(errors)
        now = clock.now()
        audit = _audit(ticket, actor, channel, now)
        if state == State.RESOLVED and ticket.assignee_id is None and staff:
            # Whoever resolves an unassigned ticket owns it: reopening returns it to them.
            audit.add("assigned", "assignee", "", actor)
            ticket.assignee = actor
        _set_state(ticket, state, actor, audit, now)
        if state == State.PENDING:
            audit.add("changed", "pending_reason", "", pending_reason)
            ticket.pending_reason = pending_reason
            ticket.pending_since = now
        if state == State.RESOLVED:
            ticket.resolution_code = (resolution_code or "solved").strip()[:40]
            ticket.resolution_notes = resolution_notes.strip()
            audit.add("changed", "resolution_code", "", ticket.resolution_code)
            audit.add("changed", "resolution_notes", "", ticket.resolution_notes)
        if state == State.CANCELLED and resolution_code:
            ticket.resolution_code = resolution_code[:40]
        _touch(ticket, now)
        ticket.save()
        audit.save()
        _changed(ticket, now)
        _after_commit("resolved" if state == State.RESOLVED else "state", ticket, actor)
    return ticket


def reopen_ticket(
    actor: User, ticket: Ticket | int, *, reason: str = "", expected_version: int | None = None,
    channel: str = Channel.WEB,
) -> Ticket:
    """Reopen a resolved ticket: its requester within the desk's window, its desk's agents any time."""
    with transaction.atomic():
        ticket = _lock(ticket)
        if not policy.can(actor, policy.VIEW, ticket):
            raise NotFound(f"no ticket {ticket.number}")
        staff = policy.can(actor, policy.WORK, ticket)
        if not staff and ticket.requester_id != actor.pk:
            raise NotAllowed("only the requester or the desk's agents may reopen this ticket")
        _check_version(ticket, expected_version)
        if ticket.state != State.RESOLVED:
            raise InvalidInput({"state": f"only resolved tickets can be reopened; {ticket.number} is "
                                         f"{ticket.get_state_display().lower()}"})
        now = clock.now()
        window = timedelta(days=ticket.desk.reopen_window_days)
        if not staff and ticket.resolved_at and now - ticket.resolved_at > window:
            raise InvalidInput({"state": f"the {ticket.desk.reopen_window_days}-day window to reopen has passed; "
                                         "please open a new ticket"})
        audit = _audit(ticket, actor, channel, now)
        target = State.IN_PROGRESS if ticket.assignee_id else State.NEW
        audit.add("reopened", "state", ticket.state, target)
        ticket.state = target
        ticket.resolved_at = None
        ticket.first_contact_resolution = None
        ticket.reopen_count += 1
        _touch(ticket, now)
        ticket.save()
        audit.save()
        if reason.strip():
            _write_comment(ticket, actor, reason, public=True, channel=channel, now=now)
        _changed(ticket, now)
        _after_commit("reopened", ticket, actor)
    return ticket


def close_resolved(now_: Any = None, older_than_days: int = 3, *, actor: policy.Actor = policy.SCHEDULER) -> int:
    """Close tickets resolved more than `older_than_days` ago (the nightly auto-close); returns how many."""
    now = now_ or clock.now()
    count = 0
    due = Ticket.objects.filter(state=State.RESOLVED, resolved_at__lt=now - timedelta(days=older_than_days))
    for pk in policy.restrict(due, actor, policy.WORK).values_list("pk", flat=True):
        with transaction.atomic():
            ticket = _lock(pk)
            if ticket.state != State.RESOLVED:
                continue
            audit = _audit(ticket, None, Channel.SYSTEM, now)
            _set_state(ticket, State.CLOSED, None, audit, now)
            _touch(ticket, now)
            ticket.save()
            audit.save()
            _changed(ticket, now)
            count += 1
    return count


def escalate_ticket(
    ticket: Ticket | int, *, raise_priority: bool = False, group: AssignmentGroup | None = None, reason: str,
    actor: policy.Actor = policy.SCHEDULER,
) -> Ticket:
    """The SLA engine's own changes (raise the priority, hand to another group), recorded as the system's."""
    with transaction.atomic():
        ticket = _lock(ticket)
        if not policy.can(actor, policy.WORK, ticket):
            raise NotAllowed(f"{actor} may not escalate {ticket.number}")
        if ticket.state not in OPEN_STATES:
            return ticket
        now = clock.now()
        audit = _audit(ticket, None, Channel.SYSTEM, now)
        changed = False
        if raise_priority and ticket.priority > 1:
            audit.add("escalated", "priority", ticket.priority, ticket.priority - 1)
            ticket.priority -= 1
            changed = True
        if group is not None and group.pk != ticket.group_id and group.desk_id == ticket.desk_id:
            audit.add("escalated", "group", _display(ticket.group), group)
            if ticket.group_id is not None:
                ticket.reassignment_count += 1
            ticket.group = group
            if ticket.assignee_id and not group.members.filter(pk=ticket.assignee_id).exists():
                audit.add("assigned", "assignee", _display(ticket.assignee), "")
                ticket.assignee = None
                if ticket.state == State.ASSIGNED:
                    _set_state(ticket, State.NEW, None, audit, now)
            changed = True
        if not changed:
            return ticket
        _touch(ticket, now)
        ticket.save()
        audit.save()
        _write_comment(ticket, None, reason, public=False, channel=Channel.SYSTEM, now=now)
        _changed(ticket, now)
    return ticket
