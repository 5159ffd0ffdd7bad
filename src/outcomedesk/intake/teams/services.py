"""Microsoft Teams' outgoing webhook: a message that @mentions the desk in a connected channel opens a ticket as
its author and is answered in the thread with the ticket's number; a later mention in that thread is a comment.

Teams signs each request: `Authorization: HMAC <base64 HMAC-SHA256 of the raw body, keyed with the base64-decoded
security token Teams gave when the webhook was made>` (OUTCOMEDESK_TEAMS_SECURITY_TOKEN). Teams waits five seconds
for the answer, which it posts as the reply; opening a ticket takes milliseconds, so it is done in the request.
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
from django.db import transaction

from outcomedesk.accounts.models import User
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.html import html_to_text
from outcomedesk.core.models import Channel
from outcomedesk.intake.models import ChatChannel, ChatPlatform, ChatThread
from outcomedesk.tickets import services as tickets

TITLE_MAX = 200
_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)


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
    """One verified activity: the answer Teams posts in the thread."""
    if activity.get("type") != "message":
        raise InvalidInput({"type": "must be message"})
    data = activity.get("channelData") or {}
    channel_id = str((data.get("channel") or {}).get("id") or data.get("teamsChannelId") or "")
    channel = ChatChannel.objects.filter(platform=ChatPlatform.TEAMS, channel_id=channel_id,
                                         is_active=True).select_related("desk").first()
    if channel is None:
        return reply("This channel is not connected to a desk: ask your service desk to connect it.")
    sender = activity.get("from") or {}
    person = User.objects.filter(directory_id=str(sender.get("aadObjectId") or "-"), is_active=True).first()
    if person is None:
        return reply("I don't know you yet: sign in to the service desk once with single sign-on, then try again.")
    text = html_to_text(_MENTION.sub("", str(activity.get("text") or ""))).strip()
    conversation = str((activity.get("conversation") or {}).get("id") or "")
    root = conversation.partition(";messageid=")[2] or str(activity.get("id") or "")
    thread = ChatThread.objects.filter(channel=channel, thread_id=root).select_related("ticket__desk").first()
    try:
        with transaction.atomic():
            if thread is not None:
                tickets.add_comment(person, thread.ticket, text or "(an empty message)", public=True,
                                    channel=Channel.CHAT)
                return reply(f"Added to {thread.ticket.number}.")
            first = next((line.strip() for line in text.splitlines() if line.strip()), "") or "(no text)"
            ticket = tickets.open_ticket(person, desk=channel.desk, title=first[:TITLE_MAX], description=text,
                                         channel=Channel.CHAT, door=Channel.CHAT)
            ChatThread.objects.create(channel=channel, thread_id=str(activity.get("id") or root), ticket=ticket)
    except (InvalidInput, NotAllowed, NotFound) as exc:
        return reply(f"That did not work: {exc.message}")
    return reply(f"Opened {ticket.number}: {ticket.title}. Mention me in this thread to add to it.")
