"""Create a person, optionally as agent or manager of desks."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from outcomedesk.accounts import services
from outcomedesk.accounts.models import Desk, DeskRole
from outcomedesk.core.errors import ServiceError


class Command(BaseCommand):
    help = "Create a user. Example: outcomedesk createuser bob --email bob@example.org --desk it:agent"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--name", default="", help="Display name")
        parser.add_argument("--password", help="Password (prefer --password-stdin or the prompt)")
        parser.add_argument("--password-stdin", action="store_true", help="Read the password from standard input")
        parser.add_argument("--no-password", action="store_true", help="No password login (token or SSO only)")
        parser.add_argument("--admin", action="store_true", help="Platform admin (Django admin)")
        parser.add_argument("--service-manager", action="store_true")
        parser.add_argument("--executive", action="store_true",
                            help="Sees the insights of every non-confidential desk")
        parser.add_argument("--desk", action="append", default=[], metavar="SLUG[:agent|manager]",
                            help="Make the user an agent (default) or manager of this desk; repeatable")

    def handle(self, *args: Any, **options: Any) -> None:
        memberships = []
        for spec in options["desk"]:
            slug, _, role = spec.partition(":")
            role = role or DeskRole.AGENT
            if role not in DeskRole.values:
                raise CommandError(f"--desk {spec}: role must be agent or manager")
            desk = Desk.objects.filter(slug=slug).first()
            if desk is None:
                raise CommandError(f"--desk {spec}: no desk with slug {slug!r}")
            memberships.append((desk, role))
        password: str | None
        if options["no_password"]:
            password = None
        elif options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        elif options["password"]:
            password = options["password"]
        else:
            password = getpass.getpass("Password: ")
        try:
            with transaction.atomic():
                user = services.create_user(
                    options["username"], email=options["email"], password=password, display_name=options["name"],
                    is_superuser=options["admin"], is_service_manager=options["service_manager"],
                    is_executive=options["executive"],
                )
                for desk, role in memberships:
                    services.add_to_desk(user, desk, role)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"created {user.username}")
