"""`manage.py demo`: seed the demo organisation and its ticket history into an empty database."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.demo import catalog
from outcomedesk.demo.seed import DemoAlreadySeeded, seed_demo


class Command(BaseCommand):
    help = "Create a demo organisation (4 desks, 11 services, ~50 people) and months of ticket history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed gives the same data")
        parser.add_argument("--tickets", type=int, default=5000, help="Number of tickets (default 5000)")
        parser.add_argument("--months", type=int, default=6, help="Months of history up to now (default 6)")
        parser.add_argument("--quiet", action="store_true", help="No progress bar")
        parser.add_argument("--if-empty", action="store_true",
                            help="If the demo is already there, say so and print the logins instead of failing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tickets"] < 0 or options["months"] < 1:
            raise CommandError("--tickets must be 0 or more and --months 1 or more")
        progress = not options["quiet"] and sys.stderr.isatty()
        try:
            summary = seed_demo(
                seed=options["seed"], tickets=options["tickets"], months=options["months"], progress=progress
            )
        except DemoAlreadySeeded as exc:
            if not options["if_empty"]:
                raise CommandError(f"{exc}.") from exc
            self.stdout.write("The demo data is already there.")
            self._print_logins(catalog.logins())
            return
        self.stdout.write(self.style.SUCCESS(
            f"Demo ready in {summary.seconds:.0f} s: {summary.desks} desks, {summary.services} services, "
            f"{summary.people} people, {summary.tickets} tickets ({summary.open_tickets} open)."
        ))
        self._print_logins(summary.logins)

    def _print_logins(self, logins: list[tuple[str, str, str]]) -> None:
        self.stdout.write("Sign in with:")
        width = max(len(username) for username, _, _ in logins)
        for username, password, role in logins:
            self.stdout.write(f"  {username.ljust(width)}  password: {password}   {role}")
