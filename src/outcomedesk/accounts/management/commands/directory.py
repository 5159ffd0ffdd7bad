"""`outcomedesk directory sync [--dry-run]`: apply the LDAP directory to the accounts now."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.accounts.ldap import LdapConfig, LdapError, sync_directory


class Command(BaseCommand):
    help = "Directory (LDAP / Active Directory) commands: `sync` creates, updates and disables accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sync = actions.add_parser("sync", help="Read every person of the directory and apply them to the accounts; "
                                               "disable the LDAP accounts of people no longer in it")
        sync.add_argument("--dry-run", action="store_true", help="Say what would change, change nothing")
        sync.add_argument("--progress-seconds", type=float, default=5.0,
                          help="Seconds between progress lines (default 5)")

    def handle(self, *args: Any, **options: Any) -> None:
        config = getattr(settings, "OUTCOMEDESK_LDAP", None)
        if not isinstance(config, LdapConfig):
            raise CommandError("LDAP is not configured: set OUTCOMEDESK_LDAP_URL and OUTCOMEDESK_LDAP_USER_SEARCH_BASE")

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"directory sync: {done}/{total} people applied")
            self.stdout.flush()

        self.stdout.write(f"directory sync: reading {config.url} under {config.user_search_base}"
                          + (" (dry run: nothing is written)" if options["dry_run"] else ""))
        self.stdout.flush()
        try:
            report = sync_directory(config, dry_run=options["dry_run"], progress=progress,
                                    progress_every=options["progress_seconds"])
        except LdapError as exc:
            raise CommandError(f"directory sync failed: {exc}") from None
        for failure in report.failed:
            self.stderr.write(f"directory sync: skipped {failure}")
        self.stdout.write(f"directory sync: {report.summary()}")
        if report.failed:
            sys.exit(1)
