"""`outcomedesk serve` without a broker runs the background and periodic tasks in-process, with Celery's own worker
and beat in threads; the broker is then the queue folder of the data folder (the real command, run as a process:
tests/test_embedded_worker.py)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery, current_app
from celery.exceptions import ImproperlyConfigured
from celery.signals import task_postrun
from django.core import mail
from django.db import connection
from django.utils import timezone

from outcomedesk.accounts.policy import OPERATOR
from outcomedesk.core import clock
from outcomedesk.core.embedded_celery import (
    queue_names,
    start_embedded_beat,
    start_embedded_worker,
    uses_embedded_broker,
)
from outcomedesk.sla import services as sla
from outcomedesk.sla.models import EscalationFiring
from outcomedesk.tickets.tasks import send_ticket_notifications
from tests import factories as f
from tests.conftest import World


@pytest.fixture
def queued() -> Iterator[Celery]:
    """The app as `serve` runs it: tasks go to the queue folder, not eagerly (the test settings' default). The
    folder is emptied before and after: what one test queued is not run in the next."""
    app = current_app._get_current_object()
    app.control.purge()
    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = True
    app.control.purge()


@pytest.fixture
def every_second(queued: Celery) -> Iterator[Celery]:
    """The app's beat schedule, with the SLA sweep every second instead of every minute."""
    saved = queued.conf.beat_schedule
    queued.conf.beat_schedule = {**saved, "sla-sweep": {**saved["sla-sweep"], "schedule": 1.0, "options": {}}}
    yield queued
    queued.conf.beat_schedule = saved


def test_the_schedule_sweeps_every_minute_and_closes_resolved_tickets_at_night() -> None:
    schedule = current_app.conf.beat_schedule
    assert schedule["sla-sweep"]["task"] == "outcomedesk.sla.tasks.sweep_targets"
    assert schedule["sla-sweep"]["schedule"] == 60.0
    nightly = schedule["close-resolved-tickets"]
    assert nightly["task"] == "outcomedesk.tickets.tasks.close_resolved_tickets"
    assert nightly["schedule"].hour == {2} and nightly["schedule"].minute == {0}


def test_without_a_broker_tasks_are_queued_in_the_data_folder_for_every_queue(settings) -> None:  # type: ignore[no-untyped-def]
    assert uses_embedded_broker()
    options = current_app.conf.broker_transport_options
    queue = settings.DATA_DIR / "queue"
    assert options["data_folder_in"] == options["data_folder_out"] == str(queue / "in")
    assert options["control_folder"] == str(queue / "control") and options["store_processed"] is False
    assert (queue / "in").is_dir() and (queue / "in").stat().st_mode & 0o077 == 0
    assert queue_names() == ["celery"]
    current_app.conf.task_routes = {"outcomedesk.assist.tasks.*": {"queue": "assist"}}
    try:
        assert queue_names() == ["assist", "celery"]  # OUTCOMEDESK_ASSIST_QUEUE=assist: one worker runs both
    finally:
        current_app.conf.task_routes = settings.CELERY_TASK_ROUTES


def test_the_embedded_beat_never_runs_a_task_in_its_own_thread() -> None:
    assert current_app.conf.task_always_eager  # the test settings (OUTCOMEDESK_TASKS_EAGER=1)
    with pytest.raises(ImproperlyConfigured):
        start_embedded_beat()


@pytest.mark.django_db(transaction=True)
def test_the_embedded_beat_sweeps_due_targets_in_this_process(world: World, every_second: object,
                                                               tmp_path: Path) -> None:
    policy = f.make_policy("IT response", desk=world.it, targets={"response": 60})
    sla.save_escalation_rule(OPERATOR, {"name": "Breach", "policy": policy.pk, "metric": "response",
                                    "at_percent": 100, "action": "notify_managers"})
    with clock.at(timezone.now() - timedelta(hours=2)):
        ticket = f.make_ticket(world.alice, world.it)
    assert not EscalationFiring.objects.exists()

    worker = start_embedded_worker(threads=2)
    beat = start_embedded_beat(schedule_filename=str(tmp_path / "celerybeat-schedule"))
    try:
        deadline = time.monotonic() + 20
        while not EscalationFiring.objects.filter(notified_at__isnull=False).exists():
            assert beat.is_alive(), "the beat thread died"
            assert worker.is_alive(), "the worker thread died"
            assert time.monotonic() < deadline, "no sweep ran within 20 s"
            time.sleep(0.1)
    finally:
        beat.stop()
        beat.join(timeout=10)
        assert worker.stop_and_join(timeout=30)
    assert not beat.is_alive()

    firing = EscalationFiring.objects.get()
    assert firing.target.ticket == ticket
    assert firing.worker.endswith(f":{os.getpid()}")  # fired in this process, by its worker thread
    assert firing.recipients == [world.dave.email]
    assert [m.to for m in mail.outbox if "SLA breached" in m.subject] == [[world.dave.email]]


@pytest.mark.django_db(transaction=True)
def test_the_embedded_worker_closes_its_threads_database_connections_after_each_task(world: World,
                                                                                       queued: Celery) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    mail.outbox.clear()
    after: list[tuple[str, bool]] = []
    sent = str(uuid.uuid4())

    def record(task_id: str, **_: object) -> None:  # after Celery's Django fix-up, connected when the worker started
        if task_id == sent:
            after.append((threading.current_thread().name, connection.connection is None))

    worker = start_embedded_worker(threads=1)
    task_postrun.connect(record, weak=False)
    try:
        send_ticket_notifications.apply_async(("created", ticket.pk, None, None), task_id=sent)
        deadline = time.monotonic() + 20
        while not after:
            assert worker.is_alive(), "the worker thread died"
            assert time.monotonic() < deadline, "the task did not run within 20 s"
            time.sleep(0.05)
    finally:
        task_postrun.disconnect(record)
        assert worker.stop_and_join(timeout=30)
    [(thread, closed)] = after
    assert thread != threading.current_thread().name  # on a thread of the worker's pool
    assert closed  # the task read the ticket on a connection of its own, closed after it
    # This task's confirmation, and the one of opening the ticket (queued when it committed) before it.
    assert [m.to for m in mail.outbox] == [[world.alice.email]] * 2
