"""Periodic work of the SLA engine, run by Celery beat (or in-process by the embedded beat of `serve`)."""

from __future__ import annotations

from celery import shared_task

from outcomedesk.sla import services


@shared_task(ignore_result=True)
def sweep_targets() -> int:
    """Settle targets whose time has come and fire due escalations; safe to run on many workers at once."""
    result = services.sweep(deliver=False)  # delivered just below, in this task
    services.deliver_escalations()
    return len(result.fired)


@shared_task(ignore_result=True)
def deliver_escalations() -> int:
    return services.deliver_escalations()
