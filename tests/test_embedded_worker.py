"""Side effects never run inside the request: the real `outcomedesk serve` (production settings, no broker, a
temporary data folder and SQLite) queues them in its data folder and runs them on its embedded Celery worker
thread, including tasks queued by other processes of the machine and tasks queued while it was stopped. With
Redis, a real `celery worker` process runs the same tasks.

Everything runs as subprocesses with the production settings: the test settings run tasks eagerly."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from tests.net import free_port, redis_is_up

ROOT = Path(__file__).resolve().parent.parent
MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # between the messages of Django's file-based e-mail backend
REDIS_URL = "redis://127.0.0.1:6379/9"  # a database of its own, emptied before and after
NOTIFY = "outcomedesk.tickets.tasks.send_ticket_notifications"

# Run once through `outcomedesk shell`: the IT desk, Bob its agent, Alice a requester; prints Alice's id.
SETUP = """
from outcomedesk.accounts import services as accounts
it = accounts.create_desk("it", "IT")
bob = accounts.create_user("bob", email="bob@example.org", password=None)
accounts.add_to_desk(bob, it, "agent")
alice = accounts.create_user("alice", email="alice@example.org", password=None)
print(alice.pk)
"""
# A ticket Bob opens for Alice from another process of the machine (as the e-mail intake pipe will): Alice is sent
# a "Received" notification after commit. Prints the ticket's number.
OPEN_FROM_CLI = """
from outcomedesk.accounts.models import User
from outcomedesk.tickets.services import open_ticket
ticket = open_ticket(User.objects.get(username="bob"), desk="it", title={title!r},
                     requester=User.objects.get(username="alice"))
