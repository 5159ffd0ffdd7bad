"""What every write of a ticket shares: row locks, version checks, validation of fields and references,
audit batches, and the signals and notifications sent at commit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, AssignmentMethod, Desk, User
from outcomedesk.accounts.queries import active_desk
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import Conflict, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_id, as_int, parse_int
from outcomedesk.tickets import notifications, routing
from outcomedesk.tickets.models import Category, Comment, PendingReason, State, Tag, Ticket, TicketType
from outcomedesk.tickets.signals import ticket_changed, ticket_event

TITLE_MAX = 200
EXTERNAL_REF_MAX = 100  # Ticket.external_ref's length
# `TextChoices.values` builds a new list on every access; a bulk load checks a million rows.
TYPES, CHANNELS = frozenset(TicketType.values), frozenset(Channel.values)
EDITABLE = ("title", "description", "type", "category", "service", "impact", "urgency", "priority", "group",
            "assignee", "requester", "tags", "watchers", "parent", "channel", "blocks_work")


def _display(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return sorted(str(v) for v in value)
    return "" if value is None else value


def _level(errors: dict[str, str], name: str, value: Any) -> int | None:
    if value is None:
        return None
    level = as_int(value)
    if level is None:
        errors[name] = f"must be 1, 2 or 3, not {str(value)[:20]!r}"
        return None
    if level not in (1, 2, 3):
        errors[name] = f"must be 1, 2 or 3, not {level}"
        return None
    return level


def _flag(errors: dict[str, str], name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    errors[name] = f"must be true or false, not {value!r}"
    return False


def _lock(ticket: Ticket | int) -> Ticket:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return Ticket.objects.select_for_update(of=("self",)).select_related("desk").get(pk=pk)


def lock_for_change(ticket: Ticket | int) -> Ticket:
    """Lock a ticket's row for the rest of the transaction (another app's change that must not interleave)."""
    return _lock(ticket)


def _check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and parse_int(expected_version, "version") != ticket.version:
        raise Conflict(
            f"{ticket.number} was changed by someone else since you loaded it "
            f"(your version {expected_version}, now {ticket.version}); reload and try again",
            field="version",
        )


def _require_work(actor: User, ticket: Ticket) -> None:
    if not policy.can(actor, policy.WORK, ticket):
        if policy.can(actor, policy.VIEW, ticket):
            raise NotAllowed(f"you are not an agent of the {ticket.desk.name} desk")
        raise NotFound(f"no ticket {ticket.number}")


def _is_staff_of(actor: User | None, ticket: Ticket) -> bool:
    return actor is not None and policy.can(actor, policy.WORK, ticket)


def _touch(ticket: Ticket, now: Any, *, bump: bool = True) -> None:
    ticket.updated_at = now
    if bump:
        ticket.version += 1


def _audit(ticket: Ticket, actor: User | None, channel: str, now: Any) -> AuditBatch:
    return AuditBatch("ticket", ticket.pk, actor.pk if actor else None, channel, now)


def _changed(ticket: Ticket, now: Any, *, created: bool = False) -> None:
    """Tell subscribers (the SLA engine) inside the transaction, so that what they derive commits with it."""
    ticket_changed.send(sender=Ticket, ticket=ticket, now=now, created=created)


def _after_commit(event: str, ticket: Ticket, actor: User | None, **extra: Any) -> None:
    if notifications.is_muted():
        return
    ticket_event.send(sender=Ticket, event=event, ticket=ticket, actor=actor, comment_id=extra.get("comment_id"),
                      now=ticket.updated_at)
    transaction.on_commit(
        lambda: notifications.notify(event, ticket.pk, actor.pk if actor else None, **extra)
    )


class Lookups:
    """How a check finds what a ticket refers to: here, one query per reference (a ticket opened or changed
    one at a time). The bulk loader passes its own, which fetched a whole batch's references at once
    (`tickets.bulk.BatchLookups`)."""

    def desk(self, ref: Desk | int | str) -> Desk | None:
        """The active desk `ref` names, by object, id or slug."""
        if isinstance(ref, Desk):
            return ref
        pk = as_id(str(ref))
        return active_desk(pk=pk) if pk is not None else active_desk(slug=str(ref))

    def may_work(self, actor: policy.Actor, desk: Desk) -> bool:
        return policy.can(actor, policy.WORK, desk)

    def imported(self, external_ref: str) -> str | None:
        """The number of the ticket that already holds `external_ref`, if any."""
        return Ticket.objects.filter(external_ref=external_ref).values_list("number", flat=True).first()

    def category(self, desk: Desk, ref: Any) -> Category | None:
        return Category.objects.filter(pk=_pk(ref), desk=desk, is_active=True).first()

    def service(self, ref: Any) -> BusinessService | None:
        return BusinessService.objects.filter(pk=_pk(ref), is_active=True).first()

    def group(self, desk: Desk, ref: Any) -> AssignmentGroup | None:
        return AssignmentGroup.objects.filter(pk=_pk(ref), desk=desk, is_active=True).first()

    def person(self, ref: Any) -> User | None:
        return User.objects.filter(pk=_pk(ref), is_active=True).first()

    def agent(self, desk: Desk, ref: Any) -> User | None:
        """The active person `ref` names, when they work on `desk`."""
        found = self.person(ref)
        return found if found is not None and policy.can(found, policy.WORK, desk) else None


QUERIES = Lookups()


def _resolve_references(
    desk: Desk, fields: dict[str, Any], errors: dict[str, str], lookups: Lookups = QUERIES
) -> dict[str, Any]:
    """Turn ids in `fields` into objects that belong to `desk`, naming the field of any that does not."""
    out: dict[str, Any] = {}
    if "category" in fields:
        value = fields["category"]
        if value in (None, ""):
            out["category"] = None
        else:
            category = lookups.category(desk, value)
            if category is None:
                errors["category"] = f"no active category {value!r} in the {desk.name} desk"
            out["category"] = category
    if "service" in fields:
        value = fields["service"]
        if value in (None, ""):
            out["service"] = None
        else:
            service = lookups.service(value)
            if service is None:
                errors["service"] = f"no active business service {value!r}"
            out["service"] = service
    if "group" in fields:
        value = fields["group"]
        if value in (None, ""):
            out["group"] = None
        else:
            group = lookups.group(desk, value)
            if group is None:
                errors["group"] = f"no active assignment group {value!r} in the {desk.name} desk"
            out["group"] = group
    if "assignee" in fields:
        value = fields["assignee"]
        if value in (None, ""):
            out["assignee"] = None
        else:
            assignee = lookups.agent(desk, value)
            if assignee is None:
                errors["assignee"] = f"user {value!r} is not an active agent of the {desk.name} desk"
            out["assignee"] = assignee
    if "requester" in fields:
        value = fields["requester"]
        requester = lookups.person(value) if value not in (None, "") else None
        if requester is None:
            errors["requester"] = f"no active user {value!r}"
        out["requester"] = requester
    if "watchers" in fields:
        # Ids or usernames.
        given = [v for v in (fields["watchers"] or []) if str(v).strip()]
        ids = {_pk(v) for v in given if _pk(v) != -1}
        usernames = {str(v).strip() for v in given if _pk(v) == -1}
        watchers = list(User.objects.filter(Q(pk__in=ids) | Q(username__in=usernames), is_active=True))
        missing = (ids - {w.pk for w in watchers}) | (usernames - {w.username for w in watchers})
        if missing:
            errors["watchers"] = "no active user " + ", ".join(sorted(str(m) for m in missing))
        out["watchers"] = watchers
    if "tags" in fields:
        names = []
        for raw in fields["tags"] or []:
            name = str(raw).strip().lower()
            if not name:
                continue
            if len(name) > 50:
                errors["tags"] = f"tag {name[:20]!r}... is longer than 50 characters"
            names.append(name)
        out["tags"] = sorted(set(names))
    return out


def _pk(value: Any) -> Any:
    if isinstance(value, (int, str)) and as_id(value) is not None:
        return as_id(value)
    if hasattr(value, "pk"):
        return value.pk
    return -1


def _set_tags(ticket: Ticket, names: list[str], *, new: bool = False) -> list[Tag]:
    """Make the ticket's tags these (creating the missing ones); `new`: a ticket just opened, which has none."""
    existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=n) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    tags = [existing[n] for n in names]
    if new:
        ticket.tags.add(*tags)
    else:
        ticket.tags.set(tags)
    return tags


