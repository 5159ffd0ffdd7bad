"""Microsoft Teams into tickets, by either of its two ways in. Both act alike: in a connected channel, a message
that @mentions the desk opens a ticket as its author, and a later message in that ticket's thread is a comment.

- The bot (Bot Framework, `POST /api/v1/intake/teams/bot`): the Bot Connector sends every activity with its signed
  token (`botauth`). The door keeps a person's message once (`accept_activity`) and answers at once; a background
  task does the work (`handle`), and another posts the bot's answer in the thread through the Bot Connector
  (`post_answer`), as agents' later public replies are posted (`intake.chat`).
- The outgoing webhook (`POST /api/v1/intake/teams`): Teams signs each request with `Authorization: HMAC <base64
  HMAC-SHA256 of the raw body, keyed with the base64-decoded security token Teams gave when the webhook was made>`
  (OUTCOMEDESK_TEAMS_SECURITY_TOKEN) and waits five seconds for the answer, which it posts as the reply; opening a
  ticket takes milliseconds, so it is done in the request (`receive`). It can never post later.

People are found by their Entra ID object id (`from.aadObjectId`), which single sign-on through Entra ID stores as
the account's directory id; someone not yet known is asked to sign in once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from outcomedesk.accounts.models import User
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.html import html_to_text
from outcomedesk.core.models import Channel
from outcomedesk.intake import chat
from outcomedesk.intake.models import ChatChannel, ChatEvent, ChatPlatform, ChatPost, ChatThread
from outcomedesk.intake.teams import client
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket

TITLE_MAX = 200
_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)
NOT_CONNECTED = "This channel is not connected to a desk: ask your service desk to connect it."
IN_A_CHANNEL = "Mention me in your service desk's Teams channel to open a ticket there."
UNKNOWN_PERSON = "I don't know you yet: sign in to the service desk once with single sign-on, then try again."


# --- what both ways share ----------------------------------------------------------------------------------------

def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _channel(activity: dict[str, Any]) -> ChatChannel | None:
    data = _object(activity.get("channelData"))
    inner = _object(data.get("channel"))
    channel_id = str(inner.get("id") or data.get("teamsChannelId") or "")
    if not channel_id:
        return None
    return ChatChannel.objects.filter(platform=ChatPlatform.TEAMS, channel_id=channel_id,
                                      is_active=True).select_related("desk").first()


def _person(activity: dict[str, Any]) -> User | None:
    sender = _object(activity.get("from"))
    return User.objects.filter(directory_id=str(sender.get("aadObjectId") or "-"), is_active=True).first()


def _conversation(activity: dict[str, Any]) -> str:
    return str(_object(activity.get("conversation")).get("id") or "")


def _root(activity: dict[str, Any]) -> str:
    """The id of the thread's first message: Teams names it in the conversation id (`…;messageid=<id>`)."""
    return _conversation(activity).partition(";messageid=")[2] or str(activity.get("id") or "")


def _thread(channel: ChatChannel, activity: dict[str, Any]) -> ChatThread | None:
    return ChatThread.objects.filter(channel=channel, thread_id=_root(activity)).select_related(
        "ticket__desk").first()


def _act(activity: dict[str, Any], channel: ChatChannel, person: User, thread: ChatThread | None, *,
         bot: bool) -> tuple[Ticket, str, str]:
    """Open a ticket, or add to the thread's: (the ticket, what was done, the answer). The bot's threads keep where
    later posts go; a thread the webhook opened learns it the first time the bot hears from it."""
    text = html_to_text(_MENTION.sub("", str(activity.get("text") or ""))).strip()
    service_url, conversation = (str(activity.get("serviceUrl") or ""), _conversation(activity)) if bot else ("", "")
    if thread is not None:
        tickets.add_comment(person, thread.ticket, text or "(an empty message)", public=True, channel=Channel.CHAT)
        if bot and (thread.service_url, thread.conversation_id) != (service_url, conversation):
            thread.service_url, thread.conversation_id = service_url, conversation
            thread.save(update_fields=["service_url", "conversation_id"])
        return thread.ticket, f"comment on {thread.ticket.number}", f"Added to {thread.ticket.number}."
    first = next((line.strip() for line in text.splitlines() if line.strip()), "") or "(no text)"
    ticket = tickets.open_ticket(person, desk=channel.desk, title=first[:TITLE_MAX], description=text,
                                 channel=Channel.CHAT, door=Channel.CHAT)
    ChatThread.objects.create(channel=channel, thread_id=_root(activity), ticket=ticket, service_url=service_url,
                              conversation_id=conversation)
    return (ticket, f"opened {ticket.number}",
            f"Opened {ticket.number}: {ticket.title}. Mention me in this thread to add to it.")


