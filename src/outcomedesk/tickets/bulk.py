"""Bulk loads of tickets (history imports, benchmark data): the check of `services.open_ticket`, a faster write.

`services.open_ticket` writes one ticket with routing, SLA targets and notifications in about ten queries; a
history load of millions of rows cannot afford even that. `load_tickets` checks every row with
`services.check_ticket` (the same rules as every ticket opened, with the batch's references fetched at once),
reserves a block of numbers per batch with one UPDATE, and writes tickets, their comments, audit events and
search documents with COPY (PostgreSQL) or `executemany`. Nothing is routed or notified: rows arrive with their
group, assignee and state decided.

Each batch commits on its own, so `progress` reports work that is saved. Wrap the call in
`transaction.atomic()` for all-or-none (the number sequence row then stays locked until the end).
For large loads, `search_index_deferred()` drops the full-text index first and builds it once at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, cast

from django.db import connection, models, transaction
from django.db.models import F

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.core.audit import _as_text
from outcomedesk.core.errors import AlreadyImported, InvalidInput
from outcomedesk.core.html import to_safe_html
from outcomedesk.core.models import AuditEvent, Channel
from outcomedesk.tickets import search
from outcomedesk.tickets.models import (
    NUMBER_PREFIX,
    Comment,
    NumberSequence,
    PendingReason,
    PriorityMatrixEntry,
    SearchDocument,
    State,
    Ticket,
    TicketType,
)
from outcomedesk.tickets.priority import DEFAULT_MATRIX
from outcomedesk.tickets.services.common import Lookups
from outcomedesk.tickets.services.opening import check_ticket

Progress = Callable[[int], None]
# `TextChoices.values` builds a new list on every access; a million rows read them several times each.
STATES = frozenset(State.values)
PENDING_REASONS = frozenset(PendingReason.values)


@dataclass(frozen=True)
class CommentRow:
    """A reply or internal note of a loaded ticket; `body` is HTML or text and is sanitised on load."""

    body: str
    created_at: datetime
    author_id: int | None = None
    is_public: bool = True
    channel: str = Channel.IMPORT


@dataclass(frozen=True)
class EventRow:
    """One audit event of a loaded ticket (a state change, an assignment...)."""

    action: str
    at: datetime
    field: str = ""
    old_value: Any = None
    new_value: Any = None
    actor_id: int | None = None
    channel: str = Channel.IMPORT


@dataclass(frozen=True)
class TicketRow:
    """One ticket to load, with ids of existing desks, groups and people; the number is given on load."""

    desk_id: int
    requester_id: int
    title: str
    opened_at: datetime
    description: str = ""
    type: str = TicketType.INCIDENT
    state: str = State.NEW
    group_id: int | None = None
    assignee_id: int | None = None
    impact: int = 3
    urgency: int = 3
    priority: int | None = None  # from the impact x urgency matrix when None
    channel: str = Channel.IMPORT
    pending_reason: str = ""
    resolution_code: str = ""
    resolution_notes: str = ""
    updated_at: datetime | None = None  # opened_at when None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    external_ref: str = ""  # the ticket's id in the system it came from; unique when given
    comments: Sequence[CommentRow] = ()
    events: Sequence[EventRow] = ()


class BatchLookups(Lookups):
    """What a load's rows refer to, fetched once (desks, groups) or once per batch (people, external
    references) instead of one query per reference, for `services.check_ticket`.

    A load writes history, so inactive people and groups are valid (who handled a ticket then may have left
    since), and an assignee need only exist; the desks are those the loading principal may work."""

    def __init__(self, actor: policy.Actor) -> None:
        self.desks = {d.pk: d for d in Desk.objects.filter(pk__in=policy.desk_ids(actor, policy.WORK))}
        self.groups = {g.pk: g for g in AssignmentGroup.objects.only("pk", "desk_id")}
        self.users: dict[int, User] = {}
        self.refs_seen: set[str] = set()

    def learn(self, batch: Sequence[TicketRow]) -> None:
        """Fetch the people and the already stored external references the rows of `batch` name."""
        ids: set[int] = set()
        for row in batch:
            ids.add(row.requester_id)
            if row.assignee_id is not None:
                ids.add(row.assignee_id)
            ids.update(c.author_id for c in row.comments if c.author_id is not None)
            ids.update(e.actor_id for e in row.events if e.actor_id is not None)
        unknown = ids - self.users.keys()
        if unknown:
            self.users.update((u.pk, u) for u in User.objects.filter(pk__in=unknown).only("pk"))
        refs = {row.external_ref for row in batch if row.external_ref}
        self.refs_seen |= set(Ticket.objects.filter(external_ref__in=refs).values_list("external_ref", flat=True))

    def desk(self, ref: Desk | int | str) -> Desk | None:
        if isinstance(ref, Desk):
            return ref
        return self.desks.get(ref) if isinstance(ref, int) else None

    def may_work(self, actor: policy.Actor, desk: Desk) -> bool:
        return desk.pk in self.desks

    def imported(self, external_ref: str) -> str | None:
        return "an earlier row" if external_ref in self.refs_seen else None

    def group(self, desk: Desk, ref: Any) -> AssignmentGroup | None:
        found = self.groups.get(ref)
        return found if found is not None and found.desk_id == desk.pk else None

    def person(self, ref: Any) -> User | None:
        return self.users.get(ref)

    def agent(self, desk: Desk, ref: Any) -> User | None:
        return self.users.get(ref)


# The check's field names, as a TicketRow names them.
ROW_FIELDS = {"desk": "desk_id", "requester": "requester_id", "group": "group_id", "assignee": "assignee_id"}


def _check(row: TicketRow, position: int, lookups: BatchLookups, actor: policy.Actor) -> dict[str, str]:
    """Problems of one row as {"rows[N].field": message}; `position` counts rows from 1. The ticket itself goes
    through `services.check_ticket`, the rule of every ticket opened; what only history has (states, times,
    comments, events) is checked here."""
    errors: dict[str, str] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(f"rows[{position}].{field}", message)

    try:
        check_ticket(
            actor, desk=row.desk_id, title=row.title, description=row.description, type=row.type,
            requester=row.requester_id, group=row.group_id, assignee=row.assignee_id, impact=row.impact,
            urgency=row.urgency, channel=row.channel, external_ref=row.external_ref, lookups=lookups,
        )
    except AlreadyImported:
        bad("external_ref", f"{row.external_ref!r} is already loaded")
    except InvalidInput as exc:
        for field, message in exc.errors.items():
            bad(ROW_FIELDS.get(field, field), message)
    if row.external_ref:
        lookups.refs_seen.add(row.external_ref)
    if row.state not in STATES:
        bad("state", f"must be one of {', '.join(State.values)}, not {row.state!r}")
    if row.pending_reason and row.pending_reason not in PENDING_REASONS:
        bad("pending_reason", f"must be empty or one of {', '.join(PendingReason.values)}")
    if row.priority is not None and row.priority not in range(1, 6):
        bad("priority", f"must be 1 to 5, not {row.priority!r}")
    for n, comment in enumerate(row.comments):
        if comment.author_id is not None and comment.author_id not in lookups.users:
            bad(f"comments[{n}].author_id", f"no user {comment.author_id!r}")
        if not comment.body.strip():
            bad(f"comments[{n}].body", "is required")
    for n, event in enumerate(row.events):
        if event.actor_id is not None and event.actor_id not in lookups.users:
            bad(f"events[{n}].actor_id", f"no user {event.actor_id!r}")
        if not event.action:
            bad(f"events[{n}].action", "is required")
    return errors


def _reserve_numbers(prefix: str, count: int) -> int:
    """Reserve `count` numbers of `prefix` with one UPDATE; returns the first. Call inside a transaction."""
    if not NumberSequence.objects.filter(prefix=prefix).update(last=F("last") + count):
        NumberSequence.objects.get_or_create(prefix=prefix)
        NumberSequence.objects.filter(prefix=prefix).update(last=F("last") + count)
    last = NumberSequence.objects.values_list("last", flat=True).get(prefix=prefix)
    return last - count + 1


def _priority_matrix() -> dict[tuple[int, int], int]:
    """The configured matrix read once (`priority_for` asks the database per ticket)."""
    matrix = dict(DEFAULT_MATRIX)
    for impact, urgency, priority in PriorityMatrixEntry.objects.values_list("impact", "urgency", "priority"):
        matrix[(impact, urgency)] = priority
    return matrix


class _Table:
    """Rows for one table as tuples in its column order, with the model's defaults for omitted fields.

    Django's `bulk_create` compiles every value of every model instance (~1 ms per ticket with its
    document); at a million tickets that alone breaks the five-minute budget, so rows go straight to
    COPY (PostgreSQL) or `executemany` with values adapted once per column type.
    """

    def __init__(self, model: type[models.Model], *, with_pk: bool) -> None:
        # Generated columns (e.g. a stored is_open flag) are computed by the database, never inserted.
        fields = [f for f in model._meta.concrete_fields
                  if (with_pk or not f.primary_key) and not getattr(f, "generated", False)]
        self.table = model._meta.db_table
        self.names = [f.attname for f in fields]
        self.columns = [str(f.column) for f in fields]
        self.defaults = {f.attname: f.get_default() for f in fields}
        self.datetimes = {f.attname for f in fields if isinstance(f, models.DateTimeField)}
        self.rows: list[tuple[Any, ...]] = []
        # psycopg's COPY adapts datetimes itself; other drivers get Django's text form.
        self.adapt = None if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value

    def add(self, **values: Any) -> None:
        if self.adapt is not None:
            for name in self.datetimes & values.keys():
                values[name] = self.adapt(values[name])
        self.rows.append(tuple(values[n] if n in values else self.defaults[n] for n in self.names))

    def write(self) -> None:
        if not self.rows:
            return
        # Table and column names come from the model's meta, never from input.
        table = connection.ops.quote_name(self.table)
        quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", self.rows)  # noqa: S608
        self.rows = []


def _reserve_ticket_ids(count: int) -> list[int]:
    """Primary keys for `count` new tickets; inside the batch's transaction, which holds SQLite's write lock."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Ticket._meta.db_table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Ticket._meta.db_table}")  # noqa: S608
        last = cursor.fetchone()[0]
        # AUTOINCREMENT never reuses the id of a deleted ticket (audit events may still name it): nor do we.
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [Ticket._meta.db_table])
        found = cursor.fetchone()
        last = max(last, found[0] if found else 0)
    return list(range(last + 1, last + 1 + count))


