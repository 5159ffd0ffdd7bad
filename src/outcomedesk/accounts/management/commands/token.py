"""API tokens: create (shown once), list, revoke."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from outcomedesk.accounts import services
from outcomedesk.accounts.models import ApiToken
from outcomedesk.core import clock
from outcomedesk.core.errors import ServiceError


def _expiry(options: dict[str, Any]) -> datetime | None:
    """The moment --expires-in DAYS or --expires DATE names: DATE is the last day the token works (in the
    deployment's time zone, TIME_ZONE), so it expires at the midnight that ends it."""
    if options["expires_in"] is not None:
        if options["expires_in"] < 1:
            raise CommandError(f"--expires-in {options['expires_in']}: give a number of days, 1 or more")
        return clock.now() + timedelta(days=options["expires_in"])
    if options["expires"]:
        try:
            last_day = date.fromisoformat(options["expires"])
        except ValueError:
            raise CommandError(f"--expires {options['expires']!r}: give a date as YYYY-MM-DD") from None
        return timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time.min))
    return None


def _when(moment: datetime | None, empty: str) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else empty


class Command(BaseCommand):
    help = ("Manage API bearer tokens: token create USER [--name N] [--expires-in DAYS | --expires YYYY-MM-DD] | "
            "token list [USER] | token revoke PREFIX")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token; it is printed once")
        create.add_argument("username")
        create.add_argument("--name", default="cli")
        expiry = create.add_mutually_exclusive_group()
        expiry.add_argument("--expires-in", type=int, metavar="DAYS", help="The token works for this many days")
        expiry.add_argument("--expires", metavar="YYYY-MM-DD", help="The last day the token works")
        listing = sub.add_parser("list", help="List tokens with their expiry and last use")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            try:
                issued = services.create_token(options["username"], options["name"], expires_at=_expiry(options))
            except ServiceError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(issued.key)
            if issued.token.expires_at:
                self.stderr.write(f"expires {_when(issued.token.expires_at, '')}")
        elif action == "list":
            tokens = ApiToken.objects.select_related("user").order_by("created_at", "pk")
            if options["username"]:
                tokens = tokens.filter(user__username=options["username"])
            now = clock.now()
            rows = [("PREFIX", "USER", "NAME", "CREATED", "EXPIRES", "LAST USED", "STATE")]
            for t in tokens:
                state = t.state(now)
                if state == "revoked":
                    state = f"revoked {_when(t.revoked_at, '')}"
                rows.append((t.prefix, t.user.username, t.name, _when(t.created_at, ""), _when(t.expires_at, "never"),
                             _when(t.last_used_at, "never"), state))
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for row in rows:
                self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        elif action == "revoke":
            if not services.revoke_token(options["prefix"]):
                raise CommandError(f"no active token with prefix {options['prefix']!r}")
            self.stdout.write(f"revoked {options['prefix']}")
