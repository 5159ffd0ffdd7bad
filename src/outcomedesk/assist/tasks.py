"""Background work of the AI: triage of a new ticket, the scheduled retraining. They take ids and are safe to
run twice (a second triage supersedes the first's open suggestions; a person's values are never touched)."""

from __future__ import annotations

from celery import shared_task

from outcomedesk.assist import services


@shared_task(ignore_result=True)
def triage_new_ticket(ticket_id: int) -> int:
    return services.triage_safely(ticket_id)


@shared_task(ignore_result=True)
def train_models() -> int:
    return sum(1 for row in services.train_all() if not isinstance(row, services.TrainingSkipped))


@shared_task(ignore_result=True)
def train_desk_models(desk_id: int, fields: list[str] | None, actor_id: int | None) -> int:
    from outcomedesk.accounts import policy
    from outcomedesk.accounts.models import Desk, User

    desk = Desk.objects.get(pk=desk_id)
    actor: policy.Actor = policy.SCHEDULER
    if actor_id is not None:
        asker = User.objects.filter(pk=actor_id, is_active=True).first()
        if asker is None:
            return 0  # the person who asked is gone: their request goes with them
        actor = asker
    found = services.train_desk(desk, actor=actor, fields=fields)
    return sum(1 for row in found if not isinstance(row, services.TrainingSkipped))


@shared_task(ignore_result=True)
def detect_patterns() -> int:
    from outcomedesk.assist import patterns

    return patterns.detect_all()