@dataclass(frozen=True)
class _DocumentSource:
    """What `search.document_text` reads of a ticket, without building a model instance per row."""

    number: str
    title: str
    description: str


def _write_batch(rows: list[TicketRow], matrix: dict[tuple[int, int], int], sanitise: bool) -> None:
    by_prefix: dict[str, int] = {}
    for row in rows:
        prefix = NUMBER_PREFIX[TicketType(row.type)]
        by_prefix[prefix] = by_prefix.get(prefix, 0) + 1
    next_number = {prefix: _reserve_numbers(prefix, count) for prefix, count in by_prefix.items()}
    ids = _reserve_ticket_ids(len(rows))
    tickets, comments = _Table(Ticket, with_pk=True), _Table(Comment, with_pk=False)
    events, documents = _Table(AuditEvent, with_pk=False), _Table(SearchDocument, with_pk=True)
    for ticket_id, row in zip(ids, rows, strict=True):
        prefix = NUMBER_PREFIX[TicketType(row.type)]
        number = f"{prefix}{next_number[prefix]:07d}"
        next_number[prefix] += 1
        title, description = row.title.strip(), row.description.strip()
        tickets.add(
            id=ticket_id,
            number=number,
            type=row.type,
            requester_id=row.requester_id,
            desk_id=row.desk_id,
            channel=row.channel,
            group_id=row.group_id,
            assignee_id=row.assignee_id,
            title=title,
            description=description,
            impact=row.impact,
            urgency=row.urgency,
            priority=row.priority if row.priority is not None else matrix[(row.impact, row.urgency)],
            state=row.state,
            pending_reason=row.pending_reason,
            resolution_code=row.resolution_code[:40],
            resolution_notes=row.resolution_notes,
            opened_at=row.opened_at,
            first_response_at=row.first_response_at,
            resolved_at=row.resolved_at,
            closed_at=row.closed_at,
            updated_at=row.updated_at or row.opened_at,
            external_ref=row.external_ref,
        )
        bodies = [to_safe_html(c.body) if sanitise else c.body for c in row.comments]
        for comment, body in zip(row.comments, bodies, strict=True):
            comments.add(ticket_id=ticket_id, author_id=comment.author_id, body=body, is_public=comment.is_public,
                         channel=comment.channel, created_at=comment.created_at)
        for event in row.events:
            events.add(object_type="ticket", object_id=ticket_id, at=event.at, actor_id=event.actor_id,
                       channel=event.channel, action=event.action, field=event.field,
                       old_value=_as_text(event.old_value), new_value=_as_text(event.new_value))
        source = cast(Ticket, _DocumentSource(number, title, description))
        documents.add(ticket_id=ticket_id, body=search.document_text(source, bodies))
    for table in (tickets, comments, events, documents):
        table.write()


