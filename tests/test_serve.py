"""`outcomedesk serve` without a broker runs the periodic tasks in-process, with Celery's own beat in a thread."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.core import mail
from django.utils import timezone

from outcomedesk.accounts.policy import OPERATOR
from outcomedesk.core import clock
from outcomedesk.core.management.commands.serve import start_embedded_beat
from outcomedesk.sla import services as sla
from outcomedesk.sla.models import EscalationFiring
from tests import factories as f
from tests.conftest import World


@pytest.fixture
def every_second() -> object:
    """The app's beat schedule, with the SLA sweep every second instead of every minute."""
    app = current_app._get_current_object()
    saved = app.conf.beat_schedule
    app.conf.beat_schedule = {**saved, "sla-sweep": {**saved["sla-sweep"], "schedule": 1.0, "options": {}}}
    yield app
    app.conf.beat_schedule = saved


def test_the_schedule_sweeps_every_minute_and_closes_resolved_tickets_at_night() -> None:
    schedule = current_app.conf.beat_schedule
    assert schedule["sla-sweep"]["task"] == "outcomedesk.sla.tasks.sweep_targets"
    assert schedule["sla-sweep"]["schedule"] == 60.0
    nightly = schedule["close-resolved-tickets"]
    assert nightly["task"] == "outcomedesk.tickets.tasks.close_resolved_tickets"
    assert nightly["schedule"].hour == {2} and nightly["schedule"].minute == {0}
    assert current_app.conf.task_always_eager  # no broker in the tests: the embedded default


@pytest.mark.django_db(transaction=True)
def test_the_embedded_beat_sweeps_due_targets_in_this_process(world: World, every_second: object,
                                                               tmp_path: Path) -> None:
    policy = f.make_policy("IT response", desk=world.it, targets={"response": 60})
    sla.save_escalation_rule(OPERATOR, {"name": "Breach", "policy": policy.pk, "metric": "response",
                                    "at_percent": 100, "action": "notify_managers"})
    with clock.at(timezone.now() - timedelta(hours=2)):
        ticket = f.make_ticket(world.alice, world.it)
    assert not EscalationFiring.objects.exists()

    beat = start_embedded_beat(schedule_filename=str(tmp_path / "celerybeat-schedule"))
    try:
        deadline = time.monotonic() + 20
        while not EscalationFiring.objects.filter(notified_at__isnull=False).exists():
            assert beat.is_alive(), "the beat thread died"
            assert time.monotonic() < deadline, "no sweep ran within 20 s"
            time.sleep(0.1)
    finally:
        beat.stop()
        beat.join(timeout=10)
    assert not beat.is_alive()

    firing = EscalationFiring.objects.get()
    assert firing.target.ticket == ticket
    assert firing.worker.endswith(f":{os.getpid()}")  # fired in this process, not by a worker
    assert firing.recipients == [world.dave.email]
    assert [m.to for m in mail.outbox if "SLA breached" in m.subject] == [[world.dave.email]]
