"""Intake survives killed workers: real Celery workers on the machine's Redis poll a real mailbox (Dovecot) full of
mail, two polls of it at once; a worker is killed with SIGKILL in the middle, and every message still ends as
exactly one ticket or one comment on its ticket: none lost, none twice, each marked read.

A whole worker killed (its machine lost) leaves its tasks unacknowledged: Redis gives them to the next worker
after OUTCOMEDESK_TASK_REDELIVERY_SECONDS (3 s here). Only its pool process killed (the OOM killer) puts the task
back at once (task_reject_on_worker_lost). Either way the task runs again over work partly done, and two polls
read the same messages at the same time: each message is kept once and processed once.

The workers use a Redis database of their own (11) and, in it, keys under a prefix of the test's own, removed
afterwards."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from outcomedesk.core.models import Channel
from outcomedesk.intake.email import services as intake
from outcomedesk.intake.models import InboundMessage, InboundStatus, Mailbox
from outcomedesk.tickets.models import Comment, Ticket
from tests.celery_workers import Workers
from tests.conftest import World
from tests.mail_servers import MAILBOX_PASSWORD, DovecotServer
from tests.net import redis_is_up
from tests.test_intake_email import message

REDIS_URL = "redis://127.0.0.1:6379/11"
POLL_DUE = "outcomedesk.intake.tasks.poll_mailboxes"
POLL = "outcomedesk.intake.tasks.poll_mailbox"
SECRET_ENV = "OUTCOMEDESK_TEST_DURABLE_MAILBOX"
MESSAGES = 60  # every fourth a reply to the one before it: 45 tickets, 15 comments

pytestmark = [
    pytest.mark.skipif(not redis_is_up(), reason="needs Redis on 127.0.0.1:6379 for real Celery workers"),
    pytest.mark.django_db(transaction=True),  # the workers must see the data: no test transaction around it
]


@pytest.fixture
def workers(tmp_path: Path, dovecot: DovecotServer) -> Iterator[Workers]:
    import redis

    prefix = f"outcomedesk-test-{uuid.uuid4().hex}:"
    running = Workers(tmp_path, REDIS_URL, key_prefix=prefix, OUTCOMEDESK_TASK_REDELIVERY_SECONDS="3",
                      OUTCOMEDESK_MAIL_CA_FILE=str(dovecot.certificate), **{SECRET_ENV: MAILBOX_PASSWORD})
    try:
        yield running
    finally:
        running.stop_all()
        broker = redis.Redis.from_url(REDIS_URL)
        for key in broker.scan_iter(match=f"{prefix}*"):
            broker.delete(key)
        broker.close()


@pytest.fixture
def full_mailbox(dovecot: DovecotServer, world: World) -> Mailbox:
    """The IT desk's mailbox with MESSAGES unread messages from Alice."""
    dovecot.empty("it-desk")
    for n in range(MESSAGES):
        if n % 4 == 3:
            raw = message(subject=f"Re: Broken thing {n - 1}", body=f"Still broken ({n}).",
                          message_id=f"<m{n}@durable.test>", headers={"In-Reply-To": f"<m{n - 1}@durable.test>"})
        else:
            raw = message(subject=f"Broken thing {n}", body=f"Thing {n} is broken.", message_id=f"<m{n}@durable.test>")
        dovecot.append("it-desk", raw)
    return intake.save_mailbox(world.dave, {
        "desk": world.it, "name": "IT desk", "address": "it@desk.example.org", "host": "127.0.0.1",
        "port": dovecot.tls_port, "security": "tls", "username": "it-desk", "secret_env": SECRET_ENV,
    })


def _processed() -> int:
    return InboundMessage.objects.exclude(status=InboundStatus.RECEIVED).count()


def _wait(workers: Workers, done: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        workers.check_alive()
        assert time.monotonic() < deadline, (
            f"not {what} within {timeout} s: {_processed()} of {MESSAGES} messages processed\n"
            + "\n".join(f"--- {name}\n{workers.log(name)}" for name in workers.processes))
        time.sleep(0.02)


def _unfinished(log: str) -> set[str]:
    """The ids of the tasks a worker's log says it received but never finished."""
    received = set(re.findall(r"Task [\w.]+\[([0-9a-f-]+)\] received", log))
    finished = set(re.findall(r"Task [\w.]+\[([0-9a-f-]+)\] (?:succeeded|raised|retry)", log))
    return received - finished


def _ids_of(task: str, log: str) -> set[str]:
    return set(re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log))


