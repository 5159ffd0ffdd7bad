"""Every change of a ticket goes through these functions: UI, API, portal, imports and tasks call them.

Each one checks permission, validates, writes in one transaction with its audit events, and defers
notifications to commit.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import AlreadyImported, Conflict, InvalidInput, NotAllowed, NotFound, TooLarge
from outcomedesk.core.html import to_safe_html
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_id, as_int, parse_int
from outcomedesk.tickets import notifications, routing, search
from outcomedesk.tickets.models import (
    DONE_STATES,
    NUMBER_PREFIX,
    OPEN_STATES,
    AssignmentRule,
    Attachment,
    Category,
    Comment,
    NumberSequence,
    PendingReason,
    State,
    Tag,
    Ticket,
    TicketLink,
    TicketType,
)
from outcomedesk.tickets.priority import priority_for
from outcomedesk.tickets.signals import ticket_changed, ticket_opened

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
TITLE_MAX = 200
EDITABLE = ("title", "description", "type", "category", "service", "impact", "urgency", "priority", "group",
            "assignee", "requester", "tags", "watchers", "parent", "channel", "blocks_work")


# --- helpers ---------------------------------------------------------------------------------------------

def _display(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return sorted(str(v) for v in value)
    return "" if value is None else value


def _next_number(ticket_type: str) -> str:
    """The next number of the type, from one UPDATE ... RETURNING (PostgreSQL, and SQLite since 3.35)."""
    prefix = NUMBER_PREFIX[TicketType(ticket_type)]
    sql = "UPDATE tickets_numbersequence SET last = last + 1 WHERE prefix = %s RETURNING last"
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
        if row is None:
            NumberSequence.objects.get_or_create(prefix=prefix)
            cursor.execute(sql, [prefix])
            row = cursor.fetchone()
    return f"{prefix}{row[0]:07d}"


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


def _changed(ticket: Ticket, now: Any) -> None:
    """Tell subscribers (the SLA engine) inside the transaction, so that what they derive commits with it."""
    ticket_changed.send(sender=Ticket, ticket=ticket, now=now)


def _after_commit(event: str, ticket: Ticket, actor: User | None, **extra: Any) -> None:
    if notifications.is_muted():
        return
    transaction.on_commit(
        lambda: notifications.notify(event, ticket.pk, actor.pk if actor else None, **extra)
    )


def _resolve_references(
    desk: Desk, fields: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """Turn ids in `fields` into objects that belong to `desk`, naming the field of any that does not."""
    out: dict[str, Any] = {}
    if "category" in fields:
        value = fields["category"]
        if value in (None, ""):
            out["category"] = None
        else:
            category = Category.objects.filter(pk=_pk(value), desk=desk, is_active=True).first()
            if category is None:
                errors["category"] = f"no active category {value!r} in the {desk.name} desk"
            out["category"] = category
    if "service" in fields:
        value = fields["service"]
        if value in (None, ""):
            out["service"] = None
        else:
            service = BusinessService.objects.filter(pk=_pk(value), is_active=True).first()
            if service is None:
                errors["service"] = f"no active business service {value!r}"
            out["service"] = service
    if "group" in fields:
        value = fields["group"]
        if value in (None, ""):
            out["group"] = None
        else:
            group = AssignmentGroup.objects.filter(pk=_pk(value), desk=desk, is_active=True).first()
            if group is None:
                errors["group"] = f"no active assignment group {value!r} in the {desk.name} desk"
            out["group"] = group
    if "assignee" in fields:
        value = fields["assignee"]
        if value in (None, ""):
            out["assignee"] = None
        else:
            assignee = User.objects.filter(pk=_pk(value), is_active=True).first()
            if assignee is None or not policy.can(assignee, policy.WORK, desk):
                errors["assignee"] = f"user {value!r} is not an active agent of the {desk.name} desk"
                assignee = None
            out["assignee"] = assignee
    if "requester" in fields:
        value = fields["requester"]
        requester = User.objects.filter(pk=_pk(value), is_active=True).first() if value not in (None, "") else None
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


def _set_tags(ticket: Ticket, names: list[str]) -> None:
    existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=n) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    ticket.tags.set([existing[n] for n in names])


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
    """Pick an agent of `group` by its method (round robin / least loaded), holding the group row lock."""
    if group is None:
        return None
    locked = AssignmentGroup.objects.select_for_update().get(pk=group.pk)
    agent = routing.agent_for(locked)
    if agent is not None:
        AssignmentGroup.objects.filter(pk=group.pk).update(last_assigned=agent)
    return agent


# --- opening ---------------------------------------------------------------------------------------------

def open_ticket(
    actor: User,
    *,
    desk: Desk | int | str,
    title: str,
    description: str = "",
    type: str = TicketType.INCIDENT,
    requester: User | int | None = None,
    category: Any = None,
    service: Any = None,
    impact: Any = None,
    urgency: Any = None,
    channel: str = Channel.PORTAL,
    group: Any = None,
    assignee: Any = None,
    tags: Iterable[str] = (),
    watchers: Iterable[Any] = (),
    parent: Ticket | None = None,
    attachments: Sequence[UploadedFile] = (),
    external_ref: str = "",
    blocks_work: bool = False,
    door: str | None = None,
) -> Ticket:
    """Open an incident or a request; routes it to a group (and an agent) when nobody is given.

    A requester (someone who does not work on the desk) states the urgency only: the impact (and with it the
    priority) comes from the desk's rules, and the channel is `door`, the door the ticket came through (the
    portal, the API...), whatever the payload says. Agents of the desk set impact, and may record another
    channel (a phone call they log).
    """
    errors: dict[str, str] = {}
    desk_obj = _desk(desk, errors)
    title = _validate_title(errors, title)
    description = _validate_text(errors, "description", description)
    if type not in TicketType.values:
        errors["type"] = f"must be one of {', '.join(TicketType.values)}, not {type!r}"
    if channel not in Channel.values:
        errors["channel"] = f"must be one of {', '.join(Channel.values)}, not {channel!r}"
    impact_level = _level(errors, "impact", impact)
    urgency_level = _level(errors, "urgency", urgency)
    for upload in attachments:
        _check_upload(errors, upload)
    external_ref = external_ref.strip()
    if external_ref:
        existing = Ticket.objects.filter(external_ref=external_ref).values_list("number", flat=True).first()
        if existing:
            raise AlreadyImported(external_ref, existing)
    if desk_obj is None:
        raise InvalidInput(errors)
    staff = policy.can(actor, policy.WORK, desk_obj)
    fields: dict[str, Any] = {"category": category, "service": service}
    if staff:
        fields.update(group=group, assignee=assignee, watchers=list(watchers), tags=list(tags))
        if requester is not None:
            fields["requester"] = requester
    else:
        given = {"group": group, "assignee": assignee, "requester": requester}
        for name, value in given.items():
            if value not in (None, "") and not (name == "requester" and _pk(value) == actor.pk):
                errors[name] = f"only agents of the {desk_obj.name} desk may set it"
        if impact not in (None, ""):
            errors["impact"] = (f"only agents of the {desk_obj.name} desk may set it; say how urgent it is for you "
                                "with urgency")
            impact = None
        if door is not None and channel != door:
            errors["channel"] = f"is {door}, the way the ticket came in; only agents of the desk may state another"
    refs = _resolve_references(desk_obj, fields, errors)
    if errors:
        raise InvalidInput(errors)

    now = clock.now()
    impact_level = impact_level or 3
    urgency_level = urgency_level or 3
    with _files_removed_on_failure(), transaction.atomic():
        ticket = Ticket(
            number=_next_number(type),
            type=type,
            requester=refs.get("requester") or actor,
            desk=desk_obj,
            service=refs.get("service"),
            category=refs.get("category"),
            channel=channel,
            group=refs.get("group"),
            assignee=refs.get("assignee"),
            title=title,
            description=description.strip(),
            impact=impact_level,
            urgency=urgency_level,
            priority=priority_for(impact_level, urgency_level),
            parent=parent,
            external_ref=external_ref[:100],
            blocks_work=bool(blocks_work),
            opened_at=now,
            updated_at=now,
        )
        if ticket.group is None:
            ticket.group = routing.group_for(ticket)
        if ticket.assignee is None:
            ticket.assignee = _assign_in_group(ticket, ticket.group)
        if ticket.assignee is not None:
            ticket.state = State.ASSIGNED
        _insert_once(ticket)
        audit = _audit(ticket, actor, channel, now)
        audit.add("created", "", None, f"{ticket.get_type_display()} {ticket.number}")
        # What routing decided is the system's doing, not the requester's.
        routed = AuditBatch("ticket", ticket.pk, None, Channel.SYSTEM, now)
        if ticket.group_id:
            (audit if refs.get("group") else routed).add("assigned", "group", None, ticket.group)
        if ticket.assignee_id:
            (audit if refs.get("assignee") else routed).add("assigned", "assignee", None, ticket.assignee)
        audit.events += routed.events
        # Values the person chose (not defaults): the AI never overrides what a person set.
        chosen: tuple[tuple[str, Any], ...] = (
            ("category", refs.get("category")), ("service", refs.get("service")),
            ("impact", impact), ("urgency", urgency))
        for name, value in chosen:
            if value not in (None, ""):
                audit.add("set", name, None, _display(getattr(ticket, name)))
        if refs.get("tags"):
            _set_tags(ticket, refs["tags"])
        if refs.get("watchers"):
            ticket.watchers.set(refs["watchers"])
        audit.save()
        for upload in attachments:
            _store_attachment(ticket, upload, actor, comment=None, public=True, channel=channel)
        search.index_new_ticket(ticket)
        _changed(ticket, now)
        ticket_opened.send(sender=Ticket, ticket=ticket, now=now)
        _after_commit("created", ticket, actor)
    return ticket


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


def _insert_once(ticket: Ticket) -> None:
    """Insert a new ticket; when another import stored the same `external_ref` meanwhile (the check above ran
    before it committed), say so instead of a raw IntegrityError."""
    if not ticket.external_ref:
        ticket.save()
        return
    try:
        with transaction.atomic():  # a savepoint: the transaction stays usable to read the winner
            ticket.save()
    except IntegrityError:
        winner = Ticket.objects.filter(external_ref=ticket.external_ref).values_list("number", flat=True).first()
        if winner is None:
            raise
        raise AlreadyImported(ticket.external_ref, winner) from None


def _desk(desk: Desk | int | str, errors: dict[str, str]) -> Desk | None:
    if isinstance(desk, Desk):
        return desk
    pk = as_id(str(desk))
    lookup: dict[str, Any] = {"pk": pk} if pk is not None else {"slug": str(desk)}
    found = Desk.objects.filter(is_active=True, **lookup).first()
    if found is None:
        errors["desk"] = f"no active desk {desk!r}"
    return found


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


# --- conversation ----------------------------------------------------------------------------------------

def add_comment(
    actor: User,
    ticket: Ticket | int,
    body: str,
    *,
    public: bool = True,
    channel: str = Channel.WEB,
    attachments: Sequence[UploadedFile] = (),
) -> Comment:
    """A public reply or an internal note. A requester's reply resumes a ticket pending on the requester."""
    errors: dict[str, str] = {}
    body = _validate_text(errors, "body", body, required=True)
    for upload in attachments:
        _check_upload(errors, upload)
    with _files_removed_on_failure(), transaction.atomic():
        ticket = _lock(ticket)
        if not policy.can(actor, policy.VIEW, ticket):
            raise NotFound(f"no ticket {ticket.number}")
        staff = policy.can(actor, policy.WORK, ticket)
        if not public and not staff:
            raise NotAllowed("only the desk's agents may add internal notes")
        if not staff and ticket.requester_id != actor.pk and not ticket.watchers.filter(pk=actor.pk).exists():
            raise NotAllowed(f"you are not an agent of the {ticket.desk.name} desk")
        if ticket.state in (State.CLOSED, State.CANCELLED):
            errors["body"] = f"{ticket.number} is {ticket.get_state_display().lower()}; open a new ticket instead"
        if errors:
            raise InvalidInput(errors)
        now = clock.now()
        comment = _write_comment(ticket, actor, body, public=public, channel=channel, now=now)
        for upload in attachments:
            _store_attachment(ticket, upload, actor, comment=comment, public=public, channel=channel)
        audit = _audit(ticket, actor, channel, now)
        if staff and public and ticket.requester_id != actor.pk and ticket.first_response_at is None:
            ticket.first_response_at = now
        if (
            not staff
            and ticket.requester_id == actor.pk
            and ticket.state == State.PENDING
            and ticket.pending_reason == PendingReason.REQUESTER
        ):
            _set_state(ticket, State.IN_PROGRESS, actor, audit, now)
            ticket.version += 1
        _touch(ticket, now, bump=False)
        ticket.save()
        audit.save()
        _changed(ticket, now)
    return comment


