"""API tokens: create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.accounts import services
from outcomedesk.accounts.models import ApiToken
from outcomedesk.core.errors import ServiceError


class Command(BaseCommand):
    help = "Manage API bearer tokens: token create USER [--name N] | token list [USER] | token revoke PREFIX"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token; it is printed once")
        create.add_argument("username")
        create.add_argument("--name", default="cli")
        listing = sub.add_parser("list", help="List tokens")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            try:
                issued = services.create_token(options["username"], options["name"])
            except ServiceError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(issued.key)
        elif action == "list":
            tokens = ApiToken.objects.select_related("user").order_by("created_at")
            if options["username"]:
                tokens = tokens.filter(user__username=options["username"])
            for t in tokens:
                state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                self.stdout.write(f"{t.prefix}  {t.user.username}  {t.name}  {t.created_at:%Y-%m-%d}  {state}")
        elif action == "revoke":
            if not services.revoke_token(options["prefix"]):
                raise CommandError(f"no active token with prefix {options['prefix']!r}")
            self.stdout.write(f"revoked {options['prefix']}")
