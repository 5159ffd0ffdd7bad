"""`outcomedesk import tickets FILE`: tickets from CSV or JSON Lines, with a report of rejected rows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from outcomedesk.accounts.models import User
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

    def handle(self, *args: Any, **options: Any) -> None:
        actor = User.objects.filter(username=options["actor"], is_active=True).first()
        if actor is None:
            raise CommandError(f"--as {options['actor']}: no active user with that name")
        path: Path = options["file"]
        try:
            total = sum(1 for _ in path.open(encoding="utf-8-sig")) - (1 if path.suffix.lower() == ".csv" else 0)
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