def _write_comment(ticket: Ticket, actor: User | None, body: str, *, public: bool, channel: str, now: Any) -> Comment:
    comment = Comment.objects.create(
        ticket=ticket, author=actor, body=to_safe_html(body), is_public=public, channel=channel, created_at=now
    )
    batch = AuditBatch("ticket", ticket.pk, actor.pk if actor else None, channel, now)
    batch.add("comment" if public else "note", "comment", None, comment.pk)
    batch.save()
    search.append_to_document(ticket.pk, comment.body)
    _after_commit("comment" if public else "note", ticket, actor, comment_id=comment.pk)
    return comment


# --- attachments -----------------------------------------------------------------------------------------

def _check_upload(errors: dict[str, str], upload: UploadedFile) -> None:
    name = upload.name or ""
    suffix = PurePath(name).suffix.lower()
    if suffix not in settings.ATTACHMENT_ALLOWED_TYPES:
        errors["attachments"] = (
            f"{name!r}: files of type {suffix or '(none)'} are not accepted; allowed: "
            + ", ".join(settings.ATTACHMENT_ALLOWED_TYPES)
        )
    elif (upload.size or 0) > settings.ATTACHMENT_MAX_BYTES:
        # Checked before anything is written: the API answers 413, the pages show it beside the field.
        raise TooLarge({"attachments": f"{name!r} is {upload.size:,} bytes; the limit is "
                                       f"{settings.ATTACHMENT_MAX_BYTES:,}"})


