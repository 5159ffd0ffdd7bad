"""Microsoft Teams through a Bot Framework bot, against local servers speaking Microsoft's protocols: the Bot
Connector's OpenID metadata and signing keys (whose key signs the tests' tokens), Entra ID's token endpoint (client
credentials) and the Bot Connector's REST API (recording what the bot posts). Activities carrying the Bot
Connector's valid token open tickets and add comments as their authors, and the bot's answers and agents' public
replies arrive at the Bot Connector after commit, once; any flaw of the token is a 401 naming it, a payload that is
no activity a 400 naming the field, and neither keeps anything."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client, TestCase

from outcomedesk.core import clock
from outcomedesk.core.models import Channel
from outcomedesk.intake.models import ChatChannel, ChatEvent, ChatPost, ChatThread
from outcomedesk.intake.teams import botauth, client
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Comment, Ticket
from tests.chat_servers import BotConnector, BotConnectorKeys, EntraTokenEndpoint
from tests.conftest import World

pytestmark = pytest.mark.django_db
APP_ID = "3f9c6a52-7d0e-4b1a-9c55-0b07de5c0001"
SECRET = "the bot's client secret"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BOT = f"28:{APP_ID}"
CHANNEL = "19:c0ffee@thread.tacv2"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # the Bot Connector's, published
FORGED = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # anyone else's


@dataclass
class Microsoft:
    keys: BotConnectorKeys
    tokens: EntraTokenEndpoint
    connector: BotConnector


@pytest.fixture
def microsoft(world: World, settings: Any) -> Iterator[Microsoft]:
    keys = BotConnectorKeys(KEY, kid="bf-key-1").start()
    tokens = EntraTokenEndpoint(APP_ID, SECRET, tenant=TENANT).start()
    connector = BotConnector(tokens).start()
    settings.OUTCOMEDESK_TEAMS_APP_ID = APP_ID
    settings.OUTCOMEDESK_TEAMS_APP_PASSWORD = SECRET
    settings.OUTCOMEDESK_TEAMS_OPENID_URL = keys.openid_url
    settings.OUTCOMEDESK_TEAMS_TOKEN_URL = tokens.token_url
    botauth.forget_keys()
    client.forget_tokens()
    ChatChannel.objects.create(platform="teams", channel_id=CHANNEL, name="IT help", desk=world.it)
    world.alice.directory_id = "aad-alice-0001"
    world.alice.save(update_fields=["directory_id"])
    yield Microsoft(keys, tokens, connector)
    for server in (keys, tokens, connector):
        server.stop()


def activity(ms: Microsoft, text: str, *, message_id: str = "1700000000001", thread: str | None = None,
             aad: str = "aad-alice-0001", mention: bool = True, channel: str = CHANNEL) -> dict[str, Any]:
    """A message as the Bot Connector delivers it from a Teams channel."""
    mentioned = [{"type": "mention", "mentioned": {"id": BOT, "name": "Service desk"},
                  "text": "<at>Service desk</at>"}] if mention else []
    return {
        "type": "message", "id": message_id, "timestamp": "2026-12-07T09:00:00.000Z", "channelId": "msteams",
        "serviceUrl": ms.connector.service_url,
        "from": {"id": "29:1alice", "name": "Alice Requester", "aadObjectId": aad},
        "conversation": {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
                         "id": f"{channel};messageid={thread or message_id}"},
        "recipient": {"id": BOT, "name": "Service desk"},
        "text": f"<at>Service desk</at> {text}" if mention else text, "textFormat": "plain", "entities": mentioned,
        "channelData": {"teamsChannelId": channel, "teamsTeamId": "19:team@thread.tacv2", "channel": {"id": channel},
                        "tenant": {"id": TENANT}},
    }


def claims(ms: Microsoft, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://api.botframework.com", "aud": APP_ID, "nbf": now - 60, "exp": now + 3600,
            "serviceurl": ms.connector.service_url, **overrides}


def deliver(ms: Microsoft, body: dict[str, Any] | bytes, *, token: str | None = None,
            authorization: str | None = None) -> Any:
    """POST as the Bot Connector does; what the request queued for after its commit runs too (the tasks)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = authorization if authorization is not None else f"Bearer {token or ms.keys.token(claims(ms))}"
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client().post("/api/v1/intake/teams/bot", raw, content_type="application/json",
                             HTTP_AUTHORIZATION=header)


