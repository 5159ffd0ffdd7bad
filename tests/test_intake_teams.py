"""Microsoft Teams' outgoing webhook: requests signed as Teams signs them (HMAC-SHA256 of the body, keyed with the
base64-decoded security token) open a ticket from a mention in a connected channel and answer in the thread; a
later mention in the thread is a comment; unsigned or wrongly signed requests get 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client

from outcomedesk.core.models import Channel
from outcomedesk.intake.models import ChatChannel
from outcomedesk.tickets.models import Comment, Ticket
from tests.conftest import World

pytestmark = pytest.mark.django_db
TOKEN = base64.b64encode(b"the security token Teams shows once").decode()
CHANNEL = "19:c0ffee@thread.tacv2"


@pytest.fixture
def teams(world: World, settings: Any) -> None:
    settings.OUTCOMEDESK_TEAMS_SECURITY_TOKEN = TOKEN
    ChatChannel.objects.create(platform="teams", channel_id=CHANNEL, name="IT help", desk=world.it)
    world.alice.directory_id = "aad-alice-0001"
    world.alice.save(update_fields=["directory_id"])


def activity(text: str, *, message_id: str = "1700000000001", thread: str | None = None,
             aad: str = "aad-alice-0001") -> bytes:
    conversation = f"{CHANNEL};messageid={thread or message_id}"
    return json.dumps({
        "type": "message", "id": message_id, "channelId": "msteams", "serviceUrl": "https://smba.example/",
        "from": {"id": "29:1abc", "name": "Alice Requester", "aadObjectId": aad},
        "conversation": {"isGroup": True, "id": conversation},
        "text": f"<at>Service desk</at> {text}",
        "channelData": {"teamsChannelId": CHANNEL, "teamsTeamId": "19:team@thread.tacv2",
                        "channel": {"id": CHANNEL}},
    }).encode()


def post(body: bytes, *, token: str = TOKEN) -> Any:
    signature = base64.b64encode(hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()).decode()
    return Client().post("/api/v1/intake/teams", body, content_type="application/json",
                         HTTP_AUTHORIZATION=f"HMAC {signature}")


def test_a_mention_opens_a_ticket_and_a_later_one_in_the_thread_adds_to_it(teams: None, world: World) -> None:
    answer = post(activity("The projector in room 2 shows no picture"))
    assert answer.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.requester, ticket.channel, ticket.title) == (
        world.alice, Channel.CHAT, "The projector in room 2 shows no picture")
    assert answer.json() == {"type": "message", "text": f"Opened {ticket.number}: {ticket.title}. Mention me in "
                                                        "this thread to add to it."}
    again = post(activity("Still nothing after a restart", message_id="1700000000999", thread="1700000000001"))
    assert again.json()["text"] == f"Added to {ticket.number}."
    assert "Still nothing after a restart" in Comment.objects.get(ticket=ticket).body


def test_a_mention_inside_a_thread_without_a_ticket_opens_one_for_the_whole_thread(teams: None) -> None:
    post(activity("The door badge reader is dead", message_id="1700000000500", thread="1700000000400"))
    ticket = Ticket.objects.get()
    answer = post(activity("Still dead", message_id="1700000000600", thread="1700000000400"))
    assert answer.json()["text"] == f"Added to {ticket.number}." and Ticket.objects.count() == 1


def test_someone_unknown_is_asked_to_sign_in_once(teams: None) -> None:
    answer = post(activity("Help", aad="aad-stranger"))
    assert "sign in to the service desk once" in answer.json()["text"] and not Ticket.objects.exists()


def test_unsigned_and_wrongly_signed_requests_get_401(teams: None) -> None:
    body = activity("let me in")
    assert Client().post("/api/v1/intake/teams", body, content_type="application/json").status_code == 401
    other = base64.b64encode(b"another webhook's token").decode()
    assert post(body, token=other).status_code == 401
    assert not Ticket.objects.exists()
