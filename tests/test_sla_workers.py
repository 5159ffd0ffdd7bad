"""Real Celery workers on the machine's Redis sweep the same targets: each escalation fires once per target and
is e-mailed once, with two workers at once and when a worker is killed in the middle of a sweep.

The workers are `celery -A outcomedesk.config worker` processes on the test database; they run the production
settings (tests/settings.py would keep their e-mails in their own memory) and write e-mails to files we count."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from outcomedesk.accounts.policy import OPERATOR
from outcomedesk.core import clock
from outcomedesk.sla import services as sla
from outcomedesk.sla.models import EscalationFiring, EscalationRule, TicketTarget
from tests import factories as f
from tests.celery_workers import Workers
from tests.conftest import World
from tests.net import redis_is_up

REDIS_URL = "redis://127.0.0.1:6379/13"  # a database of its own, emptied before and after
SWEEP = "outcomedesk.sla.tasks.sweep_targets"

pytestmark = [
    pytest.mark.skipif(not redis_is_up(), reason="needs Redis on 127.0.0.1:6379 for real Celery workers"),
    pytest.mark.django_db(transaction=True),  # the workers must see the data: no test transaction around it
]


def _which(workers: Workers, firing_worker: str) -> str:
    """The worker (w1, w2) whose pool process fired: `host:pid` -> the pid's process group."""
    pid = int(firing_worker.rsplit(":", 1)[1])
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return f"gone ({firing_worker})"
    return next((name for name, p in workers.processes.items() if p.pid == group), f"other ({firing_worker})")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    import redis

    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    running = Workers(tmp_path, REDIS_URL)
    try:
        yield running
    finally:
        running.stop_all()
        broker.flushdb()
        broker.close()


def _escalating_policy(world: World, metrics: dict[str, int], percents: tuple[int, ...]) -> list[EscalationRule]:
    """An IT policy with the targets `metrics` and an escalation rule (notify the managers: Dave) at each share."""
    policy = f.make_policy("IT", desk=world.it, targets=metrics)
    return [sla.save_escalation_rule(OPERATOR, {"name": f"At {p} %", "policy": policy.pk, "metric": "",
                                            "at_percent": p, "action": "notify_managers"}) for p in percents]


def _open_ticket_two_hours_ago(world: World, n: int) -> None:
    """Its targets are then past their deadline: every escalation rule of their policy is due."""
    with clock.at(timezone.now() - timedelta(hours=2)):
        f.make_ticket(world.alice, world.it, title=f"Printer {n}")


def _pairs(rules: list[EscalationRule]) -> set[tuple[int, int]]:
    """The (target, rule) pairs that must fire, once each."""
    return {(target, rule.pk) for target in TicketTarget.objects.values_list("pk", flat=True) for rule in rules}


def _wait(workers: Workers, done: Callable[[], bool], what: str, timeout: float,
          tick: tuple[float, Callable[[], None]] | None = None) -> None:
    """Wait until `done()`, calling `tick[1]` every `tick[0]` seconds meanwhile."""
    deadline = time.monotonic() + timeout
    ticked = time.monotonic()
    while not done():
        workers.check_alive()
        assert time.monotonic() < deadline, (
            f"not {what} within {timeout} s: {EscalationFiring.objects.count()} firings, "
            f"{EscalationFiring.objects.filter(notified_at__isnull=False).count()} notified\n"
            + "\n".join(f"--- {name}\n{workers.log(name)}" for name in workers.processes))
        if tick and time.monotonic() - ticked >= tick[0]:
            tick[1]()
            ticked = time.monotonic()
        time.sleep(0.02)


def _assert_each_fired_and_mailed_once(pairs: set[tuple[int, int]], mails: list[tuple[str, str]], dave: str
                                       ) -> None:
    firings = list(EscalationFiring.objects.values_list("target_id", "rule_id", "notified_at", "recipients"))
    assert len(firings) == len(pairs)  # the unique (target, rule) constraint makes it the same as:
    assert {(target, rule) for target, rule, _, _ in firings} == pairs
    assert all(notified is not None and recipients == [dave] for _, _, notified, recipients in firings)
    twice = [subject for subject, count in Counter(subject for subject, _ in mails).items() if count > 1]
    assert twice == [], f"{len(twice)} escalations were e-mailed more than once, e.g. {twice[:3]}"
    assert len(mails) == len(firings)
    assert {to for _, to in mails} == {dave}


