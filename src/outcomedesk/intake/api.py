"""Intake endpoints, under /api/v1/intake: the health of each mailbox, the log of inbound mail with its
quarantine (retry, discard), and a message's original bytes; the doors of Alertmanager, Slack, Teams and signed
webhooks; the log of outbound webhooks. Thin doors onto each channel's services; every read passes through the
access policy, so a confidential desk's mail stays with its members."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from outcomedesk.accounts import policy
from outcomedesk.core.errors import InvalidInput, NotFound
from outcomedesk.core.parsing import Id
from outcomedesk.intake import queries
from outcomedesk.intake.alertmanager import services as alerts
from outcomedesk.intake.email import services
from outcomedesk.intake.models import InboundMessage, InboundStatus
from outcomedesk.intake.slack import services as slack
from outcomedesk.intake.teams import services as teams
from outcomedesk.intake.webhooks import outbound
from outcomedesk.intake.webhooks import services as webhooks

router = Router(tags=["intake"])
PAGE = 50


class MailboxHealthOut(Schema):
    id: int
    desk: str
    name: str
    address: str
    is_active: bool
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    lag_seconds: int | None = Field(description="Seconds since the last successful poll (null: never read)")
    failures: int = Field(description="Failed polls in a row")
    last_error: str
    next_poll_at: datetime | None
    quarantined: int = Field(description="Messages of this mailbox waiting in the quarantine")


class MessageOut(Schema):
    id: int
    desk: str
    mailbox: int | None
    message_id: str
    sender: str
    subject: str
    size: int
    received_at: datetime
    processed_at: datetime | None
    status: str
    reason: str
    attempts: int
    ticket: str | None


class MessageQuery(Schema):
    status: str | None = Field(None, description=f"One of {', '.join(InboundStatus.values)}")
    desk: str | None = Field(None, description="Desk slug")
    mailbox: int | None = None
    page: int = Field(1, ge=1, le=10_000)


def _messages(request: HttpRequest) -> Any:
    return policy.restrict(InboundMessage.objects.select_related("desk", "ticket"), request.user, policy.VIEW)


def _message(request: HttpRequest, message_id: int) -> InboundMessage:
    found = _messages(request).filter(pk=message_id).first()
    if found is None:
        raise NotFound(f"no inbound message {message_id}")
    return found


def _out(row: InboundMessage) -> dict[str, Any]:
    return {"id": row.pk, "desk": row.desk.slug, "mailbox": row.mailbox_id, "message_id": row.message_id,
            "sender": row.sender, "subject": row.subject, "size": row.size, "received_at": row.received_at,
            "processed_at": row.processed_at, "status": row.status, "reason": row.reason, "attempts": row.attempts,
            "ticket": row.ticket.number if row.ticket else None}


@router.get("/mailboxes", response=list[MailboxHealthOut],
            summary="The mailboxes of the desks the caller works on, with their health")
def mailbox_health(request: HttpRequest) -> list[dict[str, Any]]:
    return [{
        "id": h.mailbox.pk, "desk": h.mailbox.desk.slug, "name": h.mailbox.name, "address": h.mailbox.address,
        "is_active": h.mailbox.is_active, "last_attempt_at": h.mailbox.last_attempt_at,
        "last_success_at": h.mailbox.last_success_at, "lag_seconds": h.lag_seconds, "failures": h.mailbox.failures,
        "last_error": h.mailbox.last_error, "next_poll_at": h.mailbox.next_poll_at, "quarantined": h.quarantined,
    } for h in queries.mailbox_health(request.user)]


@router.get("/messages", response=list[MessageOut],
            summary="Inbound mail, newest first, 50 a page: what each message became, and why not a ticket")
def list_messages(request: HttpRequest, query: Query[MessageQuery]) -> list[dict[str, Any]]:
    rows = _messages(request)
    if query.status:
        if query.status not in InboundStatus.values:
            raise InvalidInput({"status": f"must be one of {', '.join(InboundStatus.values)}"})
        rows = rows.filter(status=query.status)
    if query.desk:
        rows = rows.filter(desk__slug=query.desk)
    if query.mailbox:
        rows = rows.filter(mailbox_id=query.mailbox)
    start = (query.page - 1) * PAGE
    return [_out(row) for row in rows[start:start + PAGE]]


@router.get("/messages/{message_id}", response=MessageOut, summary="One inbound message")
def get_message(request: HttpRequest, message_id: Id) -> dict[str, Any]:
    return _out(_message(request, message_id))


@router.get("/messages/{message_id}/original", response={200: None},
            summary="The message as it arrived (message/rfc822)", openapi_extra={
                "responses": {200: {"description": "The original message",
                                    "content": {"message/rfc822": {"schema": {"type": "string",
                                                                              "format": "binary"}}}}}})
def original(request: HttpRequest, message_id: Id) -> HttpResponse:
    row = _message(request, message_id)
    if not row.raw:
        raise NotFound(f"message {message_id} was discarded: its original is gone")
    response = HttpResponse(services.original(row), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{row.pk}.eml"'
    return response


@router.post("/messages/{message_id}/retry", response=MessageOut,
             summary="Process a quarantined or rejected message again (the desk's managers)")
def retry(request: HttpRequest, message_id: Id) -> dict[str, Any]:
    row = services.retry(request.user, _message(request, message_id))
    return _out(_message(request, row.pk))


@router.post("/messages/{message_id}/discard", response=MessageOut,
             summary="Discard a quarantined or rejected message; its original is deleted (the desk's managers)")
def discard(request: HttpRequest, message_id: Id) -> dict[str, Any]:
    row = services.discard(request.user, _message(request, message_id))
    return _out(_message(request, row.pk))


# --- Prometheus Alertmanager ---------------------------------------------------------------------------------

class AlertIn(Schema):
    status: str = Field(description="firing or resolved")
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: str
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = Field("", description="Sent by Alertmanager 0.19 and later; required")


class AlertmanagerIn(Schema):
    """Alertmanager's webhook payload (version 4)."""

    version: str = "4"
    groupKey: str
    status: str = ""
    receiver: str = ""
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str = ""
    truncatedAlerts: int = 0
    alerts: list[AlertIn]


