"""Serve Outcomedesk with waitress: the one-process deployment (SQLite; without a broker, background tasks on an
embedded Celery worker and periodic tasks by an embedded Celery beat, both in threads of this process)."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from outcomedesk.core.embedded_celery import start_embedded_beat, start_embedded_worker, uses_embedded_broker

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


class Command(BaseCommand):
    help = "Run the web service (waitress). Use gunicorn/granian with outcomedesk.config.wsgi at scale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--migrate", action="store_true", help="Apply migrations first")
        parser.add_argument("--no-beat", action="store_true",
                            help="Don't schedule the periodic tasks (SLA sweep, closing resolved tickets) in this "
                                 "process")
        parser.add_argument("--no-worker", action="store_true",
                            help="Don't run the background tasks (e-mail, AI triage) in this process: they wait in "
                                 "the queue folder for a serve that runs them")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.wsgi import get_wsgi_application
        from waitress import serve

        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        call_command("collectstatic", interactive=False, verbosity=0)
        embedded = uses_embedded_broker()
        worker = beat = None
        if options["no_worker"]:
            self.stdout.write("Background tasks are off (--no-worker)"
                              + (f": they wait in {settings.OUTCOMEDESK_QUEUE_DIR}" if embedded else ""))
        elif not embedded:
            # With a broker, `celery -A outcomedesk.config worker` processes run them, on any machine.
            self.stdout.write("Background tasks: run `celery -A outcomedesk.config worker` next to the servers")
        else:
            worker = start_embedded_worker(threads=settings.OUTCOMEDESK_WORKER_THREADS)
            self.stdout.write(f"Background tasks run in this process ({settings.OUTCOMEDESK_WORKER_THREADS} "
                              f"threads), queued in {settings.OUTCOMEDESK_QUEUE_DIR} (--no-worker turns them off)")
        if options["no_beat"]:
            self.stdout.write("Periodic tasks are off (--no-beat)")
        elif not embedded:
            # With a broker, `celery -A outcomedesk.config beat` runs them once for every server and worker.
            self.stdout.write("Periodic tasks: run `celery -A outcomedesk.config beat` next to the workers")
        else:
            beat = start_embedded_beat()
            self.stdout.write("Periodic tasks are scheduled in this process (--no-beat turns them off)")
        url = f"http://{options['host']}:{options['port']}/"
        proxy = proxy_options(settings.OUTCOMEDESK_BEHIND_PROXY, settings.OUTCOMEDESK_TRUSTED_PROXY)
        if settings.OUTCOMEDESK_BEHIND_PROXY:
            self.stdout.write(f"Behind a proxy: X-Forwarded-Proto/For/Host/Port trusted from {proxy['trusted_proxy']}")
        self.stdout.write(f"Outcomedesk is listening on {url} (Ctrl+C stops it)")
        # SIGTERM (systemd, docker stop) stops as Ctrl+C does: waitress finishes its requests, then the worker its
        # tasks; the tasks it had taken but not started go back to the queue folder. SIGINT is set too: a process
        # started in the background by a script inherits it ignored, and would not stop on Ctrl+C or `kill -INT`.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        previous_int = signal.signal(signal.SIGINT, _interrupt)
        try:
            serve(get_wsgi_application(), host=options["host"], port=options["port"], threads=options["threads"],
                  ident="outcomedesk", **proxy)
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
            if beat is not None and beat.is_alive():
                beat.stop()
            if worker is not None:
                self.stdout.write("Stopping the background tasks: waiting for those running to finish")
                if worker.stop_and_join():
                    self.stdout.write("Background tasks stopped")
                else:
                    self.stderr.write("The background tasks did not stop within 60 s")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
