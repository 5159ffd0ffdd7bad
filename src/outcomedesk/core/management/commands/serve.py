"""Serve Outcomedesk with waitress: the one-process deployment (SQLite, tasks in-process, periodic tasks by an
embedded Celery beat)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, current_app
from celery.beat import EmbeddedService, PersistentScheduler
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connections


class EmbeddedScheduler(PersistentScheduler):
    """Celery's own persistent scheduler, looking after the beat thread's database connections as a Celery worker
    does after each task: without a broker the due tasks run eagerly in the beat thread itself."""

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        close_old_connections()
        try:
            super().apply_entry(entry, producer=producer)
        finally:
            close_old_connections()

    def close(self) -> None:
        try:
            super().close()
        finally:
            connections.close_all()  # the beat thread's own connections, before the thread ends


# The forwarded headers waitress takes from a trusted proxy: the scheme (else https behind a TLS proxy looks like
# http and SECURE_SSL_REDIRECT redirects for ever), the client's address, and the host and port the client asked for.
PROXY_HEADERS = frozenset({"x-forwarded-proto", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port"})


def proxy_options(behind_proxy: bool, trusted_proxy: str) -> dict[str, Any]:
    """waitress's proxy settings. Behind a proxy (OUTCOMEDESK_BEHIND_PROXY) the X-Forwarded-* headers of requests
    from `trusted_proxy` (an address, or "*" for any peer) are applied: one proxy hop, its last entry of
    X-Forwarded-For becomes the client address. Otherwise waitress removes those headers, as it does with the ones
    of any other peer: a client cannot claim https or another address."""
    if not behind_proxy:
        return {"clear_untrusted_proxy_headers": True}
    return {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1, "trusted_proxy_headers": set(PROXY_HEADERS),
            "clear_untrusted_proxy_headers": True}


def start_embedded_beat(app: Celery | None = None, *, schedule_filename: str | None = None) -> Any:
    """Start Celery beat in a daemon thread of this process, with the app's beat schedule (CELERY_BEAT_SCHEDULE).

    Meant for the embedded default (task_always_eager, no broker): beat's apply_async then runs each due task in
    the beat thread. Returns the thread; `.stop()` ends it after the task it is running."""
    app = app or current_app._get_current_object()
    # As `celery beat` does: import every app's tasks module, else beat finds no task by its name and falls back
    # to send_task, which publishes to the (in-memory) broker even in eager mode, where nothing consumes it.
    app.loader.import_default_modules()
    filename = schedule_filename or app.conf.beat_schedule_filename
    Path(filename).parent.mkdir(parents=True, exist_ok=True)
    beat = EmbeddedService(app, thread=True, scheduler_cls=EmbeddedScheduler, schedule_filename=filename)
    beat.start()
    return beat


class Command(BaseCommand):
    help = "Run the web service (waitress). Use gunicorn/granian with outcomedesk.config.wsgi at scale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--migrate", action="store_true", help="Apply migrations first")
        parser.add_argument("--no-beat", action="store_true",
                            help="Don't run the periodic tasks (SLA sweep, closing resolved tickets) in this process")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.wsgi import get_wsgi_application
        from waitress import serve

        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        call_command("collectstatic", interactive=False, verbosity=0)
        beat = None
        if options["no_beat"]:
            self.stdout.write("Periodic tasks are off (--no-beat)")
        elif not current_app.conf.task_always_eager:
            # With a broker, `celery -A outcomedesk.config beat` runs them once for every server and worker.
            self.stdout.write("Periodic tasks: run `celery -A outcomedesk.config beat` next to the workers")
        else:
            beat = start_embedded_beat()
            self.stdout.write("Periodic tasks run in this process (--no-beat turns them off)")
        url = f"http://{options['host']}:{options['port']}/"
        proxy = proxy_options(settings.OUTCOMEDESK_BEHIND_PROXY, settings.OUTCOMEDESK_TRUSTED_PROXY)
        if settings.OUTCOMEDESK_BEHIND_PROXY:
            self.stdout.write(f"Behind a proxy: X-Forwarded-Proto/For/Host/Port trusted from {proxy['trusted_proxy']}")
        self.stdout.write(f"Outcomedesk is listening on {url} (Ctrl+C stops it)")
        try:
            serve(get_wsgi_application(), host=options["host"], port=options["port"], threads=options["threads"],
                  ident="outcomedesk", **proxy)
        finally:
            if beat is not None and beat.is_alive():
                beat.stop()
