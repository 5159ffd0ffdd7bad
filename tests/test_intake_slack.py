"""Slack: requests signed as Slack signs them (slack_sdk's own verifier agrees with the tests' signing) open
tickets from a desk's channel and from `/ticket`, a reply in the ticket's thread is a comment, an agent's public
reply goes back to the thread through Slack's Web API (a local server speaking it); unsigned, badly signed and
replayed requests get 401; the same event delivered twice is one ticket."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client, TestCase
from slack_sdk.signature import SignatureVerifier

from outcomedesk.core.models import Channel
from outcomedesk.intake.models import ChatChannel, ChatEvent, ChatThread
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Comment, Ticket
from tests.chat_servers import SlackApi
from tests.conftest import World

pytestmark = pytest.mark.django_db
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the signing secret of Slack's documentation example
TOKEN = "xoxb-test-bot-token"


@pytest.fixture
def slack(world: World, settings: Any) -> Iterator[SlackApi]:
    api = SlackApi({"U1ALICE": ("alice@example.org", "Alice Requester"),
                    "U2ZOE": ("zoe@example.net", "Zoe Newcomer")}, TOKEN).start()
    settings.OUTCOMEDESK_SLACK_SIGNING_SECRET = SECRET
    settings.OUTCOMEDESK_SLACK_BOT_TOKEN = TOKEN
    settings.OUTCOMEDESK_SLACK_API_URL = api.url
    ChatChannel.objects.create(platform="slack", channel_id="C0IT", name="#it-help", desk=world.it)
    yield api
    api.stop()


def signed(body: bytes, *, at: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Headers of a request signed as Slack documents it, checked against slack_sdk's verifier."""
    timestamp = str(at if at is not None else int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body,
                                 hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= 5 * 60
    assert SignatureVerifier(secret).is_valid(body, timestamp, signature) == fresh  # Slack's SDK agrees
    return {"HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp, "HTTP_X_SLACK_SIGNATURE": signature}


def event(text: str, *, user: str = "U1ALICE", ts: str = "1700000000.000100", thread_ts: str | None = None,
          event_id: str = "Ev1", **extra: Any) -> bytes:
    message: dict[str, Any] = {"type": "message", "channel": "C0IT", "user": user, "text": text, "ts": ts, **extra}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return json.dumps({"type": "event_callback", "event_id": event_id, "team_id": "T1", "event": message}).encode()


def post_event(body: bytes, **headers: str) -> Any:
    """Post as Slack does; what the request queued for after its commit (the background task) runs too."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client().post("/api/v1/intake/slack/events", body, content_type="application/json",
                             **(headers or signed(body)))


def test_the_url_check_answers_the_challenge(slack: SlackApi) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
                       }).encode()
    answer = post_event(body)
    assert answer.status_code == 200 and answer.json() == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_a_message_opens_a_ticket_and_the_thread_answers(slack: SlackApi, world: World) -> None:
    assert post_event(event("The printer on floor 3 jams\nEvery page, since this morning.")).status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.requester, ticket.desk, ticket.channel, ticket.title) == (
        world.alice, world.it, Channel.CHAT, "The printer on floor 3 jams")
    assert ChatThread.objects.get().thread_id == "1700000000.000100"
    [reply] = slack.posted()
    assert reply["channel"] == "C0IT" and reply["thread_ts"] == "1700000000.000100"
    assert f"Opened {ticket.number}" in reply["text"]


def test_the_same_event_delivered_twice_is_one_ticket(slack: SlackApi) -> None:
    body = event("VPN drops")
    post_event(body)
    post_event(body)  # Slack retries when it is not sure we got it
    assert Ticket.objects.count() == 1 and ChatEvent.objects.count() == 1


def test_a_thread_reply_is_a_comment_and_an_agents_reply_goes_back(slack: SlackApi, world: World) -> None:
    post_event(event("VPN drops"))
    ticket = Ticket.objects.get()
    post_event(event("Still dropping after the restart", ts="1700000100.000200", thread_ts="1700000000.000100",
                     event_id="Ev2"))
    comment = Comment.objects.get(ticket=ticket)
    assert (comment.author, comment.channel, comment.is_public) == (world.alice, Channel.CHAT, True)

    with TestCase.captureOnCommitCallbacks(execute=True):
        tickets.add_comment(world.bob, ticket, "Please update the VPN client to 5.2", public=True)
        tickets.add_comment(world.bob, ticket, "internal: known issue", public=False)  # never leaves the desk
    back = [p for p in slack.posted() if "VPN client" in p["text"] or "internal" in p["text"]]
    assert [(p["thread_ts"], p["text"]) for p in back] == [
        ("1700000000.000100", "*Bob Agent*: Please update the VPN client to 5.2")]


def test_bots_edits_and_other_channels_are_not_tickets(slack: SlackApi) -> None:
    post_event(event("our own reply", bot_id="B1", event_id="Ev3"))
    post_event(event("edited", subtype="message_changed", event_id="Ev4"))
    other = json.loads(event("elsewhere", event_id="Ev5"))
    other["event"]["channel"] = "C0RANDOM"
    post_event(json.dumps(other).encode())
    assert not Ticket.objects.exists()


def test_an_unknown_slack_user_becomes_a_requester(slack: SlackApi) -> None:
    post_event(event("Badge does not open the door", user="U2ZOE"))
    assert Ticket.objects.get().requester.email == "zoe@example.net"


@pytest.mark.parametrize("headers", [
    {},
    {"HTTP_X_SLACK_REQUEST_TIMESTAMP": str(int(time.time())), "HTTP_X_SLACK_SIGNATURE": "v0=" + "0" * 64},
])
def test_unsigned_and_badly_signed_requests_get_401(slack: SlackApi, headers: dict[str, str]) -> None:
    body = event("let me in")
    answer = Client().post("/api/v1/intake/slack/events", body, content_type="application/json", **headers)
    assert answer.status_code == 401 and not ChatEvent.objects.exists()


def test_a_replayed_request_gets_401(slack: SlackApi) -> None:
    body = event("once upon a time")
    old = signed(body, at=int(time.time()) - 6 * 60)  # validly signed, six minutes ago
    assert post_event(body, **old).status_code == 401
    assert post_event(body, **signed(body, secret="another app's secret")).status_code == 401


def test_the_slash_command_opens_a_ticket_and_answers(slack: SlackApi, world: World) -> None:
    form = urlencode({"command": "/ticket", "text": "Laptop will not charge", "user_id": "U1ALICE",
                      "channel_id": "C0IT", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
                      "response_url": f"{slack.url}/commands/T1/1234/abcd"}).encode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = Client().post("/api/v1/intake/slack/command", form,
                               content_type="application/x-www-form-urlencoded", **signed(form))
    assert answer.status_code == 200 and answer.json()["response_type"] == "ephemeral"
    ticket = Ticket.objects.get()
    assert (ticket.requester, ticket.title) == (world.alice, "Laptop will not charge")
    responses = [body for method, body in slack.calls if method == "abcd"]
    assert responses and ticket.number in responses[0]["text"]


def test_only_the_desks_managers_connect_its_channels(world: World) -> None:
    from outcomedesk.core.errors import InvalidInput, NotAllowed
    from outcomedesk.intake.slack.services import save_chat_channel

    connected = save_chat_channel(world.dave, {"channel_id": "C0NEW", "name": "#it", "desk": world.it})
    assert connected.platform == "slack"
    with pytest.raises(NotAllowed):
        save_chat_channel(world.bob, {"name": "mine"}, channel=connected)
    with pytest.raises(InvalidInput) as caught:
        save_chat_channel(world.dave, {"channel_id": "C0NEW", "desk": world.it})
    assert "channel_id" in caught.value.errors


def test_an_agents_reply_is_posted_once_however_often_its_task_runs(slack: SlackApi, world: World) -> None:
    from outcomedesk.intake.chat import post_reply

    post_event(event("VPN drops"))
    ticket = Ticket.objects.get()
    with TestCase.captureOnCommitCallbacks(execute=True):
        comment = tickets.add_comment(world.bob, ticket, "Try the new client", public=True)
    assert post_reply(comment.pk) is False  # run again (a retry): nothing more is posted
    assert [p["text"] for p in slack.posted()].count("*Bob Agent*: Try the new client") == 1


def test_without_any_chat_channel_a_reply_looks_for_no_thread(world: World) -> None:
    """A thread belongs to a channel: with none connected, an agent's reply asks nothing about threads."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests import factories as f

    ticket = f.make_ticket(world.alice, world.it)
    with CaptureQueriesContext(connection) as captured:
        tickets.add_comment(world.bob, ticket, "On it", public=True)
    assert not [q for q in captured.captured_queries if "intake_chatthread" in q["sql"]]
    ChatChannel.objects.create(platform="slack", channel_id="C0IT", name="#it-help", desk=world.it)
    with CaptureQueriesContext(connection) as captured:
        tickets.add_comment(world.bob, ticket, "Still on it", public=True)
    assert [q for q in captured.captured_queries if "intake_chatthread" in q["sql"]]
