"""Slack into tickets. The doors (`accept_event`, `accept_command`) only keep what Slack sent, once per event,
and answer within Slack's three seconds; a background task (`handle`) does the work: a message in a desk's
channel opens a ticket as its author (found by e-mail address), a reply in the ticket's thread is a comment on
it, `/ticket <text>` opens one from anywhere. Agents' public replies are posted back to the thread
(`on_comment_added`). The person who wrote acts, through `tickets.services` and the access policy.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import Desk, User
from outcomedesk.core import clock
from outcomedesk.core.config_cache import ConfigCache
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.intake import configuration
from outcomedesk.intake.models import ChatChannel, ChatEvent, ChatPlatform, ChatPost, ChatThread
from outcomedesk.intake.slack import client
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Comment, Ticket

log = logging.getLogger(__name__)
TITLE_MAX = 200


def accept_event(payload: dict[str, Any]) -> dict[str, Any]:
    """An Events API request (already verified as Slack's): the URL check, or a message to keep and handle."""
    kind = payload.get("type")
    if kind == "url_verification":
        return {"challenge": str(payload.get("challenge", ""))}
    if kind != "event_callback":
        raise InvalidInput({"type": f"must be url_verification or event_callback, not {str(kind)[:40]!r}"})
    event = payload.get("event")
    event_id = str(payload.get("event_id") or "")
    if not isinstance(event, dict) or not event_id:
        raise InvalidInput({"event": "an event_callback carries an event and an event_id"})
    # Only people's new messages: not bots (our own replies among them), edits or joins.
    if event.get("type") != "message" or event.get("subtype") or event.get("bot_id"):
        return {}
    channel = ChatChannel.objects.filter(platform=ChatPlatform.SLACK, channel_id=str(event.get("channel", "")),
                                         is_active=True).first()
    if channel is None:
        return {}  # a channel no desk listens to
    _keep(event_id, channel.desk, {"kind": "message", "event": event})
    return {}


def accept_command(form: dict[str, str]) -> dict[str, Any]:
    """A slash command (`/ticket <what is wrong>`): kept, handled in the background, answered at once."""
    text = (form.get("text") or "").strip()
    if not text:
        return {"response_type": "ephemeral", "text": "Say what is wrong: `/ticket the printer on floor 3 jams`"}
    channel = ChatChannel.objects.filter(platform=ChatPlatform.SLACK, channel_id=form.get("channel_id", ""),
                                         is_active=True).select_related("desk").first()
    desk = channel.desk if channel else Desk.objects.filter(slug=settings.OUTCOMEDESK_SLACK_DESK,
                                                            is_active=True).first()
    if desk is None:
        return {"response_type": "ephemeral",
                "text": "No desk takes tickets from this channel: ask your service desk to connect it."}
    event_id = f"command:{form.get('trigger_id') or form.get('response_url') or clock.now().timestamp()}"[:100]
    _keep(event_id, desk, {"kind": "command", "form": form})
    return {"response_type": "ephemeral", "text": "Opening a ticket…"}


def _keep(event_id: str, desk: Desk, payload: dict[str, Any]) -> None:
    from outcomedesk.intake.tasks import handle_chat_event

    try:
        with transaction.atomic():
            row = ChatEvent.objects.create(platform=ChatPlatform.SLACK, event_id=event_id, desk=desk, payload=payload,
                                           received_at=clock.now())
    except IntegrityError:
        return  # Slack delivered it again: kept already
    transaction.on_commit(lambda: handle_chat_event.delay(row.pk))


def handle(event_pk: int) -> ChatEvent | None:
    """Do what a kept event asks; safe to run twice (a handled event is left alone)."""
    with transaction.atomic():
        row = ChatEvent.objects.select_for_update().filter(pk=event_pk, handled_at__isnull=True).first()
        if row is None:
            return None
        try:
            ticket, outcome = _handle(row)
        except (InvalidInput, NotAllowed, NotFound) as exc:
            ticket, outcome = None, f"refused: {exc.message}"
        row.ticket, row.outcome, row.handled_at = ticket, outcome[:300], clock.now()
        row.save(update_fields=["ticket", "outcome", "handled_at"])
    return row


def _handle(row: ChatEvent) -> tuple[Ticket | None, str]:
    payload = row.payload
    desk = row.desk
    if desk is None:
        return None, "no desk"
    if payload.get("kind") == "command":
        form = payload["form"]
        person = _person(str(form.get("user_id", "")))
        ticket = _open(person, desk, str(form.get("text", "")))
        _respond(str(form.get("response_url", "")), f"Opened {ticket.number}: {ticket.title}\n{_link(ticket)}")
        return ticket, f"opened {ticket.number}"
    event = payload["event"]
    channel = ChatChannel.objects.get(platform=ChatPlatform.SLACK, channel_id=event["channel"])
    person = _person(str(event.get("user", "")))
    text = str(event.get("text", "")).strip()
    thread_ts = str(event.get("thread_ts") or "")
    if thread_ts and thread_ts != event.get("ts"):
        thread = ChatThread.objects.filter(channel=channel, thread_id=thread_ts).select_related("ticket__desk").first()
        if thread is None:
            return None, "a reply in a thread that is no ticket's"
        tickets.add_comment(person, thread.ticket, text or "(an empty message)", public=True, channel=Channel.CHAT)
        return thread.ticket, f"comment on {thread.ticket.number}"
    ticket = _open(person, desk, text)
    ChatThread.objects.create(channel=channel, thread_id=str(event.get("ts", "")), ticket=ticket)
    transaction.on_commit(lambda: _post_safely(channel.channel_id, str(event.get("ts", "")),
                                               f"Opened {ticket.number}. Replies in this thread reach the "
                                               f"{desk.name} desk.\n{_link(ticket)}"))
    return ticket, f"opened {ticket.number}"


def _open(person: User, desk: Desk, text: str) -> Ticket:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "") or "(no text)"
    title = first if len(first) <= TITLE_MAX else first[: TITLE_MAX - 1] + "…"
    return tickets.open_ticket(person, desk=desk, title=title, description=text, channel=Channel.CHAT,
                               door=Channel.CHAT)


