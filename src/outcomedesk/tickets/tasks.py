"""Background tasks of the tickets app; they take ids and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from outcomedesk.tickets import notifications, services


@shared_task(ignore_result=True)
def send_ticket_notifications(event: str, ticket_id: int, actor_id: int | None, comment_id: int | None,
                              key: str = "") -> int:
    return notifications.send_safely(event, ticket_id, actor_id, comment_id, key)


@shared_task(ignore_result=True)
def close_resolved_tickets(older_than_days: int = 3) -> int:
    return services.close_resolved(older_than_days=older_than_days)