class AlertOutcomeOut(Schema):
    opened: list[str] = Field(description="Incidents opened")
    added: int = Field(description="New alerts noted on their group's open incident")
    repeated: int = Field(description="Alerts received again (counted, not duplicated)")
    resolved: int = Field(description="Alerts that cleared")
    ignored: int = Field(description="Cleared alerts never seen firing")
    incidents_resolved: list[str]


@router.post("/alertmanager", response=AlertOutcomeOut,
             summary="Prometheus Alertmanager's webhook (bearer token of an alert source's integration account)")
def alertmanager(request: HttpRequest, payload: AlertmanagerIn) -> dict[str, Any]:
    outcome = alerts.receive_alerts(request.user, payload.dict())  # type: ignore[arg-type]
    return {"opened": outcome.opened, "added": outcome.added, "repeated": outcome.repeated,
            "resolved": outcome.resolved, "ignored": outcome.ignored,
            "incidents_resolved": outcome.incidents_resolved}


# --- Slack -----------------------------------------------------------------------------------------------------

class SlackSignature:
    """Slack's request signature is the credential of its doors (no token, no session): 401 without it."""

    def __call__(self, request: HttpRequest) -> Any:
        from django.conf import settings

        from outcomedesk.intake.slack.signing import BadSignature, verify

        try:
            verify(settings.OUTCOMEDESK_SLACK_SIGNING_SECRET, request.headers.get("X-Slack-Request-Timestamp"),
                   request.body, request.headers.get("X-Slack-Signature"))
        except BadSignature as exc:
            request.slack_refusal = str(exc)  # type: ignore[attr-defined]
            return None
        return True


@router.post("/slack/events", auth=SlackSignature(), response=dict[str, Any],
             summary="Slack's Events API (signed by Slack): messages in a desk's channel and its tickets' threads")