def _store_attachment(ticket: Ticket, upload: UploadedFile, actor: User, *, comment: Comment | None,
                      public: bool, channel: str) -> Attachment:
    """Store the file outside the database; if the transaction then fails, the file is deleted again."""
    name = PurePath(upload.name or "file").name[:255]
    suffix = PurePath(name).suffix.lower()
    now = clock.now()
    attachment = Attachment(
        ticket=ticket,
        comment=comment,
        stored_name=f"{uuid.uuid4().hex}{suffix}",
        filename=name,
        size=upload.size or 0,
        content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        uploaded_by=actor,
        is_public=public,
        created_at=now,
    )
    attachment.file.save(attachment.stored_name, upload, save=False)
    _STORED_FILES.get().append((attachment.file.storage, attachment.file.name or ""))
    attachment.save()
    batch = AuditBatch("ticket", ticket.pk, actor.pk, channel, now)
    batch.add("attached", "attachment", None, name)
    batch.save()
    return attachment


_STORED_FILES: ContextVar[list[tuple[Any, str]]] = ContextVar("stored_files")


@contextmanager
def _files_removed_on_failure() -> Iterator[None]:
    """Delete files stored inside the block if the block raises, so a failed write leaves no file behind."""
    token = _STORED_FILES.set([])
    try:
        yield
    except BaseException:
        for storage, name in _STORED_FILES.get():
            storage.delete(name)
        raise
    finally:
        _STORED_FILES.reset(token)