def _validate_title(errors: dict[str, str], title: Any) -> str:
    text = str(title or "").strip()
    if not text:
        errors["title"] = "is required"
    elif len(text) > TITLE_MAX:
        errors["title"] = f"is {len(text)} characters long; at most {TITLE_MAX}"
    return text


def _validate_text(errors: dict[str, str], name: str, value: Any, *, required: bool = False) -> str:
    """A description or comment body within `OUTCOMEDESK_TEXT_MAX_CHARS`, else an error naming the field."""
    text = "" if value is None else str(value)
    limit: int = settings.TEXT_MAX_CHARS
    if required and not text.strip():
        errors[name] = "is required"
    elif len(text) > limit:
        errors[name] = f"is {len(text):,} characters long; at most {limit:,}"
    return text


def _assign_in_group(ticket: Ticket, group: AssignmentGroup | None) -> User | None:
    """Pick an agent of `group` by its method (round robin / least loaded), holding the group row lock. A group
    assigned by hand picks nobody: no lock."""
    if group is None or group.assignment_method == AssignmentMethod.MANUAL:
        return None
    locked = AssignmentGroup.objects.select_for_update().get(pk=group.pk)
    agent = routing.agent_for(locked)
    if agent is not None:
        AssignmentGroup.objects.filter(pk=group.pk).update(last_assigned=agent)
    return agent


