"""`outcomedesk sla deadline`: the engine's own deadline maths, for support and for checking."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.sla.calendar import CalendarError, calendar_from_json, explain_deadline


def _instant(text: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{where}: {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise CommandError(f"{where}: {text!r} needs a UTC offset, e.g. {text}+01:00")
    return value


class Command(BaseCommand):
    help = "sla deadline --calendar CAL.json --start ISO --business-minutes N [--pause A/B ...] [--json]"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deadline = sub.add_parser("deadline", help="When N business minutes from START are up")
        deadline.add_argument("--calendar", required=True, type=Path)
        deadline.add_argument("--start", required=True)
        deadline.add_argument("--business-minutes", required=True, type=int)
        deadline.add_argument("--pause", action="append", default=[], metavar="ISO/ISO")
        deadline.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["calendar"]
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise CommandError(f"--calendar: {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"--calendar: {path} is not JSON ({exc.msg}, line {exc.lineno})") from exc
        start = _instant(options["start"], "--start")
        pauses = []
        for i, raw in enumerate(options["pause"]):
            begin, sep, end = raw.partition("/")
            if not sep:
                raise CommandError(f"--pause {raw}: expects START/END")
            pauses.append((_instant(begin, f"--pause[{i}]"), _instant(end, f"--pause[{i}]")))
        try:
            calendar = calendar_from_json(data)
            deadline, lines = explain_deadline(
                calendar, start, timedelta(minutes=options["business_minutes"]), pauses
            )
        except CalendarError as exc:
            name = "--business-minutes" if exc.field == "duration" else exc.field
            raise CommandError(f"{name}: {exc.message}") from exc
        if options["json"]:
            self.stdout.write(json.dumps({"deadline": deadline.isoformat(), "explanation": lines}))
        else:
            self.stdout.write(deadline.isoformat())
