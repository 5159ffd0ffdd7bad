"""Summaries that cite the timeline, knowledge drafts that wait for review, and patterns among recent incidents
(problem candidates, knowledge gaps, spikes), through the services, the API and the workspace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outcomedesk.assist import patterns, writing
from outcomedesk.assist.models import DraftStatus, KnowledgeDraft, Pattern, PatternKind, PatternStatus, Summary
from outcomedesk.assist.switches import set_switch
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World, client_for
from tests.test_assist_api import _api


def _worked(world: World) -> Ticket:
    ticket = f.make_ticket(world.alice, world.it, title="Outlook will not start",
                           description="Outlook closes right after the splash screen. It started after the update.")
    tickets.add_comment(world.bob, ticket, "I restarted Outlook in safe mode and it opened. I will remove the "
                        "add-ins next.", public=True)
    tickets.add_comment(world.bob, ticket, "The cause was the old CRM add-in, it crashed because of the update.",
                        public=False)
    tickets.add_comment(world.alice, ticket, "It crashed again this morning.")
    return ticket


def test_an_extractive_summary_cites_the_entries_it_draws_on(world: World) -> None:
    ticket = _worked(world)
    summary = writing.summarize(ticket)
    assert summary is not None and summary.method == "extractive"
    sections = summary.sections
    assert sections["happened"][0]["text"].startswith("Outlook will not start")
    assert sections["happened"][0]["cites"] == [{"n": 1, "ref": "description"}]
    tried = " ".join(line["text"] for line in sections["tried"])
    assert "restarted Outlook in safe mode" in tried
    assert "Answer Alice Requester" in sections["next"][0]["text"]
    assert all(line["cites"] for part in sections.values() for line in part)
    # The same timeline gives the stored summary back; a new entry makes a new one.
    assert writing.summarize(ticket).pk == summary.pk
    tickets.add_comment(world.bob, ticket, "Removed the CRM add-in; Outlook starts.")
    assert writing.summarize(ticket).pk != summary.pk
    assert Summary.objects.filter(ticket=ticket).count() == 2


def test_the_summary_in_the_api_and_the_panel(world: World) -> None:
    ticket = _worked(world)
    body = _api("bob")("get", f"/assist/tickets/{ticket.number}/summary").json()
    assert body["enabled"] and body["method"] == "extractive" and len(body["input_hash"]) == 64
    panel = client_for(world.bob).get(f"/desk/tickets/{ticket.number}/assist/").content.decode()
    assert "What happened" in panel and 'href="#description"' in panel
    page = client_for(world.bob).get(f"/desk/tickets/{ticket.number}/").content.decode()
    comment = ticket.comments.first()
    assert f'id="comment-{comment.pk}"' in page
    assert _api("alice")("get", f"/assist/tickets/{ticket.number}/summary").status_code == 403
    set_switch(world.root, "summary", False)
    assert _api("bob")("get", f"/assist/tickets/{ticket.number}/summary").json()["enabled"] is False


def test_a_draft_from_a_resolved_ticket_waits_for_review(world: World) -> None:
    ticket = _worked(world)
    with pytest.raises(InvalidInput, match="not resolved yet"):
        writing.draft_article(world.bob, [ticket])
    ticket = tickets.change_state(world.bob, ticket, "resolved",
                                  resolution_notes="Removed the CRM add-in. Updated the add-in to version 5.")
    draft = writing.draft_article(world.bob, [ticket])
    assert draft.status == DraftStatus.IN_REVIEW and draft.method == "extractive"
    assert draft.title == "How to fix: Outlook will not start"
    assert "splash screen" in draft.symptoms
    assert "old CRM add-in" in draft.cause
    assert draft.resolution.splitlines()[:2] == ["Removed the CRM add-in.", "Updated the add-in to version 5."]
    with pytest.raises(NotAllowed):
        writing.draft_article(world.hana, [ticket])
    with pytest.raises(NotAllowed):
        writing.review_draft(world.bob, draft.pk, approve=True)
    reviewed = writing.review_draft(world.dave, draft.pk, approve=True, note="good")
    assert reviewed.status == DraftStatus.APPROVED and reviewed.reviewed_by == world.dave
    with pytest.raises(InvalidInput, match="already"):
        writing.review_draft(world.dave, draft.pk, approve=False)
    # Through the API, from two tickets; other desks see none of it.
    other = f.make_ticket(world.carol, world.it, title="Outlook crashes on start")
    other = tickets.change_state(world.bob, other, "resolved", resolution_notes="Removed the CRM add-in.")
    made = _api("bob")("post", f"/assist/tickets/{other.number}/draft", {"tickets": [ticket.number]})
    assert made.status_code == 201 and sorted(made.json()["tickets"]) == sorted([ticket.number, other.number])
    assert _api("hana")("get", "/assist/drafts").json() == []
    review = _api("dave")("post", f"/assist/drafts/{made.json()['id']}/review", {"approve": False, "note": "dup"})
    assert review.json()["status"] == "rejected"


def _incident(world: World, title: str, at: datetime, **fields: Any) -> Ticket:
    with clock.at(at):
        return f.make_ticket(world.alice, world.it, title=title, **fields)


def test_alike_incidents_become_a_problem_candidate_and_a_knowledge_gap(world: World) -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    titles = ["VPN disconnects every 10 minutes", "VPN keeps disconnecting every few minutes",
              "VPN disconnects every ten minutes at home", "the VPN disconnects every 10 minutes again"]
    made = [_incident(world, t, now - timedelta(days=i + 1)) for i, t in enumerate(titles)]
    _incident(world, "New monitor for the reception desk", now - timedelta(days=2))
    _incident(world, "VPN disconnects every 10 minutes", now - timedelta(days=13))  # a week and more apart
    found = patterns.detect(world.it, now)
    candidate = next(p for p in found if p.kind == PatternKind.PROBLEM_CANDIDATE)
    assert sorted(candidate.evidence["tickets"]) == sorted(t.number for t in made)
    assert "vpn" in candidate.evidence["words"] and "disconnects" in candidate.evidence["words"]
    assert candidate.score == 4.0
    assert any(p.kind == PatternKind.KNOWLEDGE_GAP for p in found)
    # A second run refreshes the same rows; a dismissed pattern stays dismissed.
    again = patterns.detect(world.it, now)
    assert Pattern.objects.filter(kind=PatternKind.PROBLEM_CANDIDATE).count() == 1
    patterns.decide(world.bob, candidate.pk, PatternStatus.DISMISSED)
    assert candidate.pk not in [p.pk for p in patterns.detect(world.it, now)]
    assert len(again) >= 2
    # An approved draft about it closes the knowledge gap.
    made = [tickets.change_state(world.bob, t, "resolved", resolution_notes="Raised the VPN idle timeout.")
            for t in made]
    writing.draft_article(world.bob, made[:2])
    with clock.at(now):
        kinds = {p.kind for p in patterns.detect(world.it, now)}
    assert PatternKind.KNOWLEDGE_GAP not in kinds


def test_a_cluster_under_a_parent_is_no_problem_candidate(world: World) -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    parent = _incident(world, "Mail server outage", now - timedelta(days=1))
    for i in range(3):
        child = _incident(world, "cannot send mail, outlook says server unavailable", now - timedelta(hours=i + 2))
        tickets.update_ticket(world.bob, child, {"parent": parent.number})
    kinds = [p.kind for p in patterns.detect(world.it, now)]
    assert PatternKind.PROBLEM_CANDIDATE not in kinds


def test_a_category_far_above_its_usual_day_is_a_spike(world: World) -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    printing = f.make_category(world.it, "Printing")
    for day in range(1, 29, 4):  # one printing incident every four days: usually 0.25 a day
        _incident(world, f"printer issue {day}", now - timedelta(days=day, hours=1), category=printing.pk)
    for hour in range(6):
        _incident(world, f"printer down in room {hour}", now - timedelta(hours=hour + 1), category=printing.pk)
    spike = next(p for p in patterns.detect(world.it, now) if p.kind == PatternKind.SPIKE)
    assert spike.evidence["name"] == "Printing" and spike.evidence["recent"] == 6
    assert spike.evidence["usual_per_day"] == 0.25
    page = client_for(world.bob).get("/desk/assist/").content.decode()
    assert "6 Printing incidents in a day" in page
    assert _api("bob")("get", "/assist/patterns", kind="spike").json()[0]["evidence"]["recent"] == 6
    assert _api("hana")("get", "/assist/patterns").json() == []
    ran = _api("dave")("post", "/assist/desks/it/patterns/detect")
    assert ran.status_code == 200


def test_drafting_and_patterns_can_be_switched_off(world: World) -> None:
    set_switch(world.root, "drafting", False)
    set_switch(world.root, "patterns", False)
    ticket = f.make_ticket(world.alice, world.it, title="x")
    ticket = tickets.change_state(world.bob, ticket, "resolved", resolution_notes="done")
    with pytest.raises(NotAllowed, match="switched off"):
        writing.draft_article(world.bob, [ticket])
    assert patterns.detect(world.it) == []
    assert not KnowledgeDraft.objects.exists()
