"""Signed webhooks of other systems: open (once per external reference), comment, resolve; unsigned, badly signed
and replayed requests get 401, bad payloads 400 naming the field, and nothing is half-written."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.intake.models import WebhookSource
from outcomedesk.intake.webhooks.services import save_webhook_source, sign
from outcomedesk.tickets.models import Comment, State, Ticket
from tests import factories as f
from tests.conftest import World

pytestmark = pytest.mark.django_db
SECRET = "a webhook secret of at least some length"


@pytest.fixture
def source(world: World, monkeypatch: pytest.MonkeyPatch) -> WebhookSource:
    monkeypatch.setenv("OUTCOMEDESK_TEST_WEBHOOK_SECRET", SECRET)
    return save_webhook_source(world.dave, {"name": "Facilities form", "slug": "facilities", "desk": world.it,
                                            "account": f.make_agent(world.it, "forms-bot"),
                                            "secret_env": "OUTCOMEDESK_TEST_WEBHOOK_SECRET"})


def send(payload: dict[str, Any], *, secret: str = SECRET, at: int | None = None, slug: str = "facilities") -> Any:
    body = json.dumps(payload).encode()
    timestamp = str(at if at is not None else int(time.time()))
    return Client().post(f"/api/v1/intake/webhooks/{slug}", body, content_type="application/json",
                         HTTP_X_OUTCOMEDESK_TIMESTAMP=timestamp,
                         HTTP_X_OUTCOMEDESK_SIGNATURE=sign(secret, timestamp, body))


def test_open_comment_and_resolve(source: WebhookSource, world: World) -> None:
    opened = send({"action": "open", "external_ref": "F-17", "title": "Broken chair in room 4.12",
                   "requester": "alice@example.org", "urgency": 2})
    assert opened.status_code == 200 and opened.json()["duplicate"] is False
    ticket = Ticket.objects.get()
    assert (ticket.requester, ticket.urgency, ticket.external_ref) == (world.alice, 2, "facilities:F-17")
    again = send({"action": "open", "external_ref": "F-17", "title": "Broken chair in room 4.12"})
    assert again.json() == {"ticket": ticket.number, "action": "open", "duplicate": True}
    assert send({"action": "comment", "external_ref": "F-17", "comment": "Replacement ordered"}).status_code == 200
    assert "Replacement ordered" in Comment.objects.get(ticket=ticket).body
    assert send({"action": "resolve", "external_ref": "F-17", "comment": "Chair replaced"}).status_code == 200
    ticket.refresh_from_db()
    assert (ticket.state, ticket.resolution_notes) == (State.RESOLVED, "Chair replaced")


@pytest.mark.parametrize(("payload", "field"), [
    ({"action": "explode", "external_ref": "F-1"}, "action"),
    ({"action": "open", "external_ref": "F-1", "title": ""}, "title"),
    ({"action": "open", "external_ref": "F-1", "title": "x", "requester": "nobody@nowhere.example"}, "requester"),
    ({"action": "open", "external_ref": "", "title": "x"}, "external_ref"),
])
def test_bad_payloads_are_400_naming_the_field(source: WebhookSource, payload: dict[str, Any], field: str) -> None:
    answer = send(payload)
    assert answer.status_code == 400 and field in answer.content.decode()
    assert not Ticket.objects.exists()


def test_a_comment_on_an_unknown_reference_is_404(source: WebhookSource) -> None:
    assert send({"action": "comment", "external_ref": "nope", "comment": "hi"}).status_code == 404


def test_unsigned_wrongly_signed_and_replayed_requests_get_401(source: WebhookSource) -> None:
    payload = {"action": "open", "external_ref": "F-2", "title": "Leak"}
    assert Client().post("/api/v1/intake/webhooks/facilities", payload, content_type="application/json"
                         ).status_code == 401
    assert send(payload, secret="not the secret").status_code == 401
    assert send(payload, at=int(time.time()) - 6 * 60).status_code == 401
    assert send(payload, slug="unknown").status_code == 401
    assert not Ticket.objects.exists()


def test_a_switched_off_source_and_its_configuration(source: WebhookSource, world: World) -> None:
    with pytest.raises(NotAllowed):
        save_webhook_source(world.bob, {"is_active": False}, source=source)
    with pytest.raises(InvalidInput) as caught:
        save_webhook_source(world.dave, {"secret_env": "my secret is hunter2", "account": world.alice}, source=source)
    assert set(caught.value.errors) == {"secret_env", "account"}
    save_webhook_source(world.dave, {"is_active": False}, source=source)
    assert send({"action": "open", "external_ref": "F-3", "title": "x"}).status_code == 401