def _finished_by(workers: Workers, name: str, ids: set[str]) -> Callable[[], bool]:
    def done() -> bool:
        log = workers.log(name, tail=0)
        return all(re.search(rf"Task {re.escape(POLL)}\[{task}\] succeeded", log) for task in ids)
    return done


def _assert_each_message_is_one_ticket_or_one_comment(dovecot: DovecotServer) -> None:
    rows = list(InboundMessage.objects.select_related("ticket", "comment"))
    assert len(rows) == MESSAGES
    assert Counter(row.status for row in rows) == {InboundStatus.TICKETED: 45, InboundStatus.THREADED: 15}
    titles = Counter(Ticket.objects.values_list("title", flat=True))
    assert titles == Counter(f"Broken thing {n}" for n in range(MESSAGES) if n % 4 != 3), "a ticket lost or twice"
    opened = {row.message_id: row.ticket for row in rows if row.status == InboundStatus.TICKETED}
    assert all(ticket is not None and ticket.title == f"Broken thing {mid[1:].split('@')[0]}"
               for mid, ticket in opened.items())
    for row in rows:
        if row.status == InboundStatus.THREADED:
            original = f"m{int(row.message_id[1:].split('@')[0]) - 1}@durable.test"
            assert row.comment is not None and row.ticket == opened[original] == row.comment.ticket
    comments = Comment.objects.filter(channel=Channel.EMAIL)
    assert comments.count() == 15, "a reply lost or added twice"
    assert dovecot.flags("it-desk") == [{"\\Seen"}] * MESSAGES


def test_a_worker_killed_in_the_middle_of_two_polls_loses_no_message_and_tickets_none_twice(
        full_mailbox: Mailbox, dovecot: DovecotServer, workers: Workers) -> None:
    workers.start("w1")
    # The periodic task claims the mailbox and queues its poll; a second poll of it runs at the same time (as when
    # a poll outlives its claim and the next one starts).
    workers.enqueue(POLL_DUE)
    workers.enqueue(POLL, args=(full_mailbox.pk,))
    _wait(workers, lambda: _processed() >= 10, "anything processed", timeout=30)
    workers.kill("w1")
    done_by_w1 = _processed()
    assert done_by_w1 < MESSAGES, "w1 was not killed in the middle of the polls"
    log = workers.log("w1", tail=0)
    polls = _unfinished(log) & _ids_of(POLL, log)
    assert len(polls) == 2, f"w1 was not killed in the middle of both polls\n{log[-4000:]}"

    workers.start("w2")
    # Nothing is queued again: the polls w1 took come back to w2 once the redelivery time passed.
    _wait(workers, _finished_by(workers, "w2", polls), "polled again", timeout=40)
    _wait(workers, lambda: _processed() == MESSAGES, "all processed", timeout=10)
    print(f"w1 processed {done_by_w1} of {MESSAGES} messages before it was killed")
    _assert_each_message_is_one_ticket_or_one_comment(dovecot)


def test_a_pool_process_killed_in_the_middle_of_a_poll_gives_the_poll_back_at_once(
        full_mailbox: Mailbox, dovecot: DovecotServer, workers: Workers) -> None:
    workers.start("w1", concurrency=1)
    [poll] = workers.enqueue(POLL, args=(full_mailbox.pk,))
    _wait(workers, lambda: _processed() >= 10, "anything processed", timeout=30)
    _kill_pool_processes(workers, "w1")
    done = _processed()
    assert done < MESSAGES, "the pool process was not killed in the middle of the poll"
    # The worker lives on, with a new pool process, and runs the poll again: not acknowledged as failed.
    _wait(workers, _finished_by(workers, "w1", {poll}), "polled again", timeout=30)
    assert "WorkerLostError" in workers.log("w1", tail=0)
    print(f"the pool process processed {done} of {MESSAGES} messages before it was killed")
    _assert_each_message_is_one_ticket_or_one_comment(dovecot)


def _kill_pool_processes(workers: Workers, name: str) -> None:
    """SIGKILL the pool processes of the worker `name`, not the worker (as the OOM killer picks the biggest)."""
    main = workers.processes[name].pid
    children = [pid for path in Path(f"/proc/{main}/task").glob("*/children") for pid in path.read_text().split()]
    assert children, "the worker has no pool process"
    for pid in children:
        os.kill(int(pid), signal.SIGKILL)
