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
