"""Opening a ticket: `check_ticket` (validate, resolve references, decide, no writes) and `write_ticket` (the
one transaction that numbers, routes and stores it); `open_ticket` is the two in a row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock, config_cache
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import AlreadyImported, InvalidInput
from outcomedesk.core.models import Channel
from outcomedesk.tickets import routing, search
from outcomedesk.tickets.models import NUMBER_PREFIX, Category, NumberSequence, State, Tag, Ticket, TicketType
from outcomedesk.tickets.priority import priority_for
from outcomedesk.tickets.queries import opened
from outcomedesk.tickets.services.common import (
    CHANNELS,
    EXTERNAL_REF_MAX,
    QUERIES,
    TYPES,
    Lookups,
    _after_commit,
    _assign_in_group,
    _audit,
    _changed,
    _desk,
    _display,
    _level,
    _pk,
    _resolve_references,
    _set_tags,
    _validate_text,
    _validate_title,
)
from outcomedesk.tickets.services.conversation import _check_upload, _files_removed_on_failure, _store_attachment
from outcomedesk.tickets.signals import ticket_opened


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

@dataclass(frozen=True)
class NewTicket:
    """A ticket that passed `check_ticket`: every reference resolved, every value decided; nothing written."""

    actor: policy.Actor
    desk: Desk
    type: str
    title: str
    description: str
    requester: User
    channel: str
    impact: int
    urgency: int
    category: Category | None = None
    service: BusinessService | None = None
    group: AssignmentGroup | None = None  # as given; routing decides when None
    assignee: User | None = None  # as given; the group's method decides when None
    tags: tuple[str, ...] = ()
    watchers: tuple[User, ...] = ()
    parent: Ticket | None = None
    external_ref: str = ""
    blocks_work: bool = False
    attachments: tuple[UploadedFile, ...] = ()
    chosen: tuple[str, ...] = ()  # the fields the person set (not defaults): the AI never overrides them


def check_ticket(
    actor: policy.Actor,
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
    lookups: Lookups = QUERIES,
) -> NewTicket:
    """The check half of opening a ticket: may `actor` open it, is every value valid, what does each reference
    name. Raises `InvalidInput` naming each bad field (or `AlreadyImported`); writes nothing.

    A requester (someone who does not work on the desk) states the urgency only: the impact (and with it the
    priority) comes from the desk's rules, and the channel is `door`, the door the ticket came through (the
    portal, the API...), whatever the payload says. Agents of the desk set impact, and may record another
    channel (a phone call they log).
    """
    errors: dict[str, str] = {}
    desk_obj = _desk(desk, errors, lookups)
    title = _validate_title(errors, title)
    description = _validate_text(errors, "description", description)
    if type not in TYPES:
        errors["type"] = f"must be one of {', '.join(TicketType.values)}, not {type!r}"
    if channel not in CHANNELS:
        errors["channel"] = f"must be one of {', '.join(Channel.values)}, not {channel!r}"
    impact_level = _level(errors, "impact", impact)
    urgency_level = _level(errors, "urgency", urgency)
    for upload in attachments:
        _check_upload(errors, upload)
    external_ref = external_ref.strip()
    if external_ref:
        if len(external_ref) > EXTERNAL_REF_MAX:
            errors["external_ref"] = f"is {len(external_ref)} characters long; at most {EXTERNAL_REF_MAX}"
        elif existing := lookups.imported(external_ref):
            raise AlreadyImported(external_ref, existing)
    if desk_obj is None:
        raise InvalidInput(errors)
    staff = lookups.may_work(actor, desk_obj)
    fields: dict[str, Any] = {"category": category, "service": service}
    if staff:
        fields.update(group=group, assignee=assignee)
        # Only when given: an empty list would cost a query per ticket of a bulk load.
        if watchers := list(watchers):
            fields["watchers"] = watchers
        if tags := list(tags):
            fields["tags"] = tags
        if requester is not None:
            fields["requester"] = requester
    else:
        given = {"group": group, "assignee": assignee, "requester": requester}
        for name, value in given.items():
            if value not in (None, "") and not (name == "requester" and _pk(value) == policy.actor_id(actor)):
                errors[name] = f"only agents of the {desk_obj.name} desk may set it"
        if impact not in (None, ""):
            errors["impact"] = (f"only agents of the {desk_obj.name} desk may set it; say how urgent it is for you "
                                "with urgency")
            impact = None
        if door is not None and channel != door:
            errors["channel"] = f"is {door}, the way the ticket came in; only agents of the desk may state another"
    refs = _resolve_references(desk_obj, fields, errors, lookups)
    if errors:
        raise InvalidInput(errors)
    person = refs.get("requester") or policy.person(actor)
    if person is None:
        raise InvalidInput({"requester": f"{actor} opens tickets for someone: name the requester"})
    given_values = (("category", category), ("service", service), ("impact", impact), ("urgency", urgency))
    return NewTicket(
        actor=actor, desk=desk_obj, type=type, title=title, description=description.strip(), requester=person,
        channel=channel, impact=impact_level or 3, urgency=urgency_level or 3, category=refs.get("category"),
        service=refs.get("service"), group=refs.get("group"), assignee=refs.get("assignee"),
        tags=tuple(refs.get("tags", ())), watchers=tuple(refs.get("watchers", ())), parent=parent,
        external_ref=external_ref, blocks_work=bool(blocks_work), attachments=tuple(attachments),
        chosen=tuple(name for name, value in given_values if value not in (None, "")),
    )


def write_ticket(new: NewTicket) -> Ticket:
    """The do half of opening a ticket: number it, route it to a group (and an agent) when nobody was given, and
    store it with its audit events, tags, watchers, attachments and search document in one transaction; the
    SLA engine hears of it inside the transaction, notifications after commit. The ticket returned holds its
    references, and its tags, watchers, children and links as if prefetched (`queries.opened`)."""
    actor = policy.person(new.actor)
    now = clock.now()
    tags: list[Tag] = []
    with _files_removed_on_failure(), config_cache.reading(), transaction.atomic():
        ticket = Ticket(
            number=_next_number(new.type),
            type=new.type,
            requester=new.requester,
            desk=new.desk,
            service=new.service,
            category=new.category,
            channel=new.channel,
            group=new.group,
            assignee=new.assignee,
            title=new.title,
            description=new.description,
            impact=new.impact,
            urgency=new.urgency,
            priority=priority_for(new.impact, new.urgency),
            parent=new.parent,
            external_ref=new.external_ref,
            blocks_work=new.blocks_work,
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
        audit = _audit(ticket, actor, new.channel, now)
        audit.add("created", "", None, f"{ticket.get_type_display()} {ticket.number}")
        # What routing decided is the system's doing, not the requester's.
        routed = AuditBatch("ticket", ticket.pk, None, Channel.SYSTEM, now)
        if ticket.group_id:
            (audit if new.group else routed).add("assigned", "group", None, ticket.group)
        if ticket.assignee_id:
            (audit if new.assignee else routed).add("assigned", "assignee", None, ticket.assignee)
        audit.events += routed.events
        for name in new.chosen:
            audit.add("set", name, None, _display(getattr(ticket, name)))
        if new.tags:
            tags = _set_tags(ticket, list(new.tags), new=True)
        if new.watchers:
            ticket.watchers.add(*new.watchers)  # a new ticket has none to keep or remove
        audit.save()
        for upload in new.attachments:
            _store_attachment(ticket, upload, actor, comment=None, public=True, channel=new.channel)
        search.index_new_ticket(ticket)
        _changed(ticket, now, created=True)
        ticket_opened.send(sender=Ticket, ticket=ticket, now=now)
        _after_commit("created", ticket, actor)
    return opened(ticket, tags=tags, watchers=new.watchers)


def open_ticket(actor: policy.Actor, **fields: Any) -> Ticket:
    """Open an incident or a request: `check_ticket`, then `write_ticket` (see each for the rules). The
    configuration they read (desks, routing, priorities, SLA policies) is read as of one moment, with one query
    when nothing changed (`core.config_cache`)."""
    with config_cache.reading():
        return write_ticket(check_ticket(actor, **fields))


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
