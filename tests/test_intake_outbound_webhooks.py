"""Outbound webhooks: a desk's ticket events are kept in the transaction of the change, POSTed signed to the
subscriber after commit, sent again with backoff while it fails (same delivery id: its idempotency key), logged
with the last response, and sent again on a desk manager's request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client, TestCase

from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.intake.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from outcomedesk.intake.webhooks import outbound
from outcomedesk.intake.webhooks.services import sign
from outcomedesk.tickets import services as tickets
from tests import factories as f
from tests.conftest import World
from tests.net import free_port

pytestmark = pytest.mark.django_db
SECRET = "the subscriber's shared secret"


class Receiver:
    """A subscriber's endpoint on 127.0.0.1: answers with the statuses it is given, records what it got."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"try later")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/hooks/outcomedesk"


@pytest.fixture
def receiver(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("OUTCOMEDESK_TEST_HOOK_SECRET", SECRET)
    found = Receiver()
    outbound.save_subscription(world.dave, {"name": "ERP", "desk": world.it, "url": found.url,
                                            "events": ["created", "comment", "resolved"],
                                            "secret_env": "OUTCOMEDESK_TEST_HOOK_SECRET"})
    yield found
    found.server.shutdown()


def test_events_are_posted_signed_after_commit(receiver: Receiver, world: World) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        ticket = f.make_ticket(world.alice, world.it, title="Printer jams")
    [(headers, body)] = receiver.got
    assert headers["x-outcomedesk-event"] == "created"
    assert headers["x-outcomedesk-signature"] == sign(SECRET, headers["x-outcomedesk-timestamp"], body)
    payload = json.loads(body)
    assert (payload["event"], payload["ticket"]["number"], payload["ticket"]["title"]) == (
        "created", ticket.number, "Printer jams")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status, delivery.response_body) == (
        DeliveryStatus.DELIVERED, 200, "thanks")
    with TestCase.captureOnCommitCallbacks(execute=True):
        tickets.add_comment(world.bob, ticket, "On my way", public=True)
        tickets.update_ticket(world.bob, ticket, {"urgency": 1})  # not subscribed: no event sent
    assert [json.loads(b)["comment"]["text"] for h, b in receiver.got[1:]] == ["On my way"]


def test_a_failing_subscriber_is_tried_again_with_backoff_under_the_same_id(receiver: Receiver,
                                                                            world: World) -> None:
    receiver.statuses = [503, 500]
    with TestCase.captureOnCommitCallbacks(execute=True):
        f.make_ticket(world.alice, world.it)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.PENDING, 1, 503)
    assert outbound.send_due() == 0  # not due yet: the next attempt is a minute later
    later = clock.now() + timedelta(minutes=1, seconds=1)
    assert outbound.send_due(later) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status) == (2, 500)
    assert delivery.next_attempt_at == later + timedelta(minutes=2)
    outbound.send_due(later + timedelta(minutes=3))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert len({h["x-outcomedesk-delivery"] for h, _ in receiver.got}) == 1  # one id on every attempt


def test_a_subscriber_that_never_answers_is_given_up_and_can_be_sent_again(receiver: Receiver,
                                                                           world: World) -> None:
    receiver.statuses = [500] * outbound.MAX_ATTEMPTS
    with TestCase.captureOnCommitCallbacks(execute=True):
        f.make_ticket(world.alice, world.it)
    moment = clock.now()
    for _ in range(outbound.MAX_ATTEMPTS):
        moment += outbound.MAX_WAIT
        outbound.send_due(moment)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, outbound.MAX_ATTEMPTS)
    with pytest.raises(NotAllowed):
        outbound.redeliver(world.bob, delivery)  # an agent reads the log; the desk's managers act on it
    client = Client()
    client.force_login(world.dave)
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = client.post(f"/api/v1/intake/deliveries/{delivery.pk}/redeliver")
    assert answer.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [d["status"] for d in client.get("/api/v1/intake/deliveries").json()] == ["delivered"]


def test_subscriptions_are_checked(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        outbound.save_subscription(world.dave, {"name": "x", "desk": world.it, "url": "http://example.org/hook",
                                                "events": ["exploded"], "secret_env": "my secret"})
    assert set(caught.value.errors) == {"url", "events", "secret_env"}
    with pytest.raises(NotAllowed):
        outbound.save_subscription(world.bob, {"name": "x", "desk": world.it, "url": "https://example.org/h",
                                               "events": ["created"], "secret_env": "X"})
    assert not WebhookSubscription.objects.exists()


def test_a_confidential_desks_deliveries_stay_with_its_members(receiver: Receiver, world: World) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        f.make_ticket(world.alice, world.it)
    client = Client()
    client.force_login(world.hana)  # HR's agent: not IT's log
    assert client.get("/api/v1/intake/deliveries").json() == []
    client.force_login(world.bob)
    assert len(client.get("/api/v1/intake/deliveries").json()) == 1