def test_a_mention_opens_a_ticket_and_the_bot_answers_in_the_thread(microsoft: Microsoft, world: World) -> None:
    answer = deliver(microsoft, activity(microsoft, "The projector in room 2 shows no picture"))
    assert answer.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.requester, ticket.desk, ticket.channel, ticket.title) == (
        world.alice, world.it, Channel.CHAT, "The projector in room 2 shows no picture")
    thread = ChatThread.objects.get()
    assert (thread.thread_id, thread.service_url, thread.conversation_id) == (
        "1700000000001", microsoft.connector.service_url, f"{CHANNEL};messageid=1700000000001")
    [(conversation, replied_to, posted)] = microsoft.connector.posted
    assert (conversation, replied_to, posted["replyToId"]) == (
        f"{CHANNEL};messageid=1700000000001", "1700000000001", "1700000000001")
    assert posted["text"] == f"Opened {ticket.number}: {ticket.title}. Mention me in this thread to add to it."
    assert (posted["type"], posted["from"]["id"], posted["recipient"]["id"]) == ("message", BOT, "29:1alice")
    # The access token came from the token endpoint of the bot's tenant, with its client credentials.
    assert microsoft.tokens.issued == ["access-token-1"]
    assert ChatPost.objects.get().event == ChatEvent.objects.get()


def test_a_message_in_the_thread_is_a_comment_and_an_agents_reply_goes_back(microsoft: Microsoft,
                                                                             world: World) -> None:
    deliver(microsoft, activity(microsoft, "VPN drops"))
    ticket = Ticket.objects.get()
    deliver(microsoft, activity(microsoft, "Still dropping after a restart", message_id="1700000000999",
                                thread="1700000000001"))
    comment = Comment.objects.get(ticket=ticket)
    assert (comment.author, comment.channel, comment.is_public, comment.body) == (
        world.alice, Channel.CHAT, True, "<p>Still dropping after a restart</p>")
    _, replied_to, posted = microsoft.connector.posted[-1]
    assert (replied_to, posted["text"]) == ("1700000000999", f"Added to {ticket.number}.")

    with TestCase.captureOnCommitCallbacks(execute=True):
        tickets.add_comment(world.bob, ticket, "Please update the VPN client to 5.2", public=True)
        tickets.add_comment(world.bob, ticket, "internal: known issue", public=False)  # never leaves the desk
    conversation, replied_to, posted = microsoft.connector.posted[-1]
    assert (conversation, replied_to) == (f"{CHANNEL};messageid=1700000000001", None)  # the thread, not a reply
    assert posted["text"] == "**Bob Agent**: Please update the VPN client to 5.2"
    assert not [p for p in microsoft.connector.posted if "internal" in p[2]["text"]]
    assert microsoft.tokens.issued == ["access-token-1"]  # one token served every post