# --- the bot ---------------------------------------------------------------------------------------------------

def accept_activity(activity: dict[str, Any]) -> None:
    """An activity the Bot Connector sent (its token checked against it already): a person's message is kept, once,
    for the background task; other activities (the bot added to a team, a reaction, typing) need nothing. A field
    the Bot Framework always sends that is missing or malformed is a 400 naming it; nothing is kept then."""
    errors: dict[str, str] = {}
    kind = _field(activity, "type", errors)
    service_url = _field(activity, "serviceUrl", errors, longest=300)
    _field(activity, "channelId", errors)
    if service_url and not service_url.startswith(("https://", "http://")):
        errors["serviceUrl"] = "must be an http(s) address"
    if kind == "message":
        _field(activity, "id", errors, longest=100)
        _field(activity, "conversation.id", errors, longest=300)
        _field(activity, "from.id", errors)
        _field(activity, "recipient.id", errors)
    if not errors and kind == "message" and len(_root(activity)) > 100:
        errors["conversation.id"] = "names a thread (;messageid=) longer than 100 characters"
    if errors:
        raise InvalidInput(errors)
    if kind != "message" or activity["channelId"] != "msteams":
        return
    sender, bot = activity["from"], activity["recipient"]
    if sender.get("role") == "bot" or sender["id"] == bot["id"]:
        return  # a bot's message, never a person's request
    channel = _channel(activity)
    key = hashlib.sha256(_conversation(activity).encode()).hexdigest()[:40]
    try:
        with transaction.atomic():
            row = ChatEvent.objects.create(platform=ChatPlatform.TEAMS, event_id=f"{activity['id'][:50]}@{key}",
                                           desk=channel.desk if channel else None,
                                           payload={"kind": "bot", "activity": activity}, received_at=clock.now())
    except IntegrityError:
        return  # the Bot Connector delivered it again: kept already
    from outcomedesk.intake.tasks import handle_chat_event

    transaction.on_commit(lambda: handle_chat_event.delay(row.pk))


def _field(activity: dict[str, Any], path: str, errors: dict[str, str], *, longest: int = 1000) -> str:
    value: Any = activity
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value.strip():
        errors[path] = "is required (a string)"
        return ""
    if len(value) > longest:
        errors[path] = f"is longer than {longest} characters"
        return ""
    return value


def _mentions_bot(activity: dict[str, Any]) -> bool:
    bot = _object(activity.get("recipient")).get("id")
    entities = activity.get("entities")
    if not isinstance(entities, list):
        return False
    return any(isinstance(e, dict) and e.get("type") == "mention" and isinstance(e.get("mentioned"), dict)
               and e["mentioned"].get("id") == bot for e in entities)


