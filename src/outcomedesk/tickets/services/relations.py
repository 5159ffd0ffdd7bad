"""Relations between tickets: related links and merging a duplicate into the ticket that survives."""

from __future__ import annotations

from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.models import Channel
from outcomedesk.tickets.models import (
    DONE_STATES,
    State,
    Ticket,
    TicketLink,
)
from outcomedesk.tickets.services.common import (
    _after_commit,
    _audit,
    _changed,
    _lock,
    _require_work,
    _set_state,
    _touch,
)
from outcomedesk.tickets.services.conversation import _write_comment

# --- links and merges ------------------------------------------------------------------------------------

def link_tickets(actor: User, ticket: Ticket | int, other_number: str, *, channel: str = Channel.WEB) -> TicketLink:
    """Relate two tickets; both must be visible to the actor and the first workable by them."""
    with transaction.atomic():
        ticket = _lock(ticket)
        _require_work(actor, ticket)
        other = Ticket.objects.filter(number=str(other_number).strip().upper()).select_related("desk").first()
        if other is None or not policy.can(actor, policy.VIEW, other):
            raise InvalidInput({"related": f"no ticket {other_number!r}"})
        if other.pk == ticket.pk:
            raise InvalidInput({"related": "a ticket cannot relate to itself"})
        if TicketLink.objects.filter(source=other, target=ticket).exists() or TicketLink.objects.filter(
            source=ticket, target=other
        ).exists():
            raise InvalidInput({"related": f"{ticket.number} and {other.number} are already related"})
        now = clock.now()
        link = TicketLink.objects.create(source=ticket, target=other, created_at=now)
        batch = _audit(ticket, actor, channel, now)
        batch.add("linked", "related", None, other.number)
        batch.save()
        other_batch = AuditBatch("ticket", other.pk, actor.pk, channel, now)
        other_batch.add("linked", "related", None, ticket.number)
        other_batch.save()
    return link


def merge_tickets(
    actor: User, duplicate: Ticket | int, into_number: str, *, channel: str = Channel.WEB
) -> Ticket:
    """Merge a duplicate into the surviving ticket: the duplicate is cancelled as duplicate-of, its requester
    and watchers follow the survivor, and both timelines say so."""
    with transaction.atomic():
        dup_id = duplicate.pk if isinstance(duplicate, Ticket) else duplicate
        target = Ticket.objects.filter(number=str(into_number).strip().upper()).first()
        # Both rows locked in one order (by id), whichever way round the merge goes: two merges in opposite
        # directions at once then wait for each other instead of deadlocking.
        locked = {pk: _lock(pk) for pk in sorted({dup_id} | ({target.pk} if target is not None else set()))}
        dup = locked[dup_id]
        _require_work(actor, dup)
        if target is None or not policy.can(actor, policy.VIEW, target):
            raise InvalidInput({"duplicate_of": f"no ticket {into_number!r}"})
        target = locked[target.pk]
        if not policy.can(actor, policy.WORK, target):
            raise InvalidInput({"duplicate_of": f"you are not an agent of {target.number}'s desk"})
        if target.pk == dup.pk:
            raise InvalidInput({"duplicate_of": "a ticket cannot be merged into itself"})
        if dup.state in DONE_STATES:
            raise InvalidInput({"duplicate_of": f"{dup.number} is already {dup.get_state_display().lower()}"})
        if target.state in (State.CLOSED, State.CANCELLED):
            raise InvalidInput({"duplicate_of": f"{target.number} is {target.get_state_display().lower()}"})
        now = clock.now()
        audit = _audit(dup, actor, channel, now)
        audit.add("merged", "duplicate_of", None, target.number)
        dup.duplicate_of = target
        _set_state(dup, State.CANCELLED, actor, audit, now)
        dup.resolution_code = "duplicate"
        _touch(dup, now)
        dup.save()
        audit.save()
        _changed(dup, now)
        _after_commit("merged", dup, actor)  # its requester and watchers learn where the work continues
        followers = {dup.requester_id, *dup.watchers.values_list("pk", flat=True)} - {target.requester_id}
        target.watchers.add(*followers)
        target_audit = _audit(target, actor, channel, now)
        target_audit.add("merged", "duplicates", None, dup.number)
        _touch(target, now)
        target.save()
        target_audit.save()
        _write_comment(
            target, actor, f"Merged {dup.number} ({dup.title}) into this ticket.", public=False, channel=channel,
            now=now,
        )
    return target
