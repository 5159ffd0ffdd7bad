"""Maturity assessments: scoring, validation, who may assess, history, the pages and the API."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from outcomedesk.accounts.models import User
from outcomedesk.accounts.services import create_token
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.improvement import queries
from outcomedesk.improvement.models import Assessment
from outcomedesk.improvement.questionnaire import INCIDENT, LEVELS, PRACTICES, level_of, score_of
from outcomedesk.improvement.services import record_assessment
from tests import factories as f
from tests.conftest import World, client_for

TZ = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)


def uniform(practice: Any = INCIDENT, level: int = 3) -> dict[str, Any]:
    return {qid: level for qid in practice.question_ids}


def graded(*levels: int) -> dict[str, Any]:
    """Incident answers with these levels, in questionnaire order."""
    return dict(zip(INCIDENT.question_ids, levels, strict=True))


@pytest.fixture
def sam(world: World) -> User:
    """Sam is the service manager: assesses any scope."""
    return f.make_user("sam", display_name="Sam Service", is_service_manager=True)


# --- the questionnaire and scoring ---------------------------------------------------------------------------

def test_the_questionnaire_asks_five_or_six_questions_of_each_of_six_practices() -> None:
    assert [p.key for p in PRACTICES] == ["incident", "problem", "change", "service_level", "knowledge", "catalogue"]
    assert PRACTICES[3].label == "Service level management"
    ids = [q.id for p in PRACTICES for q in p.questions]
    assert len(ids) == len(set(ids))
    for practice in PRACTICES:
        assert 5 <= len(practice.questions) <= 6
        for question in practice.questions:
            assert question.id.startswith(practice.key + ".")
            assert len(set(question.levels)) == 5 and all(len(text) > 20 for text in question.levels)
    assert "incident.major" in INCIDENT.question_ids


def test_the_score_is_the_mean_of_the_levels_to_two_decimals() -> None:
    assert score_of([3, 4, 4, 2, 3, 5]) == Decimal("3.50")
    assert score_of([1, 2, 2]) == Decimal("1.67")
    assert score_of([5, 5, 5, 5, 5]) == Decimal("5.00")


def test_a_level_counts_once_fully_reached() -> None:
    assert level_of(Decimal("2.99")) == 2
    assert queries.level_label(Decimal("2.99")) == "2 - Repeatable"
    assert queries.level_label(Decimal("1.00")) == "1 - Initial"
    assert queries.level_label(Decimal("3.00")) == "3 - Defined"
    assert queries.level_label(Decimal("4.50")) == "4 - Managed"
    assert queries.level_label(Decimal("5.00")) == "5 - Optimising"
    assert queries.level_label(None) == ""


# --- recording ---------------------------------------------------------------------------------------------

def test_a_service_manager_records_an_assessment_scored_from_its_answers(world: World, sam: User) -> None:
    with clock.at(T0):
        row = record_assessment(sam, "incident", graded(3, 4, 4, 2, 3, 5), notes="  Workshop with the desk leads ")
    row.refresh_from_db()
    assert row.score == Decimal("3.50")
    assert row.assessed_at == T0 and row.assessed_by == sam and row.desk is None
    assert row.answers == graded(3, 4, 4, 2, 3, 5)
    assert row.notes == "Workshop with the desk leads"


def test_levels_sent_as_digits_count_like_numbers(world: World, sam: User) -> None:
    row = record_assessment(sam, "change", {qid: "2" for qid in PRACTICES[2].question_ids})
    assert row.score == Decimal("2.00") and set(row.answers.values()) == {2}


def test_each_unanswered_or_out_of_range_question_is_named_and_nothing_is_stored(world: World, sam: User) -> None:
    answers = uniform()
    del answers["incident.major"]
    answers["incident.priority"] = 6
    answers["incident.logging"] = 0
    answers["incident.communication"] = True
    answers["incident.resolution"] = "four"
    with pytest.raises(InvalidInput) as caught:
        record_assessment(sam, "incident", answers)
    errors = caught.value.errors
    assert set(errors) == {"incident.major", "incident.priority", "incident.logging", "incident.communication",
                           "incident.resolution"}
    assert "not answered" in errors["incident.major"]
    assert errors["incident.priority"] == "must be a level from 1 to 5, not 6"
    assert "'four'" in errors["incident.resolution"]
    assert not Assessment.objects.exists()


def test_an_unknown_practice_is_named(world: World, sam: User) -> None:
    with pytest.raises(InvalidInput) as caught:
        record_assessment(sam, "security", uniform())
    assert set(caught.value.errors) == {"practice"}
    assert "incident" in caught.value.errors["practice"]
    assert not Assessment.objects.exists()


def test_answers_to_questions_the_practice_does_not_ask_are_named(world: World, sam: User) -> None:
    with pytest.raises(InvalidInput) as caught:
        record_assessment(sam, "incident", {**uniform(), "incident.vibes": 4, "problem.analysis": 2})
    assert caught.value.errors == {"incident.vibes": "is not a question of Incident management",
                                   "problem.analysis": "is not a question of Incident management"}
    assert not Assessment.objects.exists()


def test_an_unknown_or_inactive_desk_is_named(world: World, sam: User) -> None:
    with pytest.raises(InvalidInput) as caught:
        record_assessment(sam, "incident", uniform(), desk="nowhere")
    assert set(caught.value.errors) == {"desk"}
    closed = f.make_desk("closed", is_active=False)
    with pytest.raises(InvalidInput):
        record_assessment(sam, "incident", uniform(), desk=closed)
    assert not Assessment.objects.exists()


# --- who may assess ----------------------------------------------------------------------------------------

def test_requesters_and_agents_may_not_assess(world: World) -> None:
    for person, desk in ((world.alice, None), (world.bob, world.it), (world.hana, world.hr)):
        with pytest.raises(NotAllowed):
            record_assessment(person, "incident", uniform(), desk=desk)
    assert not Assessment.objects.exists()


def test_a_desk_manager_assesses_their_own_desk_only(world: World) -> None:
    row = record_assessment(world.dave, "incident", uniform(), desk=world.it)
    assert row.desk == world.it
    assert record_assessment(world.dave, "problem", uniform(PRACTICES[1]), desk="it").desk == world.it
    with pytest.raises(NotAllowed):
        record_assessment(world.dave, "incident", uniform(), desk=world.hr)
    with pytest.raises(NotAllowed):
        record_assessment(world.dave, "incident", uniform())  # the whole organisation
    assert Assessment.objects.count() == 2


def test_service_managers_and_admins_assess_the_organisation_and_every_desk_but_a_confidential_one(
    world: World, sam: User,
) -> None:
    record_assessment(sam, "incident", uniform(), desk=world.it)
    record_assessment(sam, "incident", uniform())
    record_assessment(world.root, "knowledge", uniform(PRACTICES[4]), desk=world.it.pk)
    for outsider in (sam, world.root):  # HR's practices are assessed by HR's own managers
        with pytest.raises(NotAllowed):
            record_assessment(outsider, "incident", uniform(), desk=world.hr)
    assert Assessment.objects.count() == 3


# --- reading -----------------------------------------------------------------------------------------------

def test_history_is_in_time_order_and_latest_is_the_newest_of_its_scope(world: World, sam: User) -> None:
    middle = record_assessment(sam, "incident", uniform(level=2), now=T0 + timedelta(days=90))
    first = record_assessment(sam, "incident", uniform(level=1), now=T0)
    last = record_assessment(sam, "incident", uniform(level=4), now=T0 + timedelta(days=180))
    desk_only = record_assessment(sam, "incident", uniform(level=5), desk=world.it, now=T0 + timedelta(days=200))
    record_assessment(sam, "change", uniform(PRACTICES[2], 3), now=T0)
    assert list(queries.history("incident")) == [first, middle, last]
    assert list(queries.history("incident", world.it)) == [desk_only]
    latest = queries.latest_by_practice()
    assert latest["incident"] == last and set(latest) == {"incident", "change"}
    assert queries.latest_assessments(per_practice=2)["incident"] == [last, middle]
    assert queries.latest_by_practice(world.it) == {"incident": desk_only}


# --- pages -------------------------------------------------------------------------------------------------

MATURITY = "/insights/maturity/"


def assess_url(practice: str = "incident") -> str:
    return reverse("improvement:assess", args=[practice])


def test_the_pages_are_for_service_managers_admins_and_desk_managers(world: World, sam: User) -> None:
    pages = [MATURITY, reverse("improvement:history", args=["incident"]), assess_url()]
    assert pages[0] == reverse("improvement:maturity")
    for person in (world.alice, world.bob):
        client = client_for(person)
        assert all(client.get(page).status_code == 403 for page in pages)
    for person in (world.dave, sam, world.root):
        client = client_for(person)
        assert all(client.get(page).status_code == 200 for page in pages)
    assert Client().get(MATURITY).status_code == 302  # to the login page


def test_a_desk_manager_reads_their_desk_but_not_another(world: World) -> None:
    client = client_for(world.dave)
    assert client.get(MATURITY + "?desk=it").status_code == 200
    assert client.get(MATURITY + "?desk=hr").status_code == 404


def test_unknown_practices_have_no_page(world: World, sam: User) -> None:
    assert client_for(sam).get(MATURITY + "security/").status_code == 404


def test_the_maturity_page_draws_latest_and_previous_on_a_radar_in_a_fixed_number_of_queries(
    world: World, sam: User, django_assert_max_num_queries: Any
) -> None:
    for n, practice in enumerate(PRACTICES):
        for days, level in ((0, 2), (90, 3), (180, 3 + n % 3)):
            record_assessment(sam, practice.key, uniform(practice, level), now=T0 + timedelta(days=days + n))
    client = client_for(sam)
    with django_assert_max_num_queries(6):
        response = client.get(MATURITY)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html
    assert "Previous" in html
    row = html[html.index('id="practice-problem"'):]
    row = row[: row.index("</tr>")]
    assert "4.00" in row and "4 - Managed" in row and "+1.00" in row and "Sam Service" in row
    incident = html[html.index('id="practice-incident"'):]
    assert "0.00" in incident[: incident.index("</tr>")]
    assert f'href="{assess_url("problem")}"' in html
    assert f'href="{reverse("improvement:history", args=["problem"])}"' in html


def test_the_maturity_page_says_when_nothing_is_assessed_yet(world: World, sam: User) -> None:
    html = client_for(sam).get(MATURITY).content.decode()
    assert "has been assessed yet" in html and "Not assessed yet" in html


def test_the_history_page_charts_the_scores_and_lists_each_assessments_answers(world: World, sam: User) -> None:
    first = record_assessment(sam, "incident", uniform(level=2), now=T0)
    record_assessment(sam, "incident", graded(3, 4, 4, 2, 3, 5), now=T0 + timedelta(days=90), notes="After training")
    html = client_for(sam).get(reverse("improvement:history", args=["incident"])).content.decode()
    assert "<svg" in html
    assert f'id="assessment-{first.pk}"' in html
    assert "3.50 (3 - Defined)" in html and "+1.50 since the assessment before" in html
    assert "After training" in html
    assert INCIDENT.questions[2].text in html and INCIDENT.questions[2].describe(4) in html


def test_the_form_offers_the_five_levels_of_each_question(world: World, sam: User) -> None:
    html = client_for(sam).get(assess_url()).content.decode()
    for question in INCIDENT.questions:
        assert html.count(f'name="{question.id}"') == len(LEVELS)
        assert question.describe(5) in html
    assert '<option value="">Whole organisation</option>' in html


def fieldset_of(html: str, question_id: str) -> str:
    start = html.index(f'id="question-{question_id}"')
    return html[start : html.index("</fieldset>", start)]


def test_form_errors_sit_beside_their_question_and_the_answers_are_kept(world: World, sam: User) -> None:
    posted = {**uniform(level=4), "notes": "Draft"}
    del posted["incident.major"]
    response = client_for(sam).post(assess_url(), posted)
    assert response.status_code == 400
    html = response.content.decode()
    major = fieldset_of(html, "incident.major")
    assert 'class="error"' in major and "is not answered" in major and "checked" not in major
    logging = fieldset_of(html, "incident.logging")
    assert 'class="error"' not in logging
    assert re.search(r'value="4" checked', logging)
    assert ">Draft</textarea>" in html
    assert not Assessment.objects.exists()


def test_a_recorded_assessment_goes_back_to_the_maturity_page_with_a_message(world: World, sam: User) -> None:
    client = client_for(sam)
    response = client.post(assess_url(), {**graded(3, 4, 4, 2, 3, 5), "desk": "it", "notes": "Quarterly"})
    assert response.status_code == 302 and response["Location"] == MATURITY + "?desk=it"
    row = Assessment.objects.get()
    assert (row.score, row.desk, row.assessed_by, row.notes) == (Decimal("3.50"), world.it, sam, "Quarterly")
    html = client.get(response["Location"]).content.decode()
    assert "Recorded the assessment of Incident management: 3.50 (3 - Defined)." in html


def test_a_desk_manager_assesses_their_desk_through_the_form_only(world: World) -> None:
    client = client_for(world.dave)
    html = client.get(assess_url()).content.decode()
    assert "Whole organisation</option>" not in html.split('id="assess-desk"')[1].split("</select>")[0]
    assert client.post(assess_url(), {**uniform(), "desk": "hr"}).status_code == 403
    assert client.post(assess_url(), {**uniform(), "desk": ""}).status_code == 403
    assert client.post(assess_url(), {**uniform(), "desk": "it"}).status_code == 302
    assert Assessment.objects.get().desk == world.it


# --- the API -----------------------------------------------------------------------------------------------

class Api:
    """A client speaking JSON with a bearer token."""

    def __init__(self, user: User) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(user.username).key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1/maturity{path}", params, **self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(f"/api/v1/maturity{path}", data=json.dumps(body), content_type="application/json",
                                **self.headers)


def test_the_api_lists_the_latest_score_of_each_practice(world: World, sam: User) -> None:
    record_assessment(sam, "incident", uniform(level=2), now=T0)
    record_assessment(sam, "incident", graded(3, 4, 4, 2, 3, 5), now=T0 + timedelta(days=30))
    response = Api(sam).get("/")
    assert response.status_code == 200
    rows = {row["practice"]: row for row in response.json()}
    assert list(rows) == [p.key for p in PRACTICES]
    incident = rows["incident"]
    assert (incident["score"], incident["level"], incident["level_label"]) == (3.5, 3, "3 - Defined")
    assert incident["change"] == 1.5 and incident["assessment"]["assessed_by"] == "sam"
    assert rows["problem"]["score"] is None and rows["problem"]["assessment"] is None


def test_the_api_gives_a_practice_history_oldest_first(world: World, sam: User) -> None:
    record_assessment(sam, "incident", uniform(level=4), now=T0 + timedelta(days=30))
    record_assessment(sam, "incident", uniform(level=2), now=T0)
    record_assessment(sam, "incident", uniform(level=5), desk=world.it, now=T0)
    api = Api(sam)
    assert [row["score"] for row in api.get("/incident").json()] == [2.0, 4.0]
    assert [row["desk"] for row in api.get("/incident", desk="it").json()] == ["it"]
    assert api.get("/security").status_code == 404


def test_the_api_records_an_assessment(world: World, sam: User) -> None:
    response = Api(sam).post("/incident", {"answers": graded(3, 4, 4, 2, 3, 5), "desk": "it", "notes": "Via API"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["score"], body["level_label"], body["desk"], body["notes"]) == (3.5, "3 - Defined", "it", "Via API")
    assert Assessment.objects.get().pk == body["id"]


def test_the_api_names_the_question_in_its_400(world: World, sam: User) -> None:
    answers = uniform()
    answers["incident.priority"] = 9
    response = Api(sam).post("/incident", {"answers": answers})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "incident.priority", "message": "must be a level from 1 to 5, not 9"}]
    unknown = Api(sam).post("/security", {"answers": answers})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "practice"
    assert not Assessment.objects.exists()


def test_the_api_refuses_requesters_and_agents(world: World) -> None:
    for person in (world.alice, world.bob):
        api = Api(person)
        assert api.post("/incident", {"answers": uniform(), "desk": "it"}).status_code == 403
        assert api.get("/").status_code == 403
        assert api.get("/questionnaire").status_code == 403
    dave = Api(world.dave)
    assert dave.post("/incident", {"answers": uniform(), "desk": "hr"}).status_code == 403
    assert dave.post("/incident", {"answers": uniform(), "desk": "it"}).status_code == 201
    assert dave.get("/incident", desk="hr").status_code == 404
    assert Assessment.objects.count() == 1


def test_the_api_serves_the_questionnaire(world: World, sam: User) -> None:
    response = Api(sam).get("/questionnaire")
    assert response.status_code == 200
    practices = response.json()
    assert [p["label"] for p in practices][:2] == ["Incident management", "Problem management"]
    first = practices[0]["questions"][0]
    assert first["id"] == "incident.logging"
    assert [level["name"] for level in first["levels"]] == ["Initial", "Repeatable", "Defined", "Managed",
                                                            "Optimising"]
