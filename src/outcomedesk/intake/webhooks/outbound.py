"""Outbound webhooks: a desk's ticket events POSTed, signed, to the systems subscribed to them.

A delivery row is written in the transaction of the change (`on_ticket_event`), so an event is never lost; it is
sent after commit by a background task and, while the receiver does not answer 2xx, again after 1, 2, 4... minutes
(at most `MAX_WAIT`) up to `MAX_ATTEMPTS` times; the periodic task picks up what is due (`send_due`). Each request
carries `X-Outcomedesk-Delivery` (the same on every attempt: the receiver's idempotency key),
`X-Outcomedesk-Event`, `X-Outcomedesk-Timestamp` and `X-Outcomedesk-Signature` (as inbound webhooks: `sha256=`
HMAC of `{timestamp}.{body}`). The log keeps each delivery's last response; a desk manager can send one again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.core.config_cache import ConfigCache
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.html import html_to_text
from outcomedesk.intake import configuration
from outcomedesk.intake.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from outcomedesk.intake.webhooks.services import sign
from outcomedesk.tickets.models import Comment, Ticket

log = logging.getLogger(__name__)

EVENTS = ("created", "assigned", "comment", "note", "state", "resolved", "reopened")
MAX_ATTEMPTS = 10
MAX_WAIT = timedelta(hours=6)
TIMEOUT = 10
RESPONSE_KEPT = 2000


def _active_subscriptions() -> dict[int, list[WebhookSubscription]]:
    """The active subscriptions of each desk, by name."""
    found: dict[int, list[WebhookSubscription]] = {}
    for subscription in WebhookSubscription.objects.filter(is_active=True):
        found.setdefault(subscription.desk_id, []).append(subscription)
    return found


# Asked on every ticket event: kept per process until a subscription changes (core.config_cache).
SUBSCRIPTIONS = ConfigCache("webhook_subscriptions", _active_subscriptions, [WebhookSubscription])


def on_ticket_event(event: str, ticket: Ticket, comment_id: int | None = None, now: datetime | None = None,
                    **_: Any) -> None:
    """Keep a delivery for every active subscription of the ticket's desk to `event`, in this transaction."""
    subscriptions = [s for s in SUBSCRIPTIONS.get().get(ticket.desk_id, ()) if event in s.events]
    if not subscriptions:
        return
    now = now or clock.now()
    payload = _payload(event, ticket, comment_id, now)
    rows = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(subscription_id=s.pk, desk_id=ticket.desk_id, event=event, ticket=ticket, payload=payload,
                        created_at=now, next_attempt_at=now) for s in subscriptions])
    from outcomedesk.intake.tasks import send_webhook

    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: [send_webhook.delay(pk) for pk in ids])


def _payload(event: str, ticket: Ticket, comment_id: int | None, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event, "occurred_at": now.isoformat(),
        "ticket": {"number": ticket.number, "type": ticket.type, "title": ticket.title, "state": ticket.state,
                   "priority": ticket.priority, "desk": ticket.desk.slug, "external_ref": ticket.external_ref or None,
                   "opened_at": ticket.opened_at.isoformat(), "updated_at": ticket.updated_at.isoformat()},
    }
    if comment_id:
        comment = Comment.objects.filter(pk=comment_id).select_related("author").first()
        if comment is not None:
            body["comment"] = {"id": comment.pk, "public": comment.is_public, "text": html_to_text(comment.body),
                               "author": comment.author.username if comment.author else None}
    return body


