"""Sending e-mail in the background: right after the change that queued it, and every minute what is due again."""

from __future__ import annotations

from celery import shared_task

from outcomedesk.mail import services


@shared_task(ignore_result=True)
def deliver_mail(ids: list[int]) -> int:
    return services.deliver(ids)


@shared_task(ignore_result=True)
def send_due_mail() -> int:
    return services.send_due()
