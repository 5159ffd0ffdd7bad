"""Real `celery -A outcomedesk.config worker` processes on the machine's Redis, for the tests that kill them.

They run the production settings (tests/settings.py would run tasks eagerly and keep e-mails in memory) on the
test database, which a test using them must commit to (`django_db(transaction=True)`), and write their e-mails
to files we count."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import quote

from celery import Celery
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # between the messages of Django's file-based e-mail backend


def database_url() -> str:
    """The test database (not the one the settings name) as a URL for the workers' DATABASE_URL."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    assert connection.vendor == "postgresql", connection.vendor
    login = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{login}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


class Workers:
    """Celery worker processes, each the leader of its own process group so that its pool dies with it.

    `key_prefix` puts every key of the broker (queues, the tasks under way) under a prefix of the test's own
    (OUTCOMEDESK_BROKER_KEY_PREFIX), so that nothing else on that Redis database is touched; `env` adds to the
    workers' environment."""

    def __init__(self, folder: Path, broker_url: str, *, key_prefix: str = "", **env: str) -> None:
        self.folder = folder
        self.mail_dir = folder / "mail"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OUTCOMEDESK_", "DJANGO_", "CELERY_", "DATABASE_URL"))}
        self.env.update(
            DJANGO_SETTINGS_MODULE="outcomedesk.config.settings",
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=broker_url,
            OUTCOMEDESK_DATA_DIR=str(folder / "data"),
            OUTCOMEDESK_SECRET_KEY=settings.SECRET_KEY,
            OUTCOMEDESK_TIME_ZONE=settings.TIME_ZONE,
            OUTCOMEDESK_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            OUTCOMEDESK_EMAIL_FILE_PATH=str(self.mail_dir),
            OUTCOMEDESK_LOG_LEVEL="INFO",
        )
        options: dict[str, Any] = {}
        if key_prefix:
            self.env["OUTCOMEDESK_BROKER_KEY_PREFIX"] = key_prefix
            options["global_keyprefix"] = key_prefix
        self.env.update(env)
        # The test's own way into the broker: a bare client app, leaving the project's app (eager) as it is.
        self.client = Celery("outcomedesk-test-client", broker=broker_url, set_as_current=False, fixups=[])
        self.client.conf.broker_transport_options = options

    def start(self, *names: str, concurrency: int = 2) -> None:
        """Start the workers `names` (in parallel) and wait until each answers a ping."""
        for name in names:
            log = (self.folder / f"{name}.log").open("wb")
            command = [str(Path(sys.executable).with_name("celery")), "-A", "outcomedesk.config", "worker",
                       f"--concurrency={concurrency}", "-n", f"{name}@%h", "--loglevel=INFO", "--without-gossip",
                       "--without-mingle"]
            self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
        waiting = set(names)
        deadline = time.monotonic() + 30
        while waiting:
            self.check_alive()
            assert time.monotonic() < deadline, f"{waiting} did not answer within 30 s\n" + "\n".join(
                self.log(name) for name in waiting)
            waiting -= {node.split("@")[0] for reply in self.client.control.ping(timeout=0.5) for node in reply}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the worker `name` and its pool processes (SIGKILL: nothing of it runs another instruction)."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(process.pid, sig)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name)
        self.client.close()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"worker {name} exited with {process.returncode}\n{self.log(name)}"

    def log(self, name: str, tail: int = 4000) -> str:
        path = self.folder / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-tail:] if tail else text

    def enqueue(self, task: str, times: int = 1, *, args: tuple[Any, ...] = ()) -> list[str]:
        """Send `task` `times` times; the ids of the messages sent."""
        return [self.client.send_task(task, args=args).id for _ in range(times)]

    def sent_mails(self) -> list[tuple[str, str]]:
        """(subject, to) of every e-mail the workers sent."""
        sent = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_bytes().split(MAIL_SEPARATOR):
                if chunk.strip():
                    message = message_from_bytes(chunk)
                    sent.append((" ".join(str(message["Subject"]).split()), str(message["To"])))
        return sent