def _person(slack_user: str) -> User:
    """The account of a Slack user, by the e-mail address Slack has for them; a new requester when none."""
    if not slack_user:
        raise InvalidInput({"user": "the event names no Slack user"})
    address, name = client.email_of(slack_user)
    if not address:
        raise InvalidInput({"user": f"Slack has no e-mail address for {slack_user} (scope users:read.email)"})
    found = User.objects.filter(email__iexact=address).order_by("-is_active", "pk").first()
    if found is not None:
        if not found.is_active:
            raise NotAllowed(f"{address} belongs to a disabled account")
        return found
    username = address.lower()[:150]
    while User.objects.filter(username__iexact=username).exists():
        username = f"{address.lower()[:140]}-{User.objects.count()}"
    return accounts.create_user(username, email=address, display_name=name[:150])


def _link(ticket: Ticket) -> str:
    from django.urls import reverse

    return f"{settings.OUTCOMEDESK_BASE_URL}{reverse('portal:ticket', args=[ticket.number])}"


def _respond(response_url: str, text: str) -> None:
    """Answer a slash command through its response_url (valid for 30 minutes)."""
    if not response_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        return
    request = urllib.request.Request(response_url, data=json.dumps({"response_type": "ephemeral", "text": text})  # noqa: S310
                                     .encode(), method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=settings.OUTCOMEDESK_SLACK_TIMEOUT):  # noqa: S310
            pass
    except OSError as exc:
        log.warning("slash command answer failed: %s", exc)


def _post_safely(channel: str, thread_ts: str, text: str) -> None:
    try:
        client.post(channel, thread_ts, text)
    except client.SlackError as exc:
        log.warning("Slack reply failed: %s", exc)


# --- agents' replies back to the thread ----------------------------------------------------------------------

def _any_chat_channel() -> bool:
    return ChatChannel.objects.exists()


# Asked on every public reply: kept per process until a channel changes (core.config_cache). Without any channel
# there is no thread (a thread belongs to a channel), and no need to look for one.
CHANNELS_EXIST = ConfigCache("chat_channels", _any_chat_channel, [ChatChannel])


def on_comment_added(comment: Comment, **_: Any) -> None:
    """A public reply of the desk's staff on a ticket with a Slack thread goes to that thread after commit."""
    if not comment.is_public or comment.channel == Channel.CHAT or comment.author_id is None:
        return
    if not CHANNELS_EXIST.get():
        return
    thread = ChatThread.objects.filter(ticket_id=comment.ticket_id).select_related("channel").first()
    if thread is None or not policy.can(comment.author, policy.WORK, comment.ticket):
        return
    from outcomedesk.intake.tasks import post_chat_reply

    transaction.on_commit(lambda: post_chat_reply.delay(comment.pk))


def post_reply(comment_id: int) -> bool:
    """Post one agent reply to its ticket's thread (the task of `on_comment_added`), once: the post is recorded in
    the transaction that makes it, so a task run again (a retry, a redelivery) finds it and posts nothing."""
    from outcomedesk.core.html import html_to_text

    comment = Comment.objects.select_related("author", "ticket").filter(pk=comment_id).first()
    thread = ChatThread.objects.select_related("channel").filter(ticket_id=comment.ticket_id).first() if comment \
        else None
    if comment is None or thread is None:
        return False
    who = comment.author.display_name or comment.author.username if comment.author else "The desk"
    with transaction.atomic():
        try:
            with transaction.atomic():
                post = ChatPost.objects.create(comment=comment, thread=thread, posted_at=clock.now())
        except IntegrityError:
            return False  # posted already
        # A failure here rolls the record back, and the task's retry posts it.
        post.message_ts = client.post(thread.channel.channel_id, thread.thread_id,
                                      f"*{who}*: {html_to_text(comment.body)}")
        post.save(update_fields=["message_ts"])
    return True


# --- channels --------------------------------------------------------------------------------------------------

CHANNEL_FIELDS = ("platform", "channel_id", "name", "desk", "is_active")


def save_chat_channel(actor: Any, values: dict[str, Any], *, channel: ChatChannel | None = None) -> ChatChannel:
    """Connect a chat channel to a desk, or change it (the desk's managers)."""
    row = channel or ChatChannel(platform=ChatPlatform.SLACK)
    fields, desk = configuration.merged(actor, values, CHANNEL_FIELDS, row, saved=channel is not None,
                                        what="chat channel")
    errors: dict[str, str] = {}
    if fields["platform"] not in ChatPlatform.values:
        errors["platform"] = f"must be one of {', '.join(ChatPlatform.values)}"
    channel_id = str(fields["channel_id"] or "").strip()
    if not channel_id:
        errors["channel_id"] = "is required (Slack: the channel's id, C0...)"
    elif ChatChannel.objects.filter(platform=fields["platform"], channel_id=channel_id).exclude(pk=row.pk).exists():
        errors["channel_id"] = f"{channel_id} is connected to a desk already"
    if errors:
        raise InvalidInput(errors)
    row.platform, row.channel_id, row.name = fields["platform"], channel_id, str(fields["name"] or "").strip()[:100]
    row.desk, row.is_active = desk, bool(fields["is_active"])
    row.save()
    return row
