"""Rebuild the full-text search documents and index (after a bulk load or a restore)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from tqdm import tqdm

from outcomedesk.tickets import search
from outcomedesk.tickets.models import Ticket


class Command(BaseCommand):
    help = "Rebuild the search documents of all tickets, then the full-text index"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=2000)
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(Ticket.objects.order_by("pk").values_list("pk", flat=True))
        batch = options["batch"]
        bar = tqdm(total=len(ids), unit="ticket", disable=options["quiet"] or not sys.stderr.isatty())
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            with transaction.atomic():
                search.refresh_documents(chunk)
            bar.update(len(chunk))
        bar.close()
        self.stdout.write(f"indexed {len(ids)} tickets")
