"""Import tickets from CSV or JSON Lines through the ticket services, row by row.

Each row becomes a ticket opened at its `opened_at` (replayed with `clock.at`), optionally resolved at its
`resolved_at`. A row that fails is reported with its number and the reason; the others are imported; a
row whose `external_ref` was imported before is skipped, so a re-run changes nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from outcomedesk.accounts.models import Desk, User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.errors import AlreadyImported, InvalidInput, ServiceError
from outcomedesk.core.models import Channel
from outcomedesk.core.textfiles import NotUtf8, require_utf8
from outcomedesk.tickets import notifications, services
from outcomedesk.tickets.models import Category, State, Ticket

REQUIRED = ("title", "desk", "requester")
KNOWN = (*REQUIRED, "description", "type", "category", "service", "impact", "urgency", "channel", "tags",
         "opened_at", "resolved_at", "resolution_notes", "external_ref")


class ImportFileError(Exception):
    """The file cannot be read as the named format (not a row problem)."""


@dataclass
class Rejected:
    row: int
    field: str | None
    reason: str


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) pairs of a .csv (header line) or .jsonl file; row numbers count from the header=1."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".jsonl", ".ndjson"):
        try:
            require_utf8(path)
        except NotUtf8 as exc:
            raise ImportFileError(str(exc)) from None
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ImportFileError(f"{path}: missing column(s) {', '.join(missing)}; found {reader.fieldnames}")
            for number, row in enumerate(reader, start=2):
                yield number, row
    elif suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, {"__error__": f"not JSON: {exc.msg}"}
                    continue
                yield number, row if isinstance(row, dict) else {"__error__": "not a JSON object"}
    else:
        raise ImportFileError(f"{path}: use a .csv or .jsonl file, not {suffix or 'no extension'}")


def _when(row: dict[str, Any], name: str) -> datetime | None:
    raw = str(row.get(name) or "").strip()
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        raise InvalidInput({name: f"{raw!r} is not an ISO 8601 date-time"})
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _lookup_user(value: str) -> User | None:
    value = value.strip()
    return User.objects.filter(Q(username=value) | Q(email__iexact=value), is_active=True).first() if value else None


def import_row(actor: User, row: dict[str, Any]) -> Ticket:
    """One row through open_ticket (and change_state when it has a resolution)."""
    if "__error__" in row:
        raise InvalidInput({"row": row["__error__"]})
    errors: dict[str, str] = {}
    desk = Desk.objects.filter(slug=str(row.get("desk") or "").strip()).first()
    if desk is None:
        errors["desk"] = f"no desk {row.get('desk')!r}"
    requester = _lookup_user(str(row.get("requester") or ""))
    if requester is None:
        errors["requester"] = f"no active user {row.get('requester')!r}"
    category = service = None
    if desk is not None and row.get("category"):
        category = Category.objects.filter(desk=desk, name__iexact=str(row["category"]).strip()).first()
        if category is None:
            errors["category"] = f"no category {row['category']!r} in the {desk.name} desk"
    if row.get("service"):
        service = BusinessService.objects.filter(name__iexact=str(row["service"]).strip()).first()
        if service is None:
            errors["service"] = f"no business service {row['service']!r}"
    opened_at = _when(row, "opened_at") or clock.now()
    resolved_at = _when(row, "resolved_at")
    if resolved_at and resolved_at < opened_at:
        errors["resolved_at"] = "is before opened_at"
    if errors:
        raise InvalidInput(errors)
    assert desk is not None and requester is not None
    tags = row.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in tags.replace(";", ",").split(",") if t.strip()]
    with clock.at(opened_at):
        ticket = services.open_ticket(
            actor, desk=desk, title=str(row.get("title") or ""), description=str(row.get("description") or ""),
            type=str(row.get("type") or "incident"), requester=requester.pk,
            category=category.pk if category else None, service=service.pk if service else None,
            impact=row.get("impact") or None, urgency=row.get("urgency") or None,
            channel=str(row.get("channel") or Channel.IMPORT), tags=tags,
            external_ref=str(row.get("external_ref") or ""),
        )
    if resolved_at:
        with clock.at(resolved_at):
            ticket = services.change_state(
                actor, ticket, State.RESOLVED, channel=Channel.IMPORT,
                resolution_notes=str(row.get("resolution_notes") or "Resolved before import"),
            )
    return ticket


def import_tickets(
    path: Path, actor: User, *, on_row: Callable[[], None] | None = None
) -> ImportReport:
    """Import every row of `path`; bad rows are rejected with their reason, the rest imported."""
    report = ImportReport()
    with notifications.muted():
        for number, row in read_rows(path):
            ref = str(row.get("external_ref") or "").strip()
            existing = Ticket.objects.filter(external_ref=ref).values_list("number", flat=True).first() if ref else None
            if existing:
                report.skipped.append((number, existing))
            else:
                try:
                    report.imported.append(import_row(actor, row).number)
                except AlreadyImported as exc:  # another import of the same row won the race
                    report.skipped.append((number, exc.number))
                except ServiceError as exc:
                    for item in exc.as_dicts():
                        report.rejected.append(Rejected(number, item["field"], str(item["message"])))
            if on_row:
                on_row()
    return report
