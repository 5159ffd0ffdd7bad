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
        self.stdout.write(f"Outcomedesk is listening on {url} (Ctrl+C stops it)")
        try:
            serve(get_wsgi_application(), host=options["host"], port=options["port"], threads=options["threads"],
                  ident="outcomedesk")
        finally:
            if beat is not None and beat.is_alive():
                beat.stop()