def handle(event_pk: int) -> ChatEvent | None:
    """Do what a kept message asks, as its author, and queue the answer; safe to run twice (a handled message is
    left alone). A message that neither mentions the bot nor is in a ticket's thread (the bot may read a whole
    channel) is let be, unanswered; one in a chat with the bot alone is pointed to the desk's channel."""
    from outcomedesk.intake.tasks import post_chat_answer

    with transaction.atomic():
        row = ChatEvent.objects.select_for_update().filter(pk=event_pk, platform=ChatPlatform.TEAMS,
                                                           handled_at__isnull=True).first()
        if row is None:
            return None
        activity: dict[str, Any] = row.payload.get("activity") or {}
        channel = _channel(activity)
        thread = _thread(channel, activity) if channel else None
        ticket: Ticket | None = None
        personal = _object(activity.get("conversation")).get("conversationType") == "personal"
        if thread is None and not _mentions_bot(activity) and not personal:
            outcome, answer = "not addressed to the bot", ""
        elif channel is None:
            outcome, answer = "no desk", IN_A_CHANNEL if personal else NOT_CONNECTED
        elif (person := _person(activity)) is None:
            outcome, answer = "unknown person", UNKNOWN_PERSON
        else:
            try:
                with transaction.atomic():
                    ticket, outcome, answer = _act(activity, channel, person, thread, bot=True)
            except (InvalidInput, NotAllowed, NotFound) as exc:
                outcome, answer = f"refused: {exc.message}", f"That did not work: {exc.message}"
        row.ticket, row.outcome, row.answer, row.handled_at = ticket, outcome[:300], answer, clock.now()
        row.save(update_fields=["ticket", "outcome", "answer", "handled_at"])
        if answer:
            transaction.on_commit(lambda: post_chat_answer.delay(row.pk))
    return row


def post_answer(event_pk: int) -> bool:
    """Post the bot's answer to a handled message, as a reply to it (the task of `handle`), once."""
    row = ChatEvent.objects.filter(pk=event_pk, platform=ChatPlatform.TEAMS, handled_at__isnull=False).first()
    if row is None or not row.answer:
        return False
    activity: dict[str, Any] = row.payload["activity"]
    thread = ChatThread.objects.filter(ticket_id=row.ticket_id).first() if row.ticket_id else None
    sender, bot = activity["from"], activity["recipient"]
    answer = {"type": "message", "textFormat": "plain", "text": row.answer,
              "from": {"id": bot["id"], "name": str(bot.get("name") or "")},
              "recipient": {"id": sender["id"], "name": str(sender.get("name") or "")},
              "conversation": {"id": _conversation(activity)}}
    client.access_token()  # before the transaction of post_once, which stays open while the post is under way
    return chat.post_once(ChatPost(event=row, thread=thread), lambda: client.reply(
        activity["serviceUrl"], _conversation(activity), activity["id"], answer))


# --- the outgoing webhook --------------------------------------------------------------------------------------

class BadSignature(Exception):
    """Not signed by Teams with this webhook's security token."""


def verify(authorization: str | None, body: bytes) -> None:
    token = settings.OUTCOMEDESK_TEAMS_SECURITY_TOKEN
    if not token:
        raise BadSignature("Teams is not configured here (OUTCOMEDESK_TEAMS_SECURITY_TOKEN)")
    if not authorization or not authorization.startswith("HMAC "):
        raise BadSignature("Authorization: HMAC ... is required")
    try:
        key = base64.b64decode(token)
    except (binascii.Error, ValueError):
        raise BadSignature("OUTCOMEDESK_TEAMS_SECURITY_TOKEN is not base64") from None
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, authorization[5:].strip()):
        raise BadSignature("the HMAC does not match the body")


def reply(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text}


def receive(activity: dict[str, Any]) -> dict[str, Any]:
    """One verified activity of the outgoing webhook: the answer Teams posts in the thread."""
    if activity.get("type") != "message":
        raise InvalidInput({"type": "must be message"})
    channel = _channel(activity)
    if channel is None:
        return reply(NOT_CONNECTED)
    person = _person(activity)
    if person is None:
        return reply(UNKNOWN_PERSON)
    try:
        with transaction.atomic():
            _, _, answer = _act(activity, channel, person, _thread(channel, activity), bot=False)
    except (InvalidInput, NotAllowed, NotFound) as exc:
        return reply(f"That did not work: {exc.message}")
    return reply(answer)
