"""`outcomedesk import tickets FILE`: tickets from CSV or JSON Lines; `outcomedesk import events FILE --format F`:
another tool's event log as tickets with their history. Both report rejected rows and exit 1 when there are."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from outcomedesk.accounts.models import Desk, User
from outcomedesk.core.textfiles import NotUtf8, require_utf8
from outcomedesk.tickets.eventlog import EventLogError, import_events, iter_rejected
from outcomedesk.tickets.eventlog_formats import FORMATS
from outcomedesk.tickets.importer import KNOWN, ImportFileError, import_tickets


class Command(BaseCommand):
    help = "Import data. `import tickets FILE.csv|FILE.jsonl --as AGENT` (columns: " + ", ".join(KNOWN) + ")"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="kind", required=True)
        tickets = sub.add_parser("tickets", help="Tickets from CSV or JSON Lines")
        tickets.add_argument("file", type=Path)
        tickets.add_argument("--as", dest="actor", required=True,
                             help="Username of an agent of the target desks; the import acts as them")
        tickets.add_argument("--quiet", action="store_true")
        events = sub.add_parser("events", help="Another tool's ticket event log, one ticket per record")
        events.add_argument("file", type=Path)
        events.add_argument("--format", required=True, choices=sorted(FORMATS), help="The tool the log comes from")
        events.add_argument("--desk", default="it", help="Slug of the desk the tickets belong to (default: it)")
        events.add_argument("--time-zone", default=None,
                            help="Zone of times without an offset (default: the deployment's OUTCOMEDESK_TIME_ZONE)")
        events.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["kind"] == "events":
            self.import_events(options)
            return
        actor = User.objects.filter(username=options["actor"], is_active=True).first()
        if actor is None:
            raise CommandError(f"--as {options['actor']}: no active user with that name")
        path: Path = options["file"]
        try:
            require_utf8(path)
            total = sum(1 for _ in path.open(encoding="utf-8-sig")) - (1 if path.suffix.lower() == ".csv" else 0)
        except NotUtf8 as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        bar = tqdm(total=max(total, 0), unit="row", disable=options["quiet"] or not sys.stderr.isatty())
        try:
            report = import_tickets(path, actor, on_row=lambda: bar.update(1))
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(f"imported {len(report.imported)}, skipped {len(report.skipped)} already imported, "
                          f"rejected {len(report.rejected)}")
        for rejected in report.rejected:
            where = f" {rejected.field}:" if rejected.field else ""
            self.stderr.write(f"row {rejected.row}:{where} {rejected.reason}")
        if report.rejected:
            sys.exit(1)

    def import_events(self, options: dict[str, Any]) -> None:
        desk = Desk.objects.filter(slug=options["desk"]).first()
        if desk is None:
            raise CommandError(f"--desk {options['desk']}: no desk with that slug")
        if options["time_zone"]:
            try:
                ZoneInfo(options["time_zone"])
            except (ZoneInfoNotFoundError, ValueError):
                raise CommandError(f"--time-zone {options['time_zone']}: unknown time zone") from None
        path: Path = options["file"]
        fmt = FORMATS[options["format"]]
        quiet = options["quiet"] or not sys.stderr.isatty()
        try:
            rows = max(0, sum(1 for _ in path.open("rb")) - 1)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        reading = tqdm(total=rows, unit="event", desc="reading", disable=quiet)
        bars = [reading]

        def on_total(records: int) -> None:
            reading.close()
            bars.append(tqdm(total=records, unit="record", desc="writing", disable=quiet))

        try:
            report = import_events(path, fmt, desk, on_row=lambda: reading.update(1), on_total=on_total,
                                   on_record=lambda n: bars[-1].update(n), time_zone=options["time_zone"])
        except EventLogError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars:
                bar.close()
        self.stdout.write(
            f"{report.events} events of {report.records} records: imported {report.imported} tickets, "
            f"skipped {report.skipped} imported before, rejected {len(report.rejected)} rows"
        )
        for line in iter_rejected(report):
            self.stderr.write(line)
        if report.rejected:
            sys.exit(1)
