"""`outcomedesk intake email [--desk SLUG] < message.eml`: one message from an MTA's pipe (Postfix's `pipe`,
Exim's `pipe` transport, procmail).

Exit status, as an MTA reads it: 0 when the message is kept, whatever became of it (a ticket, a reply, ignored,
rejected, quarantined, or the same message delivered before); 75 (EX_TEMPFAIL: the MTA keeps it and tries again)
when nothing could be stored; 64 (EX_USAGE) when the command is wrong (no such desk, no mailbox for the
recipient), which retrying does not mend.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from outcomedesk.accounts.models import Desk
from outcomedesk.intake.email.services import receive
from outcomedesk.intake.models import Mailbox

EX_USAGE, EX_TEMPFAIL = 64, 75


class Command(BaseCommand):
    help = "Intake commands: `email` reads one RFC 5322 message from standard input."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        mail = actions.add_parser("email", help="Read one message from standard input into its desk")
        mail.add_argument("--desk", help="The desk's slug; without it, the desk of the mailbox the message is to")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read()
        try:
            desk, mailbox = self._desk(options.get("desk"), raw)
            outcome = receive(raw, desk=desk, mailbox=mailbox)
        except (DatabaseError, OSError) as exc:
            self.stderr.write(f"intake email: nothing stored, try again later ({type(exc).__name__}: {exc})")
            sys.exit(EX_TEMPFAIL)
        row = outcome.message
        what = "already received" if outcome.duplicate else row.get_status_display().lower()
        detail = f" ({row.reason})" if row.reason else ""
        ticket = f" {row.ticket.number}" if row.ticket_id and row.ticket else ""
        self.stdout.write(f"intake email: message {row.pk} <{row.message_id}>: {what}{ticket}{detail}")

    def _desk(self, slug: str | None, raw: bytes) -> tuple[Desk, Mailbox | None]:
        """The desk (and mailbox) of the message: `--desk`, else the mailbox one of its recipients names."""
        if slug:
            desk = Desk.objects.filter(slug=slug, is_active=True).first()
            if desk is None:
                self.stderr.write(f"intake email: no active desk {slug!r}")
                sys.exit(EX_USAGE)
            return desk, None
        from outcomedesk.intake.email.message import MalformedMessage, parse_message

        try:
            parsed = parse_message(raw)
        except MalformedMessage as exc:
            self.stderr.write(f"intake email: give --desk: the message names no recipient we can read ({exc.reason})")
            sys.exit(EX_USAGE)
        recipients = [a.lower() for a in (*parsed.to, *parsed.cc, *parsed.headers_named("Delivered-To"))]
        mailbox = Mailbox.objects.filter(address__in=recipients, is_active=True).select_related("desk").first()
        if mailbox is None:
            self.stderr.write(f"intake email: no mailbox for {', '.join(recipients) or 'the recipients'}; give --desk")
            sys.exit(EX_USAGE)
        return mailbox.desk, mailbox