def test_an_agents_reply_is_posted_once_however_often_its_task_runs(microsoft: Microsoft, world: World) -> None:
    from outcomedesk.intake.chat import post_reply

    deliver(microsoft, activity(microsoft, "VPN drops"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        comment = tickets.add_comment(world.bob, Ticket.objects.get(), "Try the new client", public=True)
    assert post_reply(comment.pk) is False  # run again (a retry): nothing more is posted
    assert [p["text"] for _, _, p in microsoft.connector.posted].count("**Bob Agent**: Try the new client") == 1


def test_the_same_activity_delivered_twice_is_one_ticket_and_one_answer(microsoft: Microsoft) -> None:
    body = activity(microsoft, "Badge does not open the door")
    deliver(microsoft, body)
    deliver(microsoft, body)  # the Bot Connector retries when it is not sure we got it
    assert Ticket.objects.count() == 1 and ChatEvent.objects.count() == 1
    assert len(microsoft.connector.posted) == 1


def test_an_answer_the_bot_connector_refuses_is_retried_and_posted_once(microsoft: Microsoft) -> None:
    from outcomedesk.intake.teams.services import post_answer

    microsoft.connector.failures = 1  # 503 once: the task's retry posts it
    deliver(microsoft, activity(microsoft, "Printer jams"))
    assert len(microsoft.connector.posted) == 1 and ChatPost.objects.count() == 1

    microsoft.connector.failures = 100  # down for good: the task gives up, and nothing is recorded as posted
    deliver(microsoft, activity(microsoft, "And the scanner", message_id="1700000000002"))
    second = ChatEvent.objects.get(event_id__startswith="1700000000002@")
    assert second.answer and not ChatPost.objects.filter(event=second).exists()
    microsoft.connector.failures = 0
    assert post_answer(second.pk) is True  # run later: posted
    assert post_answer(second.pk) is False  # and never twice
    assert [p["replyToId"] for _, _, p in microsoft.connector.posted] == ["1700000000001", "1700000000002"]


def test_someone_unknown_is_asked_to_sign_in_and_an_unconnected_channel_is_named(microsoft: Microsoft) -> None:
    deliver(microsoft, activity(microsoft, "Help", aad="aad-stranger"))
    deliver(microsoft, activity(microsoft, "Help", message_id="1700000000002", channel="19:elsewhere@thread.tacv2"))
    assert not Ticket.objects.exists()
    texts = [p["text"] for _, _, p in microsoft.connector.posted]
    assert "sign in to the service desk once" in texts[0] and "not connected to a desk" in texts[1]


def test_a_chat_with_the_bot_alone_is_pointed_to_the_desks_channel(microsoft: Microsoft) -> None:
    personal = activity(microsoft, "my laptop is slow", mention=False)
    personal["conversation"] = {"conversationType": "personal", "tenantId": TENANT, "id": "a:1Xq9personalChat"}
    personal["channelData"] = {"tenant": {"id": TENANT}}
    deliver(microsoft, personal)
    [(conversation, replied_to, posted)] = microsoft.connector.posted
    assert (conversation, replied_to) == ("a:1Xq9personalChat", "1700000000001")
    assert "Mention me in your service desk's Teams channel" in posted["text"] and not Ticket.objects.exists()


def test_messages_not_addressed_to_the_bot_and_other_activities_are_let_be(microsoft: Microsoft) -> None:
    # A bot allowed to read the whole channel hears messages that do not mention it: no ticket, no answer.
    assert deliver(microsoft, activity(microsoft, "lunch?", mention=False)).status_code == 200
    added = {"type": "conversationUpdate", "id": "f:1", "channelId": "msteams",
             "serviceUrl": microsoft.connector.service_url, "membersAdded": [{"id": BOT}],
             "conversation": {"id": CHANNEL}, "recipient": {"id": BOT}, "from": {"id": "29:1alice"}}
    assert deliver(microsoft, added).status_code == 200
    own = activity(microsoft, "Opened IT-1", message_id="1700000000003")
    own["from"] = {"id": BOT, "name": "Service desk", "role": "bot"}
    assert deliver(microsoft, own).status_code == 200
    assert not Ticket.objects.exists() and not microsoft.connector.posted
    assert ChatEvent.objects.get().outcome == "not addressed to the bot"


def test_a_thread_the_outgoing_webhook_opened_is_posted_to_once_the_bot_hears_from_it(
        microsoft: Microsoft, world: World, settings: Any) -> None:
    import base64
    import hashlib
    import hmac

    settings.OUTCOMEDESK_TEAMS_SECURITY_TOKEN = token = base64.b64encode(b"webhook token").decode()
    body = json.dumps(activity(microsoft, "Wifi is slow")).encode()
    signature = base64.b64encode(hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()).decode()
    Client().post("/api/v1/intake/teams", body, content_type="application/json",
                  HTTP_AUTHORIZATION=f"HMAC {signature}")
    ticket = Ticket.objects.get()
    with TestCase.captureOnCommitCallbacks(execute=True):
        tickets.add_comment(world.bob, ticket, "Which floor?", public=True)
    assert not microsoft.connector.posted  # the webhook cannot post later, and nothing tried (not Slack either)

    deliver(microsoft, activity(microsoft, "Floor 3", message_id="1700000000005", thread="1700000000001"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        tickets.add_comment(world.bob, ticket, "Fixed on floor 3", public=True)
    assert [p["text"] for _, _, p in microsoft.connector.posted] == [
        f"Added to {ticket.number}.", "**Bob Agent**: Fixed on floor 3"]


# --- the token ---------------------------------------------------------------------------------------------------

BAD_TOKENS = {
    "no header": (None, "Authorization: Bearer"),
    "another scheme": ("Basic Ym90OnNlY3JldA==", "Authorization: Bearer"),
    "not a JWT": ("Bearer not-a-jwt", "not a JWT"),
    "forged signature": ({"key": FORGED}, "signature does not verify"),
    "unknown key": ({"key": FORGED, "kid": "someone-elses"}, "not signed with any of the Bot Connector's keys"),
    "another issuer": ({"iss": "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"}, "not issued by"),
    "another bot": ({"aud": "5b2d0e1c-another-bot"}, "for another bot"),
    "expired": ({"exp": int(time.time()) - 600}, "has expired"),
    "no expiry": ({"exp": None}, "has no exp claim"),
    "another serviceUrl": ({"serviceurl": "https://attacker.example/"}, "serviceurl claim does not match"),
    "a shared-secret signature": ({"alg": "HS256"}, "signed with HS256"),
}


@pytest.mark.parametrize("case", BAD_TOKENS, ids=list(BAD_TOKENS))
def test_a_bad_token_is_401_naming_the_reason_and_keeps_nothing(microsoft: Microsoft, case: str) -> None:
    spec, reason = BAD_TOKENS[case]
    if isinstance(spec, dict):
        spec = dict(spec)
        key, kid, alg = spec.pop("key", None), spec.pop("kid", None), spec.pop("alg", "RS256")
        payload = {name: value for name, value in claims(microsoft, **spec).items() if value is not None}
        signing = b"a shared secret of 32 bytes or more!" if alg == "HS256" else key
        authorization = f"Bearer {microsoft.keys.token(payload, key=signing, kid=kid, alg=alg)}"
    else:
        authorization = spec or ""
    answer = deliver(microsoft, activity(microsoft, "let me in"), authorization=authorization)
    assert answer.status_code == 401, answer.content
    [error] = answer.json()["errors"]
    assert error["field"] == "Authorization" and reason in error["message"]
    assert not ChatEvent.objects.exists() and not Ticket.objects.exists() and not microsoft.connector.posted


def test_a_key_not_endorsed_for_teams_is_refused(microsoft: Microsoft) -> None:
    microsoft.keys.keys = [(KEY, "bf-key-1", ("webchat", "directline"))]
    answer = deliver(microsoft, activity(microsoft, "let me in"))
    assert answer.status_code == 401 and "not endorsed for the channel 'msteams'" in answer.json()["detail"]


def test_the_keys_are_kept_and_fetched_again_for_a_new_key(microsoft: Microsoft) -> None:
    deliver(microsoft, activity(microsoft, "one"))
    deliver(microsoft, activity(microsoft, "two", message_id="1700000000002"))
    assert microsoft.keys.fetches() == 1  # kept between requests

    # Microsoft rolls its keys over: a token signed with a key published since is taken, after a fresh fetch.
    microsoft.keys.keys.append((FORGED, "bf-key-2", ("msteams",)))
    rolled = microsoft.keys.token(claims(microsoft), key=FORGED, kid="bf-key-2")
    with clock.at(clock.now() + timedelta(minutes=6)):
        answer = deliver(microsoft, activity(microsoft, "three", message_id="1700000000003"), token=rolled)
    assert answer.status_code == 200 and microsoft.keys.fetches() == 2
    assert Ticket.objects.count() == 3


def test_an_unconfigured_bot_refuses_everything(microsoft: Microsoft, settings: Any) -> None:
    settings.OUTCOMEDESK_TEAMS_APP_ID = ""
    answer = deliver(microsoft, activity(microsoft, "hello"))
    assert answer.status_code == 401 and "OUTCOMEDESK_TEAMS_APP_ID" in answer.json()["detail"]


def test_unreadable_signing_keys_are_503_and_keep_nothing(microsoft: Microsoft, settings: Any) -> None:
    settings.OUTCOMEDESK_TEAMS_OPENID_URL = f"{microsoft.keys.url}/nothing-here"
    answer = deliver(microsoft, activity(microsoft, "hello"))
    assert answer.status_code == 503 and "signing keys cannot be read" in answer.json()["detail"]
    assert not ChatEvent.objects.exists()


# --- the payload -------------------------------------------------------------------------------------------------

def _without(body: dict[str, Any], path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    node = copy
    for part in parents:
        node = node[part]
    del node[last]
    return copy


@pytest.mark.parametrize("field", ["type", "id", "channelId", "conversation.id", "from.id", "recipient.id"])
def test_a_message_without_a_field_is_400_naming_it_and_keeps_nothing(microsoft: Microsoft, field: str) -> None:
    answer = deliver(microsoft, _without(activity(microsoft, "hello"), field))
    assert answer.status_code == 400, answer.content
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert not ChatEvent.objects.exists() and not microsoft.connector.posted


def test_a_body_that_is_no_activity_is_400(microsoft: Microsoft) -> None:
    endless = activity(microsoft, "hello", thread="9" * 150)
    for body, field in ((b"{not json", "body"), (b"[1, 2]", "body"),
                        (_without(activity(microsoft, "hello"), "serviceUrl"), "serviceUrl"),
                        (endless, "conversation.id")):
        answer = deliver(microsoft, body)
        assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == field
    assert not ChatEvent.objects.exists()
