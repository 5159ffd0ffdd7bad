"""Background tasks of the experience app; they take ids and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from outcomedesk.experience import notifications


@shared_task(ignore_result=True)
def send_survey_email(survey_id: int) -> int:
    return notifications.send_safely(survey_id)
