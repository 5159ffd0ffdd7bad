"""Intake's background work: polling the mailboxes (Celery beat, or the embedded beat of `serve`), handling chat
messages and posting to chat, sending outbound webhooks."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.db.models import Q

from outcomedesk.core import clock
from outcomedesk.intake.models import InboundMessage, InboundStatus, Mailbox

CLAIM = timedelta(minutes=10)  # a poll that died is taken up again after this long
STALE = timedelta(minutes=5)  # a message kept but not processed this long ago was interrupted (a killed worker)


@shared_task(ignore_result=True)
def poll_mailboxes() -> int:
    """Queue a poll of every mailbox that is due, each claimed first so that two schedulers never read one mailbox
    at once; returns how many were queued."""
    now = clock.now()
    queued = 0
    due = Mailbox.objects.filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now), is_active=True)
    finish_interrupted(now)
    from outcomedesk.intake.webhooks.outbound import send_due

    send_due(now)
    for pk in due.values_list("pk", flat=True):
        claimed = Mailbox.objects.filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now), pk=pk).update(
            next_poll_at=now + CLAIM)
        if claimed:
            poll_mailbox.delay(pk)
            queued += 1
    return queued


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600,
             max_retries=None)
def poll_mailbox(mailbox_id: int) -> int:
    """Read one mailbox; a database failure (nothing could be stored) is retried with backoff."""
    from outcomedesk.intake.email.imap import poll

    mailbox = Mailbox.objects.select_related("desk").filter(pk=mailbox_id, is_active=True).first()
    return poll(mailbox).read if mailbox is not None else 0


def finish_interrupted(now: datetime | None = None) -> int:
    """Process the messages that were kept but whose processing never finished (the process was killed between
    the two): the stored original is the durable copy, so nothing a mailbox or pipe handed over is lost."""
    from outcomedesk.intake.email.services import process

    now = now or clock.now()
    stale = InboundMessage.objects.filter(status=InboundStatus.RECEIVED, received_at__lt=now - STALE)
    done = 0
    for row in stale.select_related("desk", "mailbox")[:500]:
        process(row)
        done += 1
    return done


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def handle_chat_event(event_id: int) -> None:
    """Do what a kept chat event asks (Slack unreachable, or the database: retried with backoff)."""
    from outcomedesk.intake.models import ChatEvent, ChatPlatform

    if ChatEvent.objects.filter(pk=event_id, platform=ChatPlatform.TEAMS).exists():
        from outcomedesk.intake.teams.services import handle as handle_teams

        handle_teams(event_id)
        return
    from outcomedesk.intake.slack.services import handle

    handle(event_id)


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def post_chat_reply(comment_id: int) -> None:
    """Post an agent's public reply to its ticket's chat thread."""
    from outcomedesk.intake.chat import post_reply

    post_reply(comment_id)


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def post_chat_answer(event_id: int) -> None:
    """Post the Teams bot's answer to a message it handled (the Bot Connector or the token endpoint unreachable:
    retried with backoff)."""
    from outcomedesk.intake.teams.services import post_answer

    post_answer(event_id)


@shared_task(ignore_result=True)
def send_webhook(delivery_id: int) -> None:
    """One attempt of an outbound webhook; a failure waits for its next attempt (`send_due`), not for Celery."""
    from outcomedesk.intake.webhooks.outbound import send

    send(delivery_id)