def _batches(rows: Iterable[TicketRow], size: int) -> Iterator[list[TicketRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def load_tickets(
    rows: Iterable[TicketRow],
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
    sanitise: bool = True,
    actor: policy.Actor = policy.IMPORTER,
) -> int:
    """Validate and write `rows` batch by batch; returns how many tickets were written.

    Raises InvalidInput naming every bad field of the first batch that has one, as `rows[N].field` with N
    counted from 1 over the whole load; batches before it stay written. `sanitise=False` skips HTML
    sanitising of comment bodies, for callers whose bodies are already safe (generated text).
    """
    if batch_size < 1:
        raise InvalidInput({"batch_size": f"must be at least 1, not {batch_size}"})
    lookups = BatchLookups(actor)
    matrix = _priority_matrix()
    written = 0
    with _large_page_cache():
        for batch in _batches(rows, batch_size):
            written = _load_batch(batch, written, lookups, actor, matrix, sanitise)
            if progress is not None:
                progress(len(batch))
    return written


def _load_batch(batch: list[TicketRow], written: int, lookups: BatchLookups, actor: policy.Actor,
                matrix: dict[tuple[int, int], int], sanitise: bool) -> int:
    """Validate then write one batch in its own transaction; returns the running count."""
    lookups.learn(batch)
    errors: dict[str, str] = {}
    for offset, row in enumerate(batch):
        errors.update(_check(row, written + offset + 1, lookups, actor))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        _write_batch(batch, matrix, sanitise)
    return written + len(batch)


@contextmanager
def _large_page_cache() -> Iterator[None]:
    """On SQLite, a 256 MB page cache for the load instead of the 2 MB default.

    Every ticket updates ~16 B-tree indexes at random places; with the default cache most of those pages
    are read back from the OS for each batch. The setting is per connection and is restored after.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = cursor.fetchone()[0]
        cursor.execute("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


# --- the full-text index around a large load -------------------------------------------------------------

def drop_search_index() -> None:
    """Stop maintaining the full-text index (SQLite: triggers and FTS rows; PostgreSQL: the GIN index)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS tickets_searchdocument_fts")
        elif connection.vendor == "sqlite":
            for name in ("tickets_search_ai", "tickets_search_ad", "tickets_search_au"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute("DROP TABLE IF EXISTS tickets_search_fts")


def build_search_index() -> None:
    """Create the full-text index over every search document, in one statement per database."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # More memory makes the GIN build sort in memory instead of merging runs on disk.
            cursor.execute("SET maintenance_work_mem = '512MB'")
            _run_deferred_checks(cursor)
            cursor.execute(search.POSTGRES_DDL)
            cursor.execute("RESET maintenance_work_mem")
            cursor.execute("ANALYZE tickets_searchdocument")
        elif connection.vendor == "sqlite":
            for statement in search.SQLITE_DDL:
                cursor.execute(statement)
            cursor.execute("INSERT INTO tickets_search_fts(tickets_search_fts) VALUES('rebuild')")


@contextmanager
def secondary_indexes_deferred(*tables: type[models.Model]) -> Iterator[None]:
    """Drop the non-unique indexes of these models' tables for the block and create them again after.

    For a first load into an empty or small database: one sorted build per index is far cheaper than a
    million inserts at random places of each. Queries on these tables are slow meanwhile: not on a live desk.
    Unique indexes stay, so duplicates are still refused during the load.
    """
    saved: list[str] = []
    with connection.cursor() as cursor:
        for model in tables:
            table = model._meta.db_table
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                    "JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = "
                    "(SELECT oid FROM pg_namespace WHERE nspname = i.schemaname) "
                    "JOIN pg_index x ON x.indexrelid = c.oid "
                    "WHERE i.tablename = %s AND i.schemaname = current_schema() AND NOT x.indisunique",
                    [table],
                )
            elif connection.vendor == "sqlite":
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%'",
                    [table],
                )
            else:
                continue
            for name, ddl in cursor.fetchall():
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                saved.append(ddl)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if saved:
                _run_deferred_checks(cursor)
            for ddl in saved:
                cursor.execute(ddl)


def _run_deferred_checks(cursor: Any) -> None:
    """Inside a transaction on PostgreSQL, run the foreign-key checks queued by the rows written so far.

    PostgreSQL creates no index on a table with pending trigger events (Django's foreign keys are
    DEFERRABLE INITIALLY DEFERRED), so they are checked now and deferral is switched back on.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@contextmanager
def search_index_deferred() -> Iterator[None]:
    """Drop the full-text index for the block and build it once after (also if the block fails)."""
    drop_search_index()
    try:
        yield
    finally:
        build_search_index()
