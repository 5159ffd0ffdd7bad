"""A requester states urgency only: impact (and so priority) come from the desk's rules and the channel from the
door the ticket came through; agents of the desk keep setting impact and may record another channel."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from outcomedesk.accounts.services import create_token
from outcomedesk.tickets.models import Ticket
from tests.conftest import World, client_for

pytestmark = pytest.mark.django_db


def _post(user: str, body: dict[str, Any]) -> Any:
    return Client().post("/api/v1/tickets", data=json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {create_token(user).key}")


def test_a_requester_may_not_set_impact_through_the_api(world: World) -> None:
    response = _post("alice", {"desk": "it", "title": "Everything is down", "impact": 1, "urgency": 1})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["impact"]
    assert not Ticket.objects.exists()


def test_a_requester_may_not_choose_the_channel_through_the_api(world: World) -> None:
    response = _post("alice", {"desk": "it", "title": "Phoned in, honest", "channel": "phone"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["channel"]


def test_a_requester_states_urgency_and_the_desk_rules_give_impact_priority_and_channel(world: World) -> None:
    response = _post("alice", {"desk": "it", "title": "Laptop will not start", "urgency": 1})
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert (ticket.urgency, ticket.impact, ticket.channel) == (1, 3, "api")
    assert ticket.priority == 3  # impact 3 x urgency 1 in the ITIL matrix


def test_an_agent_of_the_desk_keeps_setting_impact_and_may_record_a_phone_call(world: World) -> None:
    response = _post("bob", {"desk": "it", "title": "Payroll down", "impact": 1, "urgency": 1,
                             "requester": world.alice.pk, "channel": "phone"})
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert (ticket.impact, ticket.priority, ticket.channel) == (1, 1, "phone")
    assert Ticket.objects.get(number=_post("bob", {"desk": "it", "title": "x"}).json()["number"]).channel == "api"


def test_an_agent_of_another_desk_is_a_requester_there(world: World) -> None:
    response = _post("hana", {"desk": "it", "title": "My screen flickers", "impact": 1})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "impact"


def test_the_portal_ignores_impact_and_channel_in_a_requesters_post(world: World) -> None:
    response = client_for(world.alice).post("/portal/new/it/", {
        "title": "Printer jams", "description": "", "type": "incident", "urgency": "2",
        "impact": "1", "priority": "1", "channel": "email"})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.urgency, ticket.impact, ticket.channel) == (2, 3, "portal")