def test_two_workers_fire_each_escalation_once_and_mail_it_once(world: World, workers: Workers) -> None:
    rules = _escalating_policy(world, {"response": 1}, (95, 100))  # a first response within a minute
    workers.start("w1", "w2")
    # 100 tickets opened two hours ago: a backlog of 200 escalations, all due at once.
    with sla.deferred():
        for n in range(100):
            _open_ticket_two_hours_ago(world, n)
    # 200 more whose escalations come due one after the other while the workers sweep (on SQLite, where one
    # transaction at a time writes, a backlog goes to whichever sweep gets the lock first). Each is opened 57 s
    # (95 %) before the end of this loop as far as the loop can tell, + 1 s + 20 ms for each ticket before it.
    began = time.monotonic()
    for n in range(200):
        per_ticket = (time.monotonic() - began) / n if n else 0.05
        due = timedelta(seconds=per_ticket * (200 - n) + 1 + 0.02 * n)
        with clock.at(timezone.now() + due - timedelta(seconds=57)):
            f.make_ticket(world.alice, world.it, title=f"Printer {100 + n}")
    pairs = _pairs(rules)
    assert len(pairs) == 600

    workers.enqueue(SWEEP, 20)  # many at once, then a few at once four times a second (a very eager beat)
    _wait(workers, lambda: EscalationFiring.objects.filter(notified_at__isnull=False).count() == len(pairs),
          "all fired and notified", timeout=30, tick=(0.25, lambda: workers.enqueue(SWEEP, 2)))

    _assert_each_fired_and_mailed_once(pairs, workers.sent_mails(), world.dave.email)
    split = Counter(_which(workers, w) for w in EscalationFiring.objects.values_list("worker", flat=True))
    print(f"firings per worker: {dict(split)}")
    assert set(split) == {"w1", "w2"}, f"firings per worker: {dict(split)}"


def test_a_worker_killed_mid_sweep_loses_no_escalation_and_mails_none_twice(world: World, workers: Workers
                                                                            ) -> None:
    rules = _escalating_policy(world, {"response": 60, "resolution": 60}, (100,))
    with sla.deferred():
        for n in range(350):
            _open_ticket_two_hours_ago(world, n)
    pairs = _pairs(rules)
    assert len(pairs) == 700  # due targets for a sweep of two batches (500 and 200)
    workers.start("w1")
    workers.enqueue(SWEEP, 1)
    # Its first batch committed, its second under way: the e-mails only come after the whole sweep.
    _wait(workers, lambda: EscalationFiring.objects.exists(), "fired anything", timeout=30)
    workers.kill("w1")
    killed_at = timezone.now()
    fired_by_w1 = EscalationFiring.objects.count()
    assert 0 < fired_by_w1 < len(pairs), "w1 was not killed in the middle of its sweep"

    workers.start("w2")
    workers.enqueue(SWEEP, 4)
    # Done when all fired and all are notified, but for those w1 claimed and died with.
    stuck = EscalationFiring.objects.filter(notified_at__isnull=True, claimed_at__lt=killed_at)
    _wait(workers, lambda: EscalationFiring.objects.count() == len(pairs) and not EscalationFiring.objects.filter(
        notified_at__isnull=True).exclude(pk__in=stuck).exists(), "all fired and notified", timeout=30,
        tick=(1, lambda: workers.enqueue(SWEEP, 1)))
    # Those are held for the lease, then sent by whoever delivers next.
    mail.outbox.clear()
    held = stuck.count()
    assert sla.deliver_escalations(timezone.now() + sla.CLAIM_LEASE + timedelta(minutes=1)) == held
    print(f"w1 fired {fired_by_w1} of {len(pairs)} before it was killed; {held} of its claims were stuck")

    mails = workers.sent_mails() + [(str(m.subject), ", ".join(m.to)) for m in mail.outbox]
    _assert_each_fired_and_mailed_once(pairs, mails, world.dave.email)