def _desk(desk: Desk | int | str, errors: dict[str, str], lookups: Lookups = QUERIES) -> Desk | None:
    found = lookups.desk(desk)
    if found is None:
        errors["desk"] = f"no active desk {desk!r}"
    return found


def _set_state(ticket: Ticket, state: str, actor: User | None, audit: AuditBatch, now: Any) -> None:
    """Record a state change and keep the timestamps METRICS.md needs."""
    leaves_new = ticket.state == State.NEW and state != State.NEW
    if leaves_new and not ticket.first_response_at and _is_staff_of(actor, ticket):
        ticket.first_response_at = now
    audit.add("state", "state", ticket.state, state)
    if ticket.state == State.PENDING and state != State.PENDING:
        if ticket.pending_reason == PendingReason.REQUESTER and ticket.pending_since:
            ticket.awaiting_requester_seconds += max(0, int((now - ticket.pending_since).total_seconds()))
        ticket.pending_since = None
    ticket.state = state
    if state != State.PENDING and ticket.pending_reason:
        audit.add("changed", "pending_reason", ticket.pending_reason, "")
        ticket.pending_reason = ""
    if state == State.RESOLVED:
        ticket.resolved_at = now
        ticket.first_contact_resolution = _first_contact(ticket)
    elif state in (State.CLOSED, State.CANCELLED):
        ticket.closed_at = now


def _first_contact(ticket: Ticket) -> bool:
    """METRICS.md first contact: resolved at the first agent interaction, with nothing needed from the
    requester. Here: never reopened or passed to another group, never waiting on the requester, and no reply
    from the requester since they opened it."""
    if ticket.reopen_count or ticket.reassignment_count or ticket.awaiting_requester_seconds:
        return False
    return not Comment.objects.filter(ticket_id=ticket.pk, author_id=ticket.requester_id).exists()
