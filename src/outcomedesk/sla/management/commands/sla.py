"""`outcomedesk sla ...`: the engine's deadline maths, calendars in and out, and the bulk jobs (recompute after a
calendar fix, repair by replaying history, a sweep by hand, a ticket's targets explained)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput
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
    help = "sla deadline|calendar|recompute|repair|sweep|explain (see --help of each)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deadline = sub.add_parser("deadline", help="When N business minutes from START are up")
        deadline.add_argument("--calendar", required=True, type=Path)
        deadline.add_argument("--start", required=True)
        deadline.add_argument("--business-minutes", required=True, type=int)
        deadline.add_argument("--pause", action="append", default=[], metavar="ISO/ISO")
        deadline.add_argument("--json", action="store_true")
        cal = sub.add_parser("calendar", help="Import a calendar from JSON, or export one")
        cal.add_argument("verb", choices=["import", "export", "list"])
        cal.add_argument("--name", help="The calendar's name")
        cal.add_argument("--file", type=Path, help="JSON file to import (export writes to stdout)")
        recompute = sub.add_parser("recompute", help="Recompute running targets' deadlines (after a calendar fix)")
        recompute.add_argument("--calendar", dest="calendar_name", help="Only the targets of policies on it")
        recompute.add_argument("--policy", help="Only the targets of this policy")
        repair = sub.add_parser("repair", help="Replay tickets' history to recompute all their targets")
        repair.add_argument("--policy", help="The tickets with targets of this policy")
        repair.add_argument("--ticket", action="append", default=[], help="A ticket number (repeatable)")
        repair.add_argument("--all", action="store_true", help="Every ticket")
        sub.add_parser("sweep", help="Run one escalation sweep now (beat runs it every minute)")
        explain = sub.add_parser("explain", help="A ticket's targets, their timeline and why each is due when")
        explain.add_argument("number")
        explain.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action != "deadline":
            try:
                getattr(self, f"_{action}")(options)
            except InvalidInput as exc:
                raise CommandError("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from exc
            return
        path: Path = options["calendar"]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"--calendar: {path}: {exc.strerror}") from exc
        except UnicodeDecodeError:
            raise CommandError(f"--calendar: {path} is not UTF-8; save it as UTF-8 and try again") from None
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

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"\r{done:,}/{total:,} ({100 * done // max(total, 1)} %)", ending="")
        if done >= total:
            self.stderr.write("")

    def _calendar(self, options: dict[str, Any]) -> None:
        from outcomedesk.sla import services
        from outcomedesk.sla.models import BusinessCalendar

        verb, name = options["verb"], options["name"]
        if verb == "list":
            for row in BusinessCalendar.objects.all():
                self.stdout.write(f"{row.name}\t{row.definition.get('timezone')}")
            return
        if not name:
            raise CommandError("--name: say which calendar")
        existing = BusinessCalendar.objects.filter(name=name).first()
        if verb == "export":
            if existing is None:
                raise CommandError(f"--name: no calendar {name!r}")
            self.stdout.write(json.dumps(existing.definition, indent=2))
            return
        path = options["file"]
        if path is None:
            raise CommandError("--file: give the JSON file to import")
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"--file: {path}: {exc.strerror}") from exc
        except UnicodeDecodeError:
            raise CommandError(f"--file: {path} is not UTF-8; save it as UTF-8 and try again") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--file: {path} is not JSON ({exc.msg}, line {exc.lineno})") from exc
        row = services.save_calendar(policy.OPERATOR, name, data, calendar=existing)
        self.stdout.write(f"{'replaced' if existing else 'created'} calendar {row.name}")
        if existing:
            count = services.recompute_active(calendar=row, progress=self._progress)
            self.stdout.write(f"recomputed {count:,} running targets")

    def _recompute(self, options: dict[str, Any]) -> None:
        from outcomedesk.sla import services
        from outcomedesk.sla.models import BusinessCalendar, SlaPolicy

        calendar = policy = None
        if options["calendar_name"]:
            calendar = BusinessCalendar.objects.filter(name=options["calendar_name"]).first()
            if calendar is None:
                raise CommandError(f"--calendar: no calendar {options['calendar_name']!r}")
        if options["policy"]:
            policy = SlaPolicy.objects.filter(name=options["policy"]).first()
            if policy is None:
                raise CommandError(f"--policy: no policy {options['policy']!r}")
        count = services.recompute_active(policy=policy, calendar=calendar, progress=self._progress)
        self.stdout.write(f"recomputed {count:,} running targets")

    def _repair(self, options: dict[str, Any]) -> None:
        from outcomedesk.sla import services
        from outcomedesk.sla.models import SlaPolicy
        from outcomedesk.tickets.models import Ticket

        ids: Any
        if options["policy"]:
            policy = SlaPolicy.objects.filter(name=options["policy"]).first()
            if policy is None:
                raise CommandError(f"--policy: no policy {options['policy']!r}")
            ids = list(services.tickets_of_policy(policy))
        elif options["ticket"]:
            numbers = [n.upper() for n in options["ticket"]]
            found = dict(Ticket.objects.filter(number__in=numbers).values_list("number", "pk"))
            missing = [n for n in numbers if n not in found]
            if missing:
                raise CommandError(f"--ticket: no ticket {', '.join(missing)}")
            ids = [found[n] for n in numbers]
        elif options["all"]:
            ids = list(Ticket.objects.order_by("pk").values_list("pk", flat=True))
        else:
            raise CommandError("say what to repair: --policy NAME, --ticket NUMBER or --all")
        count = services.repair(ids, progress=self._progress, total=len(ids))
        self.stdout.write(f"replayed {count:,} tickets")

    def _sweep(self, options: dict[str, Any]) -> None:
        from outcomedesk.sla import services

        result = services.sweep()
        sent = services.deliver_escalations()
        self.stdout.write(f"checked {result.checked:,} targets, fired {len(result.fired):,} escalations, "
                          f"notified {sent:,}")

    def _explain(self, options: dict[str, Any]) -> None:
        from outcomedesk.sla import services
        from outcomedesk.tickets.models import Ticket

        ticket = Ticket.objects.filter(number=options["number"].upper()).first()
        if ticket is None:
            raise CommandError(f"number: no ticket {options['number']!r}")
        items = services.timeline(ticket, clock.now())
        if options["json"]:
            self.stdout.write(json.dumps([
                {**item, "deadline": item["deadline"].isoformat() if item["deadline"] else None,
                 "intervals": [[a.isoformat(), b.isoformat(), kind] for a, b, kind in item["intervals"]]}
                for item in items], indent=2))
            return
        if not items:
            self.stdout.write(f"{ticket.number} has no SLA targets (no policy matches it)")
        for item in items:
            self.stdout.write(f"{item['metric']} #{item['cycle']}: {item['state']}")
            for line in item["explanation"]:
                self.stdout.write(f"  {line}")
            for begin, end, kind in item["intervals"]:
                self.stdout.write(f"  {kind:9} {begin:%Y-%m-%d %H:%M} -> {end:%Y-%m-%d %H:%M} UTC")