def add_attachment(actor: User, ticket: Ticket | int, upload: UploadedFile, *, public: bool = True,
                   channel: str = Channel.WEB) -> Attachment:
    errors: dict[str, str] = {}
    _check_upload(errors, upload)
    with _files_removed_on_failure(), transaction.atomic():
        ticket = _lock(ticket)
        if not policy.can(actor, policy.VIEW, ticket):
            raise NotFound(f"no ticket {ticket.number}")
        staff = policy.can(actor, policy.WORK, ticket)
        if not staff and ticket.requester_id != actor.pk:
            raise NotAllowed("only the requester or the desk's agents may attach files")
        if errors:
            raise InvalidInput(errors)
        return _store_attachment(ticket, upload, actor, comment=None, public=public or not staff, channel=channel)


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


# --- desk configuration ----------------------------------------------------------------------------------

def create_category(desk: Desk, name: str) -> Category:
    """A ticket category of one desk."""
    name = name.strip()
    if not name:
        raise InvalidInput({"name": "is required"})
    if Category.objects.filter(desk=desk, name__iexact=name).exists():
        raise InvalidInput({"name": f"{desk.name} has a category named {name!r} already"})
    return Category.objects.create(desk=desk, name=name)


def create_assignment_rule(
    desk: Desk,
    name: str,
    group: AssignmentGroup,
    *,
    order: int = 100,
    category: Category | None = None,
    service: BusinessService | None = None,
    ticket_type: str = "",
    keywords: str = "",
) -> AssignmentRule:
    """A routing rule: tickets of `desk` matching category/service/type/keywords go to `group`."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "is required"
    if group.desk_id != desk.pk:
        errors["group"] = f"{group.name} is not a group of the {desk.name} desk"
    if category is not None and category.desk_id != desk.pk:
        errors["category"] = f"{category.name} is not a category of the {desk.name} desk"
    if ticket_type and ticket_type not in TicketType.values:
        errors["ticket_type"] = f"use one of {', '.join(TicketType.values)}"
    if errors:
        raise InvalidInput(errors)
    return AssignmentRule.objects.create(
        desk=desk, name=name.strip(), group=group, order=order, category=category, service=service,
        ticket_type=ticket_type, keywords=keywords,
    )
