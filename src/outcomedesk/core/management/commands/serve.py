"""Serve Outcomedesk with waitress: the one-process deployment (SQLite, tasks in-process)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the web service (waitress). Use gunicorn/granian with outcomedesk.config.wsgi at scale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--migrate", action="store_true", help="Apply migrations first")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.wsgi import get_wsgi_application
        from waitress import serve

        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        call_command("collectstatic", interactive=False, verbosity=0)
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(f"Outcomedesk is listening on {url} (Ctrl+C stops it)")
        serve(get_wsgi_application(), host=options["host"], port=options["port"], threads=options["threads"],
              ident="outcomedesk")
