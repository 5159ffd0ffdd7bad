"""Import another tool's ticket event log: one ticket per record, with its state history (METRICS.md).

Each source record (an incident number) becomes one ticket. Its fields are those of its latest event (the
format says what "latest" means: ServiceNow's highest `sys_mod_count`, then latest update); its state history
is the sequence of its events' states with their times, written to the audit trail as the ticket's own changes
would have been, so that the SLA replay and every figure read it like any other ticket's history.

A format is a mapping (`EventFormat` in `eventlog_formats`): the record and time columns, how states map to
ours, which column gives which field. Figures a log does not carry (reopens, reassignments, resolution time)
are derived from the state history. A third tool is a new mapping, not new code.

Rows that fail (no record number, an unparseable time, an unknown state, a bad value) are reported with their
row number and the reason; the other rows import. Records imported before (same `external_ref`) are skipped,
so a re-run changes nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils.text import slugify

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk
from outcomedesk.accounts.services import ensure_groups, ensure_people
from outcomedesk.core.bulk import insert_rows, refresh_statistics
from outcomedesk.core.errors import NotAllowed
from outcomedesk.core.models import AuditEvent, Channel
from outcomedesk.core.textfiles import NotUtf8, require_utf8
from outcomedesk.tickets.models import (
    DONE_STATES,
    NUMBER_PREFIX,
    Category,
    NumberSequence,
    PendingReason,
    SearchDocument,
    State,
    Ticket,
    TicketType,
)
from outcomedesk.tickets.priority import priority_for

CHUNK = 2000
OPEN = frozenset((State.NEW, State.ASSIGNED, State.IN_PROGRESS, State.PENDING))
RESOLVED_OR_CLOSED = frozenset((State.RESOLVED, State.CLOSED))
_LEADING_INT = re.compile(r"^\s*(\d+)")


class EventLogError(Exception):
    """The file cannot be read as the named format (not a row problem)."""


# --- the shape of a format ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """Where one ticket field comes from in the latest event: a column and how to read its value.

    kind: text, int, level (the leading number of "2 - Medium"), bool ("true"/"false"), time.
    values: a map of source values to ours (applied before `kind`); `default` when the value is not in it."""

    name: str
    kind: str = "text"
    values: Mapping[str, Any] | None = None
    default: Any = None


@dataclass(frozen=True)
class EventFormat:
    name: str                      # the --format name, also the prefix of external_ref and usernames
    label: str                     # "ServiceNow incident event log"
    record: str                    # column of the record number
    time: str                      # column of the event's time
    states: Mapping[tuple[str, ...], tuple[str, str]]  # source state (one value per state column) -> ours
    state_columns: tuple[str, ...]
    time_format: str | None = None  # strptime format; None reads ISO 8601
    sequence: str | None = None    # a column that orders one record's events (a modification count)
    nulls: frozenset[str] = frozenset({"", "?"})
    ticket_type: str = TicketType.INCIDENT
    group: str | None = None       # column of the assignment group, per event
    fields: Mapping[str, Column] = field(default_factory=dict)
    title: str = "{label} {record}"
    describe: tuple[str, ...] = ()  # columns listed in the description
    required: tuple[str, ...] = ()  # further columns the file must have

    def columns(self) -> set[str]:
        names = {self.record, self.time, *self.state_columns, *self.describe, *self.required}
        names |= {c.name for c in self.fields.values()}
        if self.sequence:
            names.add(self.sequence)
        if self.group:
            names.add(self.group)
        return names


# --- the report ----------------------------------------------------------------------------------------------

@dataclass
class RejectedRow:
    row: int
    column: str | None
    reason: str


@dataclass
class EventImportReport:
    events: int = 0
    records: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    ticket_ids: list[int] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    row: int
    order: tuple[Any, ...]
    at: datetime
    state: str
    pending_reason: str
    group: str
    values: dict[str, str]


class _Reader:
    def __init__(self, fmt: EventFormat, tz: ZoneInfo) -> None:
        self.fmt = fmt
        self.tz = tz
        self._times: dict[str, datetime] = {}

    def time(self, text: str) -> datetime:
        cached = self._times.get(text)
        if cached is not None:
            return cached
        if self.fmt.time_format:
            value = datetime.strptime(text.strip(), self.fmt.time_format)
        else:
            value = datetime.fromisoformat(text.strip())
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        self._times[text] = value
        return value

    def value(self, column: Column, row: Mapping[str, str]) -> Any:
        raw = row.get(column.name, "")
        if raw is None or raw.strip() in self.fmt.nulls:
            return column.default
        text = raw.strip()
        if column.values is not None:
            return column.values.get(text, column.default)
        if column.kind == "text":
            return text
        if column.kind == "int":
            return int(text)
        if column.kind == "level":
            match = _LEADING_INT.match(text)
            if not match:
                raise ValueError(f"{text!r} does not start with a number")
            return int(match.group(1))
        if column.kind == "bool":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"{text!r} is not true or false")
            return lowered in ("true", "1", "yes")
        if column.kind == "time":
            return self.time(text)
        raise ValueError(f"unknown column kind {column.kind!r}")

    def event(self, number: int, row: dict[str, str], position: int) -> Event:
        fmt = self.fmt
        try:
            at = self.time(row.get(fmt.time) or "")
        except ValueError:
            raise _RowError(fmt.time, f"{row.get(fmt.time)!r} is not a time"
                            + (f" ({fmt.time_format})" if fmt.time_format else " (ISO 8601)")) from None
        source_state = tuple((row.get(c) or "").strip() for c in fmt.state_columns)
        mapped = fmt.states.get(source_state)
        if mapped is None:
            raise _RowError("/".join(fmt.state_columns), f"unknown state {' / '.join(source_state)!r}")
        order: tuple[Any, ...]
        if fmt.sequence:
            try:
                order = (int(row.get(fmt.sequence) or ""), at, position)
            except ValueError:
                raise _RowError(fmt.sequence, f"{row.get(fmt.sequence)!r} is not a whole number") from None
        else:
            order = (at, position)
        group = (row.get(fmt.group) or "").strip() if fmt.group else ""
        if group in fmt.nulls:
            group = ""
        return Event(number, order, at, mapped[0], mapped[1], group, row)


class _RowError(Exception):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def read_events(
    path: Path, fmt: EventFormat, report: EventImportReport, tz: ZoneInfo, on_row: Callable[[], None] | None = None,
) -> dict[str, list[Event]]:
    """The valid events of the file grouped by record number, in file order; bad rows go to the report."""
    if not path.exists():
        raise EventLogError(f"{path}: no such file")
    try:
        require_utf8(path)
    except NotUtf8 as exc:
        raise EventLogError(str(exc)) from None
    reader_state = _Reader(fmt, tz)
    records: dict[str, list[Event]] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = csv.DictReader(handle)
            header = rows.fieldnames or []
            missing = sorted(fmt.columns() - set(header))
            if missing:
                raise EventLogError(
                    f"{path} is not a {fmt.label}: missing column{'s' if len(missing) > 1 else ''} "
                    + ", ".join(missing)
                )
            for position, row in enumerate(rows):
                number = position + 2  # the header is row 1
                report.events += 1
                if on_row:
                    on_row()
                if None in row:
                    report.rejected.append(RejectedRow(number, None, "more fields than the header has"))
                    continue
                key = (row.get(fmt.record) or "").strip()
                if not key or key in fmt.nulls:
                    report.rejected.append(RejectedRow(number, fmt.record, "no record number"))
                    continue
                try:
                    event = reader_state.event(number, row, position)
                except _RowError as exc:
                    report.rejected.append(RejectedRow(number, exc.column, exc.reason))
                    continue
                records.setdefault(key, []).append(event)
    except UnicodeDecodeError as exc:
        raise EventLogError(f"{path} is not a {fmt.label}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise EventLogError(f"{path} is not a {fmt.label}: {exc}") from exc
    return records


# --- one record as a ticket --------------------------------------------------------------------------------

@dataclass
class Change:
    at: datetime
    action: str
    field: str
    old: str
    new: str


@dataclass
class Record:
    key: str
    row: int
    fields: dict[str, Any]
    people: dict[str, str]           # usernames -> display names this record needs
    groups: set[str]
    category: str
    changes: list[Change]


def username(fmt: EventFormat, value: str) -> str:
    return slugify(f"{fmt.name}-{value}")[:150]


def build_record(fmt: EventFormat, key: str, events: Sequence[Event], reader: _Reader) -> Record:
    """The ticket fields and audit changes of one record; raises _RowError naming the latest row."""
    ordered = sorted(events, key=lambda e: e.order)
    latest = ordered[-1]
    values: dict[str, Any] = {}
    for name, column in fmt.fields.items():
        try:
            values[name] = reader.value(column, latest.values)
        except ValueError as exc:
            raise _RowError(column.name, str(exc)) from None

    opened_at = values.get("opened_at") or ordered[0].at
    # The state history: times never go back, and never before the opening.
    timeline: list[tuple[datetime, Event]] = []
    floor = opened_at
    for event in ordered:
        floor = max(floor, event.at)
        timeline.append((floor, event))

    changes: list[Change] = []
    state, reason, group = State.NEW.value, "", ""
    first_response_at: datetime | None = None
    reopens = reassignments = 0
    awaiting = timedelta(0)
    entered_done: datetime | None = None
    entered_pending: datetime | None = None
    for at, event in timeline:
        if event.group != group:
            changes.append(Change(at, "assigned", "group", group, event.group))
            if group:
                reassignments += 1
            group = event.group
        if event.state != state or event.pending_reason != reason:
            if state == State.PENDING and reason == PendingReason.REQUESTER and entered_pending:
                awaiting += at - entered_pending
            if event.state != state:
                changes.append(Change(at, "state", "state", state, event.state))
            if event.pending_reason != reason:
                changes.append(Change(at, "changed", "pending_reason", reason, event.pending_reason))
            if state in RESOLVED_OR_CLOSED and event.state in OPEN:
                reopens += 1
            if event.state != State.NEW and first_response_at is None:
                first_response_at = at
            if event.state in DONE_STATES and state not in DONE_STATES:
                entered_done = at
            if event.state == State.PENDING and (state != State.PENDING or event.pending_reason != reason):
                entered_pending = at
            state, reason = event.state, event.pending_reason

    resolved_at = values.get("resolved_at", _UNSET)
    if resolved_at is _UNSET:
        resolved_at = entered_done if state in RESOLVED_OR_CLOSED else None
    closed_at = values.get("closed_at", _UNSET)
    if closed_at is _UNSET:
        closed_at = entered_done if state in (State.CLOSED, State.CANCELLED) else None
    reassignment_count = values.get("reassignment_count")
    reopen_count = values.get("reopen_count")
    reassignment_count = reassignments if reassignment_count is None else reassignment_count
    reopen_count = reopens if reopen_count is None else reopen_count
    impact = values.get("impact") or 3
    urgency = values.get("urgency") or 3
    priority = values.get("priority") or priority_for(impact, urgency)

    people: dict[str, str] = {}
    requester_name = values.get("requester") or f"{fmt.name} requester"
    requester = username(fmt, requester_name)
    people[requester] = requester_name
    assignee = None
    if values.get("assignee"):
        assignee = username(fmt, values["assignee"])
        people[assignee] = values["assignee"]
    described = [f"{c}: {latest.values.get(c, '').strip()}" for c in fmt.describe
                 if latest.values.get(c, "").strip() not in fmt.nulls]
    title_values = {k: v for k, v in latest.values.items() if k}
    title = fmt.title.format(label=fmt.label, record=key, **_safe_keys(title_values))[:200]
    fields = {
        "type": fmt.ticket_type,
        "title": title,
        "description": f"Imported from the {fmt.label}, record {key}.\n" + "\n".join(described),
        "channel": values.get("channel") or Channel.IMPORT,
        "impact": impact,
        "urgency": urgency,
        "priority": priority,
        "state": state,
        "pending_reason": reason if state == State.PENDING else "",
        "pending_since": entered_pending if state == State.PENDING else None,
        "group": group,
        "requester": requester,
        "assignee": assignee,
        "opened_at": opened_at,
        "first_response_at": first_response_at,
        "resolved_at": resolved_at,
        "closed_at": closed_at,
        "updated_at": timeline[-1][0],
        "reassignment_count": reassignment_count,
        "reopen_count": reopen_count,
        "imported_sla_met": values.get("imported_sla_met"),
        "awaiting_requester_seconds": int(awaiting.total_seconds()),
        "first_contact_resolution": (
            None if state not in RESOLVED_OR_CLOSED or resolved_at is None
            else not (reopen_count or reassignment_count or awaiting)
        ),
        "external_ref": f"{fmt.name}:{key}"[:100],
    }
    return Record(key, latest.row, fields, people, {group} - {""} | {c.new for c in changes if c.field == "group"}
                  - {""}, values.get("category") or "", changes)


class _Unset:
    pass


_UNSET: Any = _Unset()


def _safe_keys(values: Mapping[str, str]) -> dict[str, str]:
    """Columns usable as str.format keys: spaces and signs become underscores."""
    return {re.sub(r"\W", "_", k): v for k, v in values.items()}


# --- writing ------------------------------------------------------------------------------------------------

def _allocate_numbers(ticket_type: str, count: int) -> list[str]:
    prefix = NUMBER_PREFIX[TicketType(ticket_type)]
    NumberSequence.objects.get_or_create(prefix=prefix)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_numbersequence SET last = last + %s WHERE prefix = %s RETURNING last",
                       [count, prefix])
        last = cursor.fetchone()[0]
    return [f"{prefix}{n:07d}" for n in range(last - count + 1, last + 1)]


def _ensure_categories(desk: Desk, names: set[str]) -> dict[str, int]:
    existing = {n: pk for pk, n in Category.objects.filter(desk=desk).values_list("pk", "name")}
    missing = sorted(n for n in names if n and n not in existing)
    if missing:
        Category.objects.bulk_create([Category(desk=desk, name=n[:100]) for n in missing])
        existing = {n: pk for pk, n in Category.objects.filter(desk=desk).values_list("pk", "name")}
    return existing


# Ticket columns copied as they are from Record.fields; the references are resolved in _write.
_COPIED = ("type", "title", "description", "channel", "impact", "urgency", "priority", "state", "pending_reason",
           "pending_since", "opened_at", "first_response_at", "resolved_at", "closed_at", "updated_at",
           "reassignment_count", "reopen_count", "imported_sla_met", "awaiting_requester_seconds",
           "first_contact_resolution", "external_ref")
_TICKET_COLUMNS = ("number", "desk", "requester", "assignee", "group", "category", *_COPIED,
                   "resolution_code", "resolution_notes", "version", "blocks_work")
_AUDIT_COLUMNS = ("object_type", "object_id", "at", "channel", "action", "field", "old_value", "new_value")


def _write(records: list[Record], desk: Desk, fmt: EventFormat, report: EventImportReport) -> None:
    """One chunk of records as tickets, their audit trail and search documents, in one transaction."""
    with transaction.atomic():
        people: dict[str, str] = {}
        groups: set[str] = set()
        categories: set[str] = set()
        for record in records:
            people.update(record.people)
            groups |= record.groups
            if record.category:
                categories.add(record.category)
        person_ids = ensure_people(people)
        group_ids = ensure_groups(desk, groups)
        category_ids = _ensure_categories(desk, categories)
        numbers = _allocate_numbers(fmt.ticket_type, len(records))
        rows = []
        for record, number in zip(records, numbers, strict=True):
            f = record.fields
            rows.append([
                number, desk.pk, person_ids[f["requester"]],
                person_ids[f["assignee"]] if f["assignee"] else None,
                group_ids.get(f["group"]) or None,
                category_ids.get(record.category) if record.category else None,
                *(f[name] for name in _COPIED), "", "", 1, False,
            ])
        insert_rows(Ticket, _TICKET_COLUMNS, rows)
        ids = dict(Ticket.objects.filter(number__in=numbers).values_list("number", "pk"))
        events: list[list[Any]] = []
        documents: list[list[Any]] = []
        for record, number in zip(records, numbers, strict=True):
            pk = ids[number]
            f = record.fields
            events.append(["ticket", pk, f["opened_at"], Channel.IMPORT.value, "created", "", "",
                           f"Imported {fmt.label} record {record.key}"])
            events += [["ticket", pk, c.at, Channel.IMPORT.value, c.action, c.field, c.old, c.new]
                       for c in record.changes]
            documents.append([pk, "\n".join((number, f["title"], f["description"]))])
        insert_rows(AuditEvent, _AUDIT_COLUMNS, events)
        insert_rows(SearchDocument, ("ticket", "body"), documents)
        report.ticket_ids += list(ids.values())
        report.imported += len(ids)


def import_events(
    path: Path,
    fmt: EventFormat,
    desk: Desk,
    *,
    on_row: Callable[[], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_record: Callable[[int], None] | None = None,
    time_zone: str | None = None,
    actor: policy.Actor = policy.IMPORTER,
) -> EventImportReport:
    """Import the event log at `path` into `desk` (see the module docstring)."""
    if not policy.can(actor, policy.WORK, desk):
        raise NotAllowed(f"{actor} may not write tickets of the {desk.name} desk")
    tz = ZoneInfo(time_zone or settings.TIME_ZONE)
    report = EventImportReport()
    records = read_events(path, fmt, report, tz, on_row)
    report.records = len(records)
    if on_total:
        on_total(len(records))
    prefix = f"{fmt.name}:"
    done = set(Ticket.objects.filter(external_ref__startswith=prefix).values_list("external_ref", flat=True))
    reader = _Reader(fmt, tz)
    chunk: list[Record] = []
    for key, events in records.items():
        if f"{prefix}{key}"[:100] in done:
            report.skipped += 1
            if on_record:
                on_record(1)
            continue
        try:
            chunk.append(build_record(fmt, key, events, reader))
        except _RowError as exc:
            latest = max(events, key=lambda e: e.order)
            report.rejected.append(RejectedRow(latest.row, exc.column, f"record {key}: {exc.reason}"))
            if on_record:
                on_record(1)
            continue
        if len(chunk) >= CHUNK:
            _write(chunk, desk, fmt, report)
            if on_record:
                on_record(len(chunk))
            chunk = []
    if chunk:
        _write(chunk, desk, fmt, report)
        if on_record:
            on_record(len(chunk))
    report.rejected.sort(key=lambda r: r.row)
    refresh_statistics(Ticket, AuditEvent)
    return report


def iter_rejected(report: EventImportReport) -> Iterator[str]:
    for rejected in report.rejected:
        where = f" {rejected.column}:" if rejected.column else ""
        yield f"row {rejected.row}:{where} {rejected.reason}"

