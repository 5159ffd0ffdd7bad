"""Periodic work of the SLA engine, scheduled by Celery beat (or the embedded beat of `serve`), run on workers."""

from __future__ import annotations

from celery import shared_task

from outcomedesk.sla import services


@shared_task(ignore_result=True)
def sweep_targets() -> int:
    """Settle targets whose time has come and fire due escalations; safe to run on many workers at once."""
    result = services.sweep(deliver=False)  # delivered just below, in this task
    services.deliver_all()
    return len(result.fired)


@shared_task(ignore_result=True)
def deliver_escalations() -> int:
    return services.deliver_all()


@shared_task(ignore_result=True)
def recompute_targets(policy_id: int | None = None, calendar_id: int | None = None, pk_from: int = 0,
                      pk_to: int | None = None) -> int:
    """One chunk of a recompute (see services.schedule_recompute)."""
    from outcomedesk.sla.models import BusinessCalendar, SlaPolicy

    policy = SlaPolicy.objects.filter(pk=policy_id).first() if policy_id else None
    calendar = BusinessCalendar.objects.filter(pk=calendar_id).first() if calendar_id else None
    return services.recompute_active(policy=policy, calendar=calendar, pk_from=pk_from, pk_to=pk_to)


@shared_task(ignore_result=True)
def repair_tickets(ticket_ids: list[int]) -> int:
    """Replay the history of a batch of tickets (see services.schedule_repair)."""
    return services.repair(ticket_ids)
