"""Satisfaction surveys: asked once per resolution, answered with one click (never by a mail scanner's fetch),
changeable for 30 days, rated on the portal by the requester only, and kept confidential in the API."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from outcomedesk.accounts.models import Desk
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import AuditEvent
from outcomedesk.experience import services as experience
from outcomedesk.experience.models import ResponseVia, Survey, SurveyChannel
from outcomedesk.experience.queries import surveys_for
from outcomedesk.tickets import notifications
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import State, Ticket
from tests import factories as f
from tests.conftest import World, client_for
from tests.test_api import Api

pytestmark = pytest.mark.django_db


def survey_mails() -> list[Any]:
    return [m for m in mail.outbox if "How did we do?" in m.subject]


def resolve(ticket: Ticket, agent: Any) -> Ticket:
    return tickets.change_state(agent, ticket, State.RESOLVED, resolution_notes="Replaced the cable")


def resolved_ticket(world: World, requester: Any = None) -> tuple[Ticket, Survey]:
    ticket = resolve(f.make_ticket(requester or world.alice, world.it), world.bob)
    return ticket, surveys_for(ticket).get()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found is not None, "the form carries no CSRF token"
    return found.group(1)


def audit_of(ticket: Ticket) -> list[tuple[str, str, str]]:
    events = AuditEvent.objects.filter(object_type="ticket", object_id=ticket.pk, action="survey")
    return [(e.field, e.old_value, e.new_value) for e in events]


# --- asking ------------------------------------------------------------------------------------------------

def test_resolving_sends_one_survey_and_one_e_mail_with_five_score_links(
    world: World, django_capture_on_commit_callbacks: Any, settings: Any,
) -> None:
    settings.OUTCOMEDESK_BASE_URL = "https://desk.example.org"
    ticket = f.make_ticket(world.alice, world.it, title="Printer & scanner")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = resolve(ticket, world.bob)
    survey = surveys_for(ticket).get()
    assert (survey.sent_at, survey.resolution_at, survey.channel) == (
        ticket.resolved_at, ticket.resolved_at, SurveyChannel.EMAIL)
    assert survey.score is None and survey.responded_at is None
    [sent] = survey_mails()
    assert sent.to == ["alice@example.org"]
    assert sent.subject == f"[{ticket.number}] How did we do? Printer & scanner"
    # The survey never arrives before the "resolved" e-mail: the same task sends it right after.
    subjects = [m.subject for m in mail.outbox if m.to == ["alice@example.org"]]
    assert subjects.index(f"[{ticket.number}] Resolved: Printer & scanner") < subjects.index(sent.subject)
    html = sent.alternatives[0][0]
    for score in range(1, 6):
        link = f"https://desk.example.org/portal/survey/{survey.token}/{score}/"
        assert link in sent.body and link in html
    assert f"https://desk.example.org/portal/tickets/{ticket.number}/" in sent.body
    assert "Printer & scanner" in sent.body and "Printer &amp; scanner" in html


def test_reopening_and_resolving_again_asks_again(world: World, django_capture_on_commit_callbacks: Any) -> None:
    start = timezone.now()
    ticket = f.make_ticket(world.alice, world.it)
    with django_capture_on_commit_callbacks(execute=True):
        with clock.at(start + timedelta(hours=1)):
            ticket = resolve(ticket, world.bob)
        with clock.at(start + timedelta(hours=2)):
            ticket = tickets.reopen_ticket(world.alice, ticket, reason="Still broken")
        with clock.at(start + timedelta(hours=3)):
            ticket = resolve(ticket, world.bob)
    second, first = surveys_for(ticket)
    assert first.resolution_at == start + timedelta(hours=1)
    assert second.resolution_at == start + timedelta(hours=3) == ticket.resolved_at
    assert first.token != second.token
    assert len(survey_mails()) == 2


def test_closing_a_resolved_ticket_or_asking_twice_makes_no_second_survey(world: World) -> None:
    ticket, survey = resolved_ticket(world)
    tickets.change_state(world.alice, ticket, State.CLOSED)
    assert experience.send_survey(Ticket.objects.get(pk=ticket.pk), clock.now()) == survey
    assert surveys_for(ticket).count() == 1


def test_a_desk_that_sends_no_surveys_asks_nobody(world: World, django_capture_on_commit_callbacks: Any) -> None:
    Desk.objects.filter(pk=world.it.pk).update(send_surveys=False)
    ticket = f.make_ticket(world.alice, world.it)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(ticket, world.bob)
    assert not surveys_for(ticket).exists()
    assert survey_mails() == []


def test_a_requester_without_e_mail_finds_the_survey_on_the_portal(
    world: World, django_capture_on_commit_callbacks: Any,
) -> None:
    erin = f.make_user("erin", email="")
    ticket = f.make_ticket(erin, world.it)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(ticket, world.bob)
    assert surveys_for(ticket).get().channel == SurveyChannel.PORTAL
    assert survey_mails() == []
    html = client_for(erin).get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert 'id="rating-form"' in html


def test_replays_of_history_ask_nobody(world: World, django_capture_on_commit_callbacks: Any) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    with notifications.muted(), django_capture_on_commit_callbacks(execute=True):
        resolve(ticket, world.bob)
    assert not surveys_for(ticket).exists()
    assert survey_mails() == []


# --- answering by the e-mail's links -----------------------------------------------------------------------

def test_the_one_click_link_records_nothing_until_its_form_is_posted(world: World) -> None:
    ticket, survey = resolved_ticket(world)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(reverse("portal:survey_score", args=[survey.token, 4]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-autosubmit" in html and 'name="score" value="4"' in html and "portal/survey.js" in html
    assert Survey.objects.get(pk=survey.pk).score is None  # a mail scanner's fetch answers nothing

    posted = browser.post(reverse("portal:survey", args=[survey.token]),
                          {"score": "4", "csrfmiddlewaretoken": csrf_of(html)})
    assert posted.status_code == 302 and posted["Location"] == reverse("portal:survey", args=[survey.token])
    survey.refresh_from_db()
    assert (survey.score, survey.responded_via) == (4, ResponseVia.EMAIL)
    assert survey.responded_at is not None
    assert audit_of(ticket) == [("score", "", "4")]

    thanks = browser.get(posted["Location"]).content.decode()
    assert "Thank you" in thanks and 'id="survey-comment-form"' in thanks
    browser.post(reverse("portal:survey", args=[survey.token]),
                 {"score": "4", "comment": "Quick and <b>friendly</b>", "csrfmiddlewaretoken": csrf_of(thanks)})
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "Quick and <b>friendly</b>")
    shown = browser.get(reverse("portal:survey", args=[survey.token])).content.decode()
    assert "Quick and &lt;b&gt;friendly&lt;/b&gt;" in shown


def test_the_survey_page_offers_five_scores_and_needs_the_csrf_token(world: World) -> None:
    _, survey = resolved_ticket(world)
    browser = Client(enforce_csrf_checks=True)
    html = browser.get(reverse("portal:survey", args=[survey.token])).content.decode()
    for score in range(1, 6):
        assert f'name="score" value="{score}"' in html
    refused = browser.post(reverse("portal:survey", args=[survey.token]), {"score": "5"})
    assert refused.status_code == 403
    assert Survey.objects.get(pk=survey.pk).score is None


def test_a_score_alone_keeps_the_comment_given_earlier(world: World) -> None:
    _, survey = resolved_ticket(world)
    experience.respond(survey.token, 2, "Took a week")
    Client().post(reverse("portal:survey", args=[survey.token]), {"score": "3"})
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (3, "Took a week")


def test_an_answer_changes_within_30_days_and_is_refused_after(world: World) -> None:
    ticket, survey = resolved_ticket(world)
    with clock.at(survey.sent_at + timedelta(days=1)):
        experience.respond(survey.token, 2)
    first_at = survey.sent_at + timedelta(days=1)
    with clock.at(survey.sent_at + timedelta(days=29)):
        changed = experience.respond(survey.token, 5, "Better after a second look", via=ResponseVia.API)
    assert (changed.score, changed.responded_at, changed.responded_via) == (5, first_at, ResponseVia.EMAIL)
    assert audit_of(ticket) == [("score", "", "2"), ("score", "2", "5"), ("comment", "", "Better after a second look")]

    late = survey.sent_at + timedelta(days=31)
    with clock.at(late), pytest.raises(InvalidInput) as refused:
        experience.respond(survey.token, 1)
    assert "closed on" in refused.value.errors["survey"]
    with clock.at(late):
        page = Client().post(reverse("portal:survey", args=[survey.token]), {"score": "1"})
        one_click = Client().get(reverse("portal:survey_score", args=[survey.token, 1]))
    assert page.status_code == 400 and "can no longer be changed" in page.content.decode()
    assert one_click.status_code == 200 and "data-autosubmit" not in one_click.content.decode()
    assert "closed on" in one_click.content.decode()
    assert Survey.objects.get(pk=survey.pk).score == 5


def test_a_score_outside_1_to_5_is_a_400_naming_the_score(world: World) -> None:
    _, survey = resolved_ticket(world)
    page = Client().get(reverse("portal:survey_score", args=[survey.token, 7]))
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="survey-score-error"' in html and "choose 1 (very dissatisfied) to 5 (very satisfied)" in html
    assert "data-autosubmit" not in html
    assert Client().get(reverse("portal:survey_score", args=[survey.token, "x"])).status_code == 400
    posted = Client().post(reverse("portal:survey", args=[survey.token]), {"score": "0"})
    assert posted.status_code == 400 and 'id="survey-score-error"' in posted.content.decode()
    for bad in (0, 6, "", "four", None):
        with pytest.raises(InvalidInput) as refused:
            experience.respond(survey.token, bad)
        assert list(refused.value.errors) == ["score"]
    with pytest.raises(InvalidInput) as too_long:
        experience.respond(survey.token, 3, "x" * 2001)
    assert list(too_long.value.errors) == ["comment"]
    assert Survey.objects.get(pk=survey.pk).score is None


def test_an_unknown_token_is_a_404(world: World) -> None:
    resolved_ticket(world)
    assert Client().get(reverse("portal:survey", args=["not-a-token"])).status_code == 404
    assert Client().get(reverse("portal:survey_score", args=["not-a-token", 5])).status_code == 404
    assert Client().post(reverse("portal:survey", args=["not-a-token"]), {"score": "5"}).status_code == 404
    with pytest.raises(NotFound):
        experience.respond("not-a-token", 5)


# --- the portal's rating -----------------------------------------------------------------------------------

def test_the_requester_rates_a_resolved_ticket_on_the_portal(world: World) -> None:
    ticket, survey = resolved_ticket(world)
    alice = client_for(world.alice)
    page = alice.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert 'id="rating-form"' in page and 'aria-label="5: Very satisfied"' in page
    done = alice.post(reverse("portal:rate", args=[ticket.number]), {"score": "5", "comment": "Fast"})
    assert done.status_code == 302
    survey.refresh_from_db()
    assert (survey.score, survey.comment, survey.responded_via) == (5, "Fast", ResponseVia.PORTAL)
    assert AuditEvent.objects.filter(object_id=ticket.pk, action="survey", actor=world.alice,
                                     channel="portal").count() == 2

    bad = alice.post(reverse("portal:rate", args=[ticket.number]), {"score": "9", "comment": "typo"})
    assert bad.status_code == 400
    assert 'id="rating-score-error"' in bad.content.decode() and ">typo</textarea>" in bad.content.decode()


def test_nobody_but_the_requester_rates_a_ticket(world: World) -> None:
    ticket, survey = resolved_ticket(world)
    carol = client_for(world.carol)
    assert carol.post(reverse("portal:rate", args=[ticket.number]), {"score": "1"}).status_code == 404
    tickets.update_ticket(world.bob, ticket, {"watchers": [world.carol.pk]})
    assert 'id="rating-form"' not in carol.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert carol.post(reverse("portal:rate", args=[ticket.number]), {"score": "1"}).status_code == 403
    assert client_for(world.bob).post(reverse("portal:rate", args=[ticket.number]), {"score": "1"}).status_code == 404
    with pytest.raises(NotAllowed):
        experience.respond_as(world.bob, ticket, 1)
    assert Survey.objects.get(pk=survey.pk).score is None


def test_an_open_ticket_shows_no_rating_form(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    html = client_for(world.alice).get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert 'id="rating"' not in html
    with pytest.raises(InvalidInput) as refused:
        experience.respond_as(world.alice, ticket, 4)
    assert list(refused.value.errors) == ["survey"]


# --- the API -----------------------------------------------------------------------------------------------

def post_response(token: str, body: dict[str, Any]) -> Any:
    return Client().post(f"/api/v1/surveys/{token}/response", data=json.dumps(body), content_type="application/json")


def test_the_api_records_a_response_with_the_token_alone(world: World) -> None:
    ticket, survey = resolved_ticket(world)
    answered = post_response(survey.token, {"score": 4, "comment": "Good"})
    assert answered.status_code == 200, answered.content
    body = answered.json()
    assert (body["ticket"], body["score"], body["comment"], body["responded_via"]) == (ticket.number, 4, "Good", "api")
    assert "token" not in body

    bad = post_response(survey.token, {"score": 6})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "score"
    missing = post_response(survey.token, {"comment": "no score"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "score"
    assert post_response("not-a-token", {"score": 4}).status_code == 404
    assert Survey.objects.get(pk=survey.pk).score == 4


def test_staff_list_the_surveys_of_tickets_they_see_and_never_of_a_confidential_desk(world: World) -> None:
    it_ticket, it_survey = resolved_ticket(world)
    hr_ticket = resolve(f.make_ticket(world.alice, world.hr), world.hana)
    experience.respond(surveys_for(hr_ticket).get().token, 2, "Slow")

    listed = Api("bob").get("/surveys/", ticket=it_ticket.number)
    assert listed.status_code == 200
    [row] = listed.json()
    assert (row["id"], row["ticket"], row["score"]) == (it_survey.pk, it_ticket.number, None)
    assert "token" not in row

    assert Api("bob").get("/surveys/", ticket=hr_ticket.number).status_code == 404
    assert Api("hana").get("/surveys/", ticket=hr_ticket.number).json()[0]["comment"] == "Slow"
    assert Api("alice").get("/surveys/", ticket=it_ticket.number).status_code == 403
    assert Api("bob").get("/surveys/", ticket="INC9999999").status_code == 404


# --- the admin ---------------------------------------------------------------------------------------------

def test_the_admin_lists_surveys_read_only(world: World) -> None:
    ticket, survey = resolved_ticket(world)
    root = client_for(world.root)
    listing = root.get(reverse("admin:experience_survey_changelist"))
    assert listing.status_code == 200 and ticket.number in listing.content.decode()
    detail = root.get(reverse("admin:experience_survey_change", args=[survey.pk]))
    assert detail.status_code == 200 and survey.token not in detail.content.decode()
    assert root.get(reverse("admin:experience_survey_add")).status_code == 403