def slack_events(request: HttpRequest) -> dict[str, Any]:
    try:
        payload = json.loads(request.body)
    except ValueError:
        raise InvalidInput({"body": "is not JSON"}) from None
    if not isinstance(payload, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    return slack.accept_event(payload)


@router.post("/slack/command", auth=SlackSignature(), response=dict[str, Any],
             summary="Slack's slash command `/ticket <text>` (signed by Slack, form-encoded)")
def slack_command(request: HttpRequest) -> dict[str, Any]:
    return slack.accept_command({key: request.POST.get(key, "") for key in request.POST})


# --- signed webhooks of other systems --------------------------------------------------------------------------

class WebhookSignature:
    """The source's signature is the credential (no token, no session): 401 without it."""

    def __call__(self, request: HttpRequest) -> Any:
        match = request.resolver_match
        slug = str(match.kwargs.get("slug", "")) if match else ""
        try:
            request.webhook_source = webhooks.verify(  # type: ignore[attr-defined]
                slug, request.headers.get("X-Outcomedesk-Timestamp"), request.body,
                request.headers.get("X-Outcomedesk-Signature"))
        except webhooks.BadSignature:
            return None
        return True


class WebhookIn(Schema):
    action: str = Field(description="open, comment or resolve")
    external_ref: str = Field(description="The ticket's id in your system")
    title: str = ""
    description: str = ""
    requester: str | None = Field(None, description="E-mail address of an existing person (open)")
    urgency: int | None = Field(None, ge=1, le=3)
    impact: int | None = Field(None, ge=1, le=3)
    comment: str = Field("", description="The comment (comment) or the resolution (resolve)")
    public: bool = True


class WebhookOut(Schema):
    ticket: str
    action: str
    duplicate: bool = Field(description="The ticket was opened by an earlier request with this external_ref")


@router.post("/webhooks/{slug}", auth=WebhookSignature(), response=WebhookOut,
             summary="A signed webhook of another system: open, comment on or resolve a ticket")
def webhook(request: HttpRequest, slug: str, payload: WebhookIn) -> dict[str, Any]:
    return webhooks.receive(request.webhook_source, payload.dict())  # type: ignore[attr-defined]


# --- outbound webhooks: the delivery log -----------------------------------------------------------------------

class DeliveryOut(Schema):
    id: int
    subscription: str
    event: str
    ticket: str
    created_at: datetime
    status: str
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    response_status: int | None
    response_body: str


def _delivery_out(row: Any) -> dict[str, Any]:
    return {"id": row.pk, "subscription": row.subscription.name, "event": row.event, "ticket": row.ticket.number,
            "created_at": row.created_at, "status": row.status, "attempts": row.attempts,
            "last_attempt_at": row.last_attempt_at, "next_attempt_at": row.next_attempt_at,
            "delivered_at": row.delivered_at, "response_status": row.response_status,
            "response_body": row.response_body}


def _deliveries(request: HttpRequest) -> Any:
    from outcomedesk.intake.models import WebhookDelivery

    return policy.restrict(WebhookDelivery.objects.select_related("subscription", "ticket"), request.user,
                           policy.VIEW)


@router.get("/deliveries", response=list[DeliveryOut],
            summary="Outbound webhook deliveries, newest first, 50 a page, with each one's last response")
def list_deliveries(request: HttpRequest, status: str | None = None, page: int = Query(1, ge=1, le=10_000)
                    ) -> list[dict[str, Any]]:
    rows = _deliveries(request)
    if status:
        rows = rows.filter(status=status)
    start = (page - 1) * PAGE
    return [_delivery_out(row) for row in rows[start:start + PAGE]]


@router.post("/deliveries/{delivery_id}/redeliver", response=DeliveryOut,
             summary="Send an outbound webhook delivery again, with the same id (the desk's managers)")
def redeliver(request: HttpRequest, delivery_id: Id) -> dict[str, Any]:
    row = outbound.redeliver(request.user, delivery_id)
    return _delivery_out(_deliveries(request).get(pk=row.pk))


# --- Microsoft Teams -------------------------------------------------------------------------------------------

class TeamsSignature:
    """Teams' HMAC is the credential of its door: 401 without it."""

    def __call__(self, request: HttpRequest) -> Any:
        try:
            teams.verify(request.headers.get("Authorization"), request.body)
        except teams.BadSignature:
            return None
        return True


@router.post("/teams", auth=TeamsSignature(), response=dict[str, Any],
             summary="Microsoft Teams' outgoing webhook (HMAC-signed): a mention opens a ticket or adds to it")
def teams_webhook(request: HttpRequest) -> dict[str, Any]:
    try:
        activity = json.loads(request.body)
    except ValueError:
        raise InvalidInput({"body": "is not JSON"}) from None
    if not isinstance(activity, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    return teams.receive(activity)


class BotConnectorToken:
    """The Bot Connector's signed token is the credential of the Teams bot's door (no API token, no session): 401
    naming what is wrong without it. The token is checked against the activity it came with (its serviceUrl and
    channelId), so the body is read here; a body that is no activity is the door's 400, once the token passed."""

    def __call__(self, request: HttpRequest) -> Any:
        from outcomedesk.intake.teams import botauth

        try:
            activity = json.loads(request.body)
        except ValueError:
            activity = None
        return botauth.verify(request.headers.get("Authorization"),
                              activity if isinstance(activity, dict) else {}) or True


@router.post("/teams/bot", auth=BotConnectorToken(), response=dict[str, Any],
             summary="Microsoft Teams' bot (Bot Framework activities, with the Bot Connector's token): a mention "
                     "opens a ticket, a message in its thread adds to it; the bot answers in the thread",
             openapi_extra={"responses": {503: {
                 "description": "The Bot Connector's signing keys cannot be read (none kept yet): try again",
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}}})
def teams_bot(request: HttpRequest) -> dict[str, Any]:
    try:
        activity = json.loads(request.body)
    except ValueError:
        raise InvalidInput({"body": "is not JSON"}) from None
    if not isinstance(activity, dict):
        raise InvalidInput({"body": "must be a JSON object (a Bot Framework activity)"})
    teams.accept_activity(activity)
    return {}
