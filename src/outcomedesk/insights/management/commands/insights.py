"""`outcomedesk insights report --from DATE --to DATE [--desk D] [--service S] ... --format json|csv|table`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.core.errors import InvalidInput
from outcomedesk.insights import periods, report
from outcomedesk.insights.scope import DIMENSIONS, resolve_scope


class Command(BaseCommand):
    help = "Service figures of METRICS.md: `insights report --from 2026-10-01 --to 2026-10-31 --format table`"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rep = sub.add_parser("report", help="The figures of a period beside the previous period")
        rep.add_argument("--from", dest="first", required=True,
                         help="First day, YYYY-MM-DD (or a month YYYY-MM without --to)")
        rep.add_argument("--to", dest="last", default="", help="Last day, included, YYYY-MM-DD")
        for name in DIMENSIONS:
            rep.add_argument(f"--{name}", default=None, help=f"Only this {name} (slug, name or id)")
        rep.add_argument("--by", choices=sorted(DIMENSIONS), default=None, help="Break the figures down")
        rep.add_argument("--format", choices=report.FORMATS, default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = periods.between(options["first"], options["last"], first_name="--from", last_name="--to")
            scope = resolve_scope(None, **{name: options[name] for name in DIMENSIONS})
        except InvalidInput as exc:
            raise CommandError("; ".join(f"{k if k.startswith('--') else '--' + k}: {v}"
                                         for k, v in exc.errors.items())) from exc
        result = report.build(scope, period, options["by"])
        if options["format"] == "json":
            self.stdout.write(json.dumps(result, indent=2, default=str))
        elif options["format"] == "csv":
            self.stdout.write(report.to_csv(result), ending="")
        else:
            self.stdout.write(report.to_table(result), ending="")