def send(delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """One attempt of a pending delivery (a no-op for one delivered, given up, or not due yet)."""
    now = now or clock.now()
    with transaction.atomic():
        row = (WebhookDelivery.objects.select_for_update().select_related("subscription")
               .filter(pk=delivery_id, status=DeliveryStatus.PENDING).first())
        if row is None or (row.next_attempt_at is not None and row.next_attempt_at > now):
            return row
        # Claimed for the length of one attempt: another worker leaves it alone meanwhile.
        row.next_attempt_at = now + timedelta(seconds=TIMEOUT * 3)
        row.save(update_fields=["next_attempt_at"])
    status, text = _post(row)
    row.attempts += 1
    row.last_attempt_at = now
    row.response_status, row.response_body = status, text[:RESPONSE_KEPT]
    if status is not None and 200 <= status < 300:
        row.status, row.delivered_at, row.next_attempt_at = DeliveryStatus.DELIVERED, now, None
    elif row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = DeliveryStatus.FAILED, None
    else:
        row.next_attempt_at = now + min(timedelta(minutes=2 ** (row.attempts - 1)), MAX_WAIT)
    row.save(update_fields=["attempts", "last_attempt_at", "response_status", "response_body", "status",
                            "delivered_at", "next_attempt_at"])
    return row


def _post(row: WebhookDelivery) -> tuple[int | None, str]:
    secret = os.environ.get(row.subscription.secret_env, "")
    if not secret:
        return None, f"not sent: the environment variable {row.subscription.secret_env} (the secret) is not set"
    body = json.dumps(row.payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(row.subscription.url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "User-Agent": "Outcomedesk-Webhooks",
        "X-Outcomedesk-Event": row.event, "X-Outcomedesk-Delivery": str(row.pk),
        "X-Outcomedesk-Timestamp": timestamp, "X-Outcomedesk-Signature": sign(secret, timestamp, body)})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - the subscriber's URL
            return answer.status, answer.read(RESPONSE_KEPT).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(RESPONSE_KEPT).decode("utf-8", "replace")
    except OSError as exc:
        return None, f"not delivered: {type(exc).__name__}: {exc}"


def send_due(now: datetime | None = None, limit: int = 500) -> int:
    """Attempt every pending delivery whose time has come (the periodic task's share)."""
    now = now or clock.now()
    due = WebhookDelivery.objects.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
                                         status=DeliveryStatus.PENDING).values_list("pk", flat=True)[:limit]
    count = 0
    for pk in list(due):
        send(pk, now)
        count += 1
    return count


def redeliver(actor: Any, delivery: WebhookDelivery | int) -> WebhookDelivery:
    """Send a delivery again (its desk's managers), whatever became of it: a new attempt, the same id."""
    pk = delivery.pk if isinstance(delivery, WebhookDelivery) else delivery
    row = policy.restrict(WebhookDelivery.objects.all(), actor, policy.VIEW).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"no webhook delivery {pk}")
    if not policy.can(actor, policy.MANAGE, row):
        raise NotAllowed("only the desk's managers may send a webhook again")
    row.status, row.next_attempt_at = DeliveryStatus.PENDING, clock.now()
    row.attempts = min(row.attempts, MAX_ATTEMPTS - 1)
    row.save(update_fields=["status", "next_attempt_at", "attempts"])
    from outcomedesk.intake.tasks import send_webhook

    transaction.on_commit(lambda: send_webhook.delay(row.pk))
    return row


SUBSCRIPTION_FIELDS = ("name", "desk", "url", "events", "secret_env", "is_active")


def save_subscription(actor: Any, values: dict[str, Any], *, subscription: WebhookSubscription | None = None
                      ) -> WebhookSubscription:
    """Create or change a subscription (its desk's managers)."""
    row = subscription or WebhookSubscription()
    fields, desk = configuration.merged(actor, values, SUBSCRIPTION_FIELDS, row, saved=subscription is not None,
                                        what="webhook subscription")
    errors: dict[str, str] = {}
    name = str(fields["name"] or "").strip()
    if not name:
        errors["name"] = "is required"
    url = str(fields["url"] or "").strip()
    if not re.match(r"https://|http://(127\.0\.0\.1|localhost)[:/]", url):
        errors["url"] = "must be https:// (plain http only to this machine)"
    events = fields["events"] if isinstance(fields["events"], list) else []
    if not events or set(events) - set(EVENTS):
        errors["events"] = f"name one or more of {', '.join(EVENTS)}"
    secret_env = configuration.check_secret_env(errors, fields["secret_env"])
    if errors:
        raise InvalidInput(errors)
    row.name, row.desk, row.url, row.events = name, desk, url, sorted(set(events))
    row.secret_env, row.is_active = secret_env, bool(fields["is_active"])
    row.save()
    return row
