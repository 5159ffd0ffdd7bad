"""Celery's own worker and beat inside this process: the background work of the one-process deployment
(`outcomedesk serve` without CELERY_BROKER_URL).

The broker is then kombu's filesystem transport, a folder of message files in the data folder (settings,
"Background work"): a request, the CLI or a management command of this machine enqueues a task by writing a
file, and the worker threads started here run it, after the response and across restarts. At scale the same
tasks run on `celery -A outcomedesk.config worker` and `beat` processes on Redis, and nothing here starts."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery, current_app
from celery.beat import EmbeddedService
from celery.exceptions import ImproperlyConfigured
from celery.platforms import EX_OK
from celery.worker import WorkController
from celery.worker import state as worker_state

# The transport of the embedded broker (settings: without CELERY_BROKER_URL).
EMBEDDED_TRANSPORT = "filesystem"


def _app(app: Celery | None) -> Celery:
    return app or current_app._get_current_object()


def uses_embedded_broker(app: Celery | None = None) -> bool:
    """Whether tasks go to the queue folder of this machine (no external broker): `serve` then runs them."""
    return str(_app(app).conf.broker_url).split(":", 1)[0] == EMBEDDED_TRANSPORT


def queue_names(app: Celery | None = None) -> list[str]:
    """Every queue a task can be sent to: the default one and those of the routes (OUTCOMEDESK_ASSIST_QUEUE)."""
    conf = _app(app).conf
    names = {conf.task_default_queue}
    routes = conf.task_routes or {}
    if isinstance(routes, dict):
        names |= {route["queue"] for route in routes.values() if isinstance(route, dict) and route.get("queue")}
    return sorted(names)


class EmbeddedWorker(WorkController):
    """Celery's worker, run by `start` in a daemon thread of this process (as celery.contrib.testing.worker runs
    one), with a pool of threads. Celery's Django fix-up (installed on the app whenever DJANGO_SETTINGS_MODULE is
    set, as the `outcomedesk` command does) closes each pool thread's database connections before and after every
    task, as in a `celery worker`."""

    thread: threading.Thread | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        """True once the worker consumes its queues; False if it did not within `timeout` seconds or died."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if time.monotonic() >= deadline or not self.is_alive():
                return False
        return True

    def is_alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop_and_join(self, timeout: float = 60) -> bool:
        """A warm shutdown, as `celery worker` does on SIGTERM: no new task is taken, those running finish, those
        fetched but not started go back to the queue folder. True when the thread ended within `timeout`."""
        if self.thread is None:
            return True
        # The worker thread checks this flag between two polls of the broker and stops itself (Celery's signal
        # handlers set the same flag); stopping it from here would close its connection under its feet.
        worker_state.should_stop = EX_OK
        try:
            self.thread.join(timeout)
        finally:
            worker_state.should_stop = None
        return not self.thread.is_alive()


def start_embedded_worker(app: Celery | None = None, *, threads: int = 2, ready_timeout: float = 60
                          ) -> EmbeddedWorker:
    """Start a Celery worker consuming every queue (`queue_names`) in a daemon thread of this process, with
    `threads` pool threads; return it once it consumes. `.stop_and_join()` ends it."""
    app = _app(app)
    if threads < 1:
        raise ImproperlyConfigured(f"the embedded worker needs at least one thread, not {threads}")
    worker = EmbeddedWorker(
        app=app,
        hostname=f"serve-{os.getpid()}@{socket.gethostname()}",
        pool="threads",
        concurrency=threads,
        queues=queue_names(app),
        # One message per thread taken from the folder at a time: the others stay on disk for a restart.
        prefetch_multiplier=1,
        # Nothing to talk to: no other worker to synchronise with, no monitor listening for events.
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="INFO",  # what reaches the log is decided by Django's LOGGING (OUTCOMEDESK_LOG_LEVEL)
    )
    worker.thread = threading.Thread(target=worker.start, name="outcomedesk-worker", daemon=True)
    worker.thread.start()
    if not worker.wait_ready(ready_timeout):
        worker.stop_and_join(timeout=10)
        raise RuntimeError(f"the embedded Celery worker did not start within {ready_timeout} s")
    return worker


def start_embedded_beat(app: Celery | None = None, *, schedule_filename: str | None = None) -> Any:
    """Start Celery beat in a daemon thread of this process, with the app's beat schedule (CELERY_BEAT_SCHEDULE).

    Beat publishes each due task to the broker, like `celery beat`: a worker runs it, never the beat thread.
    Returns the thread; `.stop()` ends it."""
    app = _app(app)
    if app.conf.task_always_eager:
        raise ImproperlyConfigured("beat would run the tasks in its own thread with task_always_eager")
    # As `celery beat` does: import every app's tasks module, so that each entry is sent with its task's options.
    app.loader.import_default_modules()
    filename = schedule_filename or app.conf.beat_schedule_filename
    Path(filename).parent.mkdir(parents=True, exist_ok=True)
    beat = EmbeddedService(app, thread=True, schedule_filename=filename)
    beat.start()
    return beat
