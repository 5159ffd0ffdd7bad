"""The AI in the API and the agent workspace: a ticket's suggestions with their provenance, similar resolved
tickets with scores and matching words, likely duplicates, decisions, models, policies and switches, and who
may see what (a confidential desk's suggestions stay with its agents)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from outcomedesk.accounts.services import create_token
from outcomedesk.assist import services as assist
from outcomedesk.assist import similar
from outcomedesk.assist.models import Outcome, Suggestion
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import State, Ticket
from tests import factories as f
from tests.conftest import World, client_for


def _api(username: str) -> Callable[..., Any]:
    client, headers = Client(), {"HTTP_AUTHORIZATION": f"Bearer {create_token(username).key}"}

    def call(method: str, path: str, body: Any = None, **params: Any) -> Any:
        if method == "get":
            return client.get(f"/api/v1{path}", params, **headers)
        return getattr(client, method)(f"/api/v1{path}", data=json.dumps(body or {}),
                                       content_type="application/json", **headers)
    return call


@pytest.fixture
def opened(world: World, django_capture_on_commit_callbacks: Any) -> Callable[..., Ticket]:
    def open_(title: str, desk: Any = None, requester: Any = None, **fields: Any) -> Ticket:
        with django_capture_on_commit_callbacks(execute=True):
            return f.make_ticket(requester or world.alice, desk or world.it, title=title, **fields)
    return open_


def test_a_tickets_suggestions_carry_their_provenance(world: World, history: dict,
                                                      opened: Callable[..., Ticket]) -> None:
    assist.train_desk(world.it, fields=["group"])
    ticket = opened("VPN cannot connect from the hotel")
    bob = _api("bob")
    found = bob("get", f"/assist/tickets/{ticket.number}/suggestions").json()
    group = next(s for s in found if s["field"] == "group")
    assert group["display"] == "Network" and group["outcome"] == "open" and group["model"] == "triage"
    assert group["version"].startswith("triage-svm-2-") and len(group["input_hash"]) == 64
    assert group["why"]["words"] and group["why"]["policy"] == {"mode": "suggest", "threshold": 0.9}
    accepted = bob("post", f"/assist/suggestions/{group['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "accepted"
    again = bob("post", f"/assist/suggestions/{group['id']}/reject")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "suggestion"
    # Requesters and other desks' agents see nothing of it.
    assert _api("alice")("get", f"/assist/tickets/{ticket.number}/suggestions").status_code == 403
    assert _api("hana")("get", f"/assist/tickets/{ticket.number}/suggestions").status_code == 403


def test_similar_resolved_tickets_with_scores_words_and_resolution(world: World, history: dict) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="The VPN certificate expired and I cannot connect")
    body = _api("bob")("get", f"/assist/tickets/{ticket.number}/similar", limit=3).json()
    assert body["enabled"] and body["retriever"] == "retriever-lexical-1" and len(body["input_hash"]) == 64
    best = body["tickets"][0]
    assert "VPN certificate expired" in best["title"]
    assert {"certificate", "expired"} <= set(best["matching_words"])
    assert best["resolution"] == "reset the tunnel" and 0 < best["score"] <= 1
    scores = [t["score"] for t in body["tickets"]]
    assert len(scores) == 3
    assert _api("bob")("get", f"/assist/tickets/{ticket.number}/similar", limit=50).status_code == 400


def test_similar_tickets_never_show_a_confidential_desk_to_outsiders(world: World) -> None:
    secret = f.make_ticket(world.hana, world.hr, title="salary review of the payroll team, grievance")
    tickets.change_state(world.hana, secret, "resolved", resolution_notes="handled by HR")
    mine = f.make_ticket(world.alice, world.it, title="payroll salary grievance")
    found = _api("bob")("get", f"/assist/tickets/{mine.number}/similar").json()["tickets"]
    assert secret.number not in [t["number"] for t in found]
    hr_ticket = f.make_ticket(world.carol, world.hr, title="salary grievance again")
    found = _api("hana")("get", f"/assist/tickets/{hr_ticket.number}/similar").json()["tickets"]
    assert secret.number in [t["number"] for t in found]


def test_likely_duplicates_are_suggested_and_merged_on_acceptance(world: World,
                                                                   opened: Callable[..., Ticket]) -> None:
    first = opened("Outlook crashes when opening shared calendar of the finance team")
    opened("Printer out of paper on floor 5")
    second = opened("Outlook crashes when I open the finance team's shared calendar", requester=world.carol)
    duplicate = Suggestion.objects.get(ticket=second, kind="duplicate")
    assert duplicate.value == first.number and duplicate.confidence >= 0.45
    assert {"outlook", "crashes", "calendar"} <= {w["word"] for w in duplicate.explanation["words"]}
    assert not Suggestion.objects.filter(ticket=second, kind="duplicate", value__startswith="INC").exclude(
        value=first.number).exists()
    response = client_for(world.bob).post(f"/desk/tickets/{second.number}/assist/{duplicate.pk}/",
                                          {"decision": "accept"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.state == State.CANCELLED and second.duplicate_of_id == first.pk


def test_the_ticket_page_loads_the_panel_after_the_page(world: World, history: dict,
                                                        opened: Callable[..., Ticket]) -> None:
    assist.train_desk(world.it, fields=["group"])
    ticket = opened("printer prints blank pages again")
    bob = client_for(world.bob)
    page = bob.get(f"/desk/tickets/{ticket.number}/").content.decode()
    assert f'hx-get="/desk/tickets/{ticket.number}/assist/"' in page
    panel = bob.get(f"/desk/tickets/{ticket.number}/assist/").content.decode()
    assert "Suggested values" in panel and "Service Desk" in panel and "% sure" in panel
    assert "Resolved tickets like this one" in panel and "cleared the queue" in panel
    suggestion = Suggestion.objects.get(ticket=ticket, field="group")
    bob.post(f"/desk/tickets/{ticket.number}/assist/{suggestion.pk}/", {"decision": "reject"})
    suggestion.refresh_from_db()
    assert suggestion.outcome == Outcome.REJECTED
    assert client_for(world.hana).get(f"/desk/tickets/{ticket.number}/assist/").status_code in (403, 404)


def test_models_policies_training_and_switches_for_managers(world: World, history: dict,
                                                           django_capture_on_commit_callbacks: Any) -> None:
    dave, bob, root = _api("dave"), _api("bob"), _api("root")
    with django_capture_on_commit_callbacks(execute=True):
        queued = dave("post", "/assist/desks/it/train", {"fields": ["group"]})
    assert queued.status_code == 202
    models = dave("get", "/assist/models", desk="it").json()
    assert [m["field"] for m in models] == ["group"] and models[0]["figures"]["test_rows"] == 12
    assert bob("get", "/assist/models").status_code == 403
    bad = dave("post", "/assist/desks/it/train", {"fields": ["colour"]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "fields"
    rows = dave("put", "/assist/desks/it/policies/group", {"mode": "auto", "threshold": 0.8}).json()
    group = next(r for r in rows if r["field"] == "group")
    assert group["mode"] == "auto" and group["threshold"] == 0.8 and group["model"].startswith("triage-svm-2-")
    bad = dave("put", "/assist/desks/it/policies/group", {"mode": "auto", "threshold": 0.2})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "threshold"
    assert bob("put", "/assist/desks/it/policies/group", {"mode": "off"}).status_code == 403
    assert _api("hana")("get", "/assist/desks/it/policies").status_code == 403
    assert bob("get", "/assist/desks/hr/policies").status_code == 404
    assert dave("get", "/assist/switches").status_code == 403
    off = root("put", "/assist/switches/similar", {"enabled": False, "reason": "testing"}).json()
    assert off["similar"]["enabled"] is False and off["similar"]["changed_by"] == "root"
    ticket = f.make_ticket(world.alice, world.it, title="VPN certificate expired")
    assert bob("get", f"/assist/tickets/{ticket.number}/similar").json() == {
        "enabled": False, "retriever": None, "input_hash": None, "tickets": []}
    assert root("put", "/assist/switches/colour", {"enabled": False}).json()["errors"][0]["field"] == "feature"
    assert dave("get", "/assist/quality").status_code == 200


def test_the_panel_and_the_patterns_page_have_a_query_budget(world: World, history: dict,
                                                              opened: Callable[..., Ticket],
                                                              django_assert_max_num_queries: Any) -> None:
    assist.train_desk(world.it, fields=["group", "category"])
    ticket = opened("VPN certificate expired again")
    bob = client_for(world.bob)
    bob.get(f"/desk/tickets/{ticket.number}/assist/")  # the summary is made and stored once
    # 14, one full-text read per informative word of the ticket (vpn, certificate, expired), and on PostgreSQL
    # one for the newest ticket id (the recent window of the word reads).
    words = similar.query_words(ticket.title, ticket.description)
    assert len(words) == 3
    with django_assert_max_num_queries(14 + len(words) + (connection.vendor == "postgresql")):
        assert bob.get(f"/desk/tickets/{ticket.number}/assist/").status_code == 200
    with django_assert_max_num_queries(12):
        assert bob.get("/desk/assist/").status_code == 200