print(ticket.number)
"""




def _wait(done: Callable[[], object], what: str, timeout: float, alive: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        alive()
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        time.sleep(0.1)


class Deployment:
    """One Outcomedesk installation in a folder: its data folder, its environment, its commands."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.mail_dir = folder / "mail"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OUTCOMEDESK_", "DJANGO_", "CELERY_", "DATABASE_URL"))}
        self.env.update(
            OUTCOMEDESK_DATA_DIR=str(self.data),
            OUTCOMEDESK_SECRET_KEY="embedded-worker-test-" + "x" * 40,
            OUTCOMEDESK_HTTPS="false",
            OUTCOMEDESK_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            OUTCOMEDESK_EMAIL_FILE_PATH=str(self.mail_dir),
            OUTCOMEDESK_LOG_LEVEL="INFO",
            PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        )
        self.env.update(env)
        self.logs = 0

    def cli(self, *args: str) -> str:
        """Run `outcomedesk ARGS` to the end; its standard output."""
        result = subprocess.run([sys.executable, "-m", "outcomedesk", *args], env=self.env, cwd=self.folder,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"outcomedesk {args[0]}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def script(self, code: str) -> str:
        """Run Python `code` through `outcomedesk shell`; the last line it printed."""
        return self.cli("shell", "--no-imports", "-c", code).strip().splitlines()[-1]

    def open_from_cli(self, title: str) -> str:
        return self.script(OPEN_FROM_CLI.format(title=title))

    def queued(self) -> list[str]:
        """The messages waiting in the queue folder."""
        return sorted(p.name for p in (self.data / "queue" / "in").glob("*.msg"))

    def mails(self) -> list[Message]:
        """Every e-mail sent, as written by the file-based backend."""
        return [message_from_bytes(chunk) for path in sorted(self.mail_dir.glob("*.log"))
                for chunk in path.read_bytes().split(MAIL_SEPARATOR) if chunk.strip()]

    def received(self, title: str) -> list[Message]:
        """The "Received" notifications of the ticket `title`."""
        return [m for m in self.mails() if " ".join(str(m["Subject"]).split()).endswith(f"Received: {title}")]

    @contextmanager
    def serving(self, *options: str, sigint_ignored: bool = False) -> Iterator[Server]:
        """`outcomedesk serve` on a free port until the block ends, then stopped with Ctrl+C (SIGINT)."""
        self.logs += 1
        server = Server(self, self.folder / f"serve-{self.logs}.log", options, sigint_ignored=sigint_ignored)
        try:
            yield server
            server.interrupt()
        finally:
            server.kill()


class Server:
    """A running `outcomedesk serve`, its output in a file (a pipe nobody reads would fill up and stop it)."""

    def __init__(self, deployment: Deployment, log: Path, options: tuple[str, ...], *,
                 sigint_ignored: bool = False) -> None:
        self.port = free_port()
        self.log_path = log
        # A process a script starts in the background inherits SIGINT ignored (POSIX): serve must stop anyway.
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "outcomedesk", "serve", "--port", str(self.port), "--threads", "2", *options],
                env=deployment.env, cwd=deployment.folder, stdout=out, stderr=subprocess.STDOUT, preexec_fn=ignore)
        _wait(self._listening, "listening", 120, self.check_alive)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        assert self.process.poll() is None, f"serve exited with {self.process.returncode}\n{self.log()[-4000:]}"

    def post(self, path: str, token: str, payload: dict[str, object], timeout: float = 30) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("POST", path, body=json.dumps(payload), headers={
                "Host": "127.0.0.1", "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def interrupt(self) -> None:
        """Ctrl+C: the worker finishes what it runs, and serve exits 0."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=90) == 0, self.log()[-4000:]
        if "Background tasks run in this process" in self.log():
            assert "Background tasks stopped" in self.log(), self.log()[-4000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """A migrated data folder with the IT desk, Bob and Alice, copied by each test; Bob's API token; Alice's id."""
    folder = tmp_path_factory.mktemp("installed")
    deployment = Deployment(folder)
    deployment.cli("migrate", "--verbosity", "0")
    alice = int(deployment.script(SETUP))
    token = deployment.cli("token", "create", "bob").strip().splitlines()[-1]
    return deployment.data, token, alice


@pytest.fixture
def deployment(installed: tuple[Path, str, int], tmp_path: Path) -> Deployment:
    shutil.copytree(installed[0], tmp_path / "data")
    return Deployment(tmp_path)


class HeldSmtpServer:
    """A minimal SMTP server on 127.0.0.1 that holds every connection before its greeting until `release()`:
    whoever sends an e-mail meanwhile waits, as on a slow or unreachable mail server."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.gate = threading.Event()
        self.connected = threading.Event()
        self.messages: list[Message] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        self.connected.set()
        self.gate.wait()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 held.test ESMTP\r\n")
            body: list[bytes] | None = None
            for line in lines:
                if body is not None:  # inside DATA, until a lone dot
                    if line.rstrip(b"\r\n") == b".":
                        self.messages.append(message_from_bytes(b"".join(body)))
                        body = None
                        conn.sendall(b"250 queued\r\n")
                    else:
                        body.append(line[1:] if line.startswith(b"..") else line)
                    continue
                verb = line[:4].upper()
                if verb == b"DATA":
                    body = []
                    conn.sendall(b"354 end with a dot\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                    conn.sendall(b"250 held.test\r\n")


@pytest.fixture
def smtp() -> Iterator[HeldSmtpServer]:
    server = HeldSmtpServer()
    yield server
    server.close()


def test_a_ticket_opened_through_the_api_is_answered_before_its_e_mail_is_sent(
        installed: tuple[Path, str, int], tmp_path: Path, smtp: HeldSmtpServer) -> None:
    shutil.copytree(installed[0], tmp_path / "data")
    _, token, alice = installed
    deployment = Deployment(tmp_path, OUTCOMEDESK_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                            OUTCOMEDESK_EMAIL_HOST="127.0.0.1", OUTCOMEDESK_EMAIL_PORT=str(smtp.port))
    with deployment.serving() as server:
        assert "Background tasks run in this process (2 threads)" in server.log()
        # The mail server holds every connection: were the e-mail sent inside the request, no answer would come.
        status, ticket = server.post("/api/v1/tickets", token, {"desk": "it", "title": "Printer on fire",
                                                                 "requester": alice})
        assert status == 201, ticket
        _wait(smtp.connected.is_set, "sending the e-mail", 30, server.check_alive)
        assert smtp.messages == []  # answered while its e-mail waits on the mail server
        smtp.release()
        _wait(lambda: smtp.messages, "e-mailed", 30, server.check_alive)
        # On serve's Celery worker: it logs each task it received and ran.
        _wait(lambda: f"Task {NOTIFY}[" in server.log() and "succeeded" in server.log(), "logged", 10)
    [message] = smtp.messages
    assert message["To"] == "alice@example.org"
    assert " ".join(str(message["Subject"]).split()) == f"[{ticket['number']}] Received: Printer on fire"
    log = server.log()
    assert f"Task {NOTIFY}[" in log and " received" in log
    assert deployment.queued() == []


def test_serve_runs_the_tasks_another_process_of_the_machine_queues(deployment: Deployment) -> None:
    with deployment.serving() as server:
        # A management command opens a ticket (as `outcomedesk intake email` will): its e-mail is queued in the
        # data folder, and serve's worker sends it.
        number = deployment.open_from_cli("Scanner jammed")
        _wait(lambda: deployment.received("Scanner jammed"), "e-mailed by serve", 30, server.check_alive)
        # A task sent by its id from a tiny script through the CLI runs on serve's worker, not in the script.
        task_id = deployment.script(
            "from outcomedesk.tickets.models import Ticket\n"
            "from outcomedesk.tickets.tasks import send_ticket_notifications\n"
            f"ticket = Ticket.objects.get(number={number!r})\n"
            "print(send_ticket_notifications.delay('created', ticket.pk, None, None).id)")
        _wait(lambda: f"Task {NOTIFY}[{task_id}] succeeded" in server.log(), "run by serve", 30, server.check_alive)
        _wait(lambda: len(deployment.received("Scanner jammed")) == 2, "e-mailed again", 10)
    assert [m["To"] for m in deployment.received("Scanner jammed")] == ["alice@example.org"] * 2


def test_a_task_queued_while_serve_is_stopped_runs_when_it_starts_again(deployment: Deployment) -> None:
    with deployment.serving() as server:
        pass
    assert "Background tasks stopped" in server.log()

    deployment.open_from_cli("Laptop will not boot")
    assert deployment.queued(), "nothing was queued"
    assert deployment.received("Laptop will not boot") == []

    with deployment.serving() as server:
        _wait(lambda: deployment.received("Laptop will not boot"), "e-mailed after the restart", 30,
              server.check_alive)
        _wait(lambda: deployment.queued() == [], "the queue emptied", 30, server.check_alive)
    assert [m["To"] for m in deployment.received("Laptop will not boot")] == ["alice@example.org"]


def test_serve_stops_on_ctrl_c_even_when_started_with_sigint_ignored(deployment: Deployment) -> None:
    """As `outcomedesk serve &` in a script: the shell starts it with SIGINT ignored; `kill -INT` still stops it."""
    with deployment.serving("--no-beat", sigint_ignored=True) as server:
        server.check_alive()
    # serving() sent SIGINT and asserted a clean exit (0) with the background tasks stopped.


def test_serve_without_a_worker_leaves_the_tasks_queued_for_the_next_one(deployment: Deployment,
                                                                         installed: tuple[Path, str, int]) -> None:
    _, token, alice = installed
    with deployment.serving("--no-worker", "--no-beat") as server:
        assert "Background tasks are off (--no-worker)" in server.log()
        status, _ = server.post("/api/v1/tickets", token, {"desk": "it", "title": "Monitor flickers",
                                                            "requester": alice})
        assert status == 201
        _wait(deployment.queued, "queued", 10)
    assert deployment.received("Monitor flickers") == []
    with deployment.serving() as server:
        _wait(lambda: deployment.received("Monitor flickers"), "e-mailed by the next serve", 30, server.check_alive)




@pytest.mark.skipif(not redis_is_up(), reason="needs Redis on 127.0.0.1:6379 for a real Celery worker")
def test_with_redis_a_celery_worker_process_runs_the_same_tasks(installed: tuple[Path, str, int],
                                                               tmp_path: Path) -> None:
    import redis
    from celery import Celery

    shutil.copytree(installed[0], tmp_path / "data")
    shutil.rmtree(tmp_path / "data" / "queue")  # made by the installation, which had no broker
    _, token, alice = installed
    deployment = Deployment(tmp_path, CELERY_BROKER_URL=REDIS_URL)
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    client = Celery("outcomedesk-test-client", broker=REDIS_URL, set_as_current=False, fixups=[])
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as out:
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "outcomedesk.config", "worker", "--concurrency=1",
             "-n", "redis-test@%h", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
            cwd=tmp_path, env=deployment.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def worker_alive() -> None:
        assert worker.poll() is None, log_path.read_text(errors="replace")[-4000:]

    try:
        _wait(lambda: client.control.ping(timeout=0.5), "worker answering", 60, worker_alive)
        with deployment.serving() as server:
            log = server.log()
            assert "Background tasks: run `celery -A outcomedesk.config worker`" in log
            assert "Periodic tasks: run `celery -A outcomedesk.config beat`" in log
            status, _ = server.post("/api/v1/tickets", token, {"desk": "it", "title": "Badge reader dead",
                                                                "requester": alice})
            assert status == 201
            _wait(lambda: deployment.received("Badge reader dead"), "e-mailed by the worker", 30, worker_alive)
        assert f"Task {NOTIFY}[" in log_path.read_text(errors="replace")
        assert f"Task {NOTIFY}[" not in server.log()
        assert not (deployment.data / "queue").exists()  # no queue folder with a broker: nothing went there
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        client.close()
        broker.flushdb()
        broker.close()
