"""The continual improvement register: a baseline measured from tickets, the benefit measured since, the rules of
a target and of the status, who may read and change initiatives, the pages and the API."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from outcomedesk.accounts.models import Desk, User
from outcomedesk.accounts.services import create_token
from outcomedesk.core import clock
from outcomedesk.core.audit import events_for
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.improvement.models import Initiative, InitiativeStatus
from outcomedesk.improvement.register import queries
from outcomedesk.improvement.register.services import change_initiative_status, create_initiative, update_initiative
from outcomedesk.improvement.register.tracked import TRACKED_FIGURES, value_at
from outcomedesk.insights.figures import compute, empty_figures
from outcomedesk.insights.periods import Period
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import State, Ticket
from tests import factories as f
from tests.conftest import World, client_for

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
MARCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
BASELINE = {"baseline_from": "2026-03-01", "baseline_to": "2026-03-31"}


def resolved(world: World, opened: datetime, hours: float, desk: Desk | None = None, **fields: Any) -> Ticket:
    """A ticket opened at `opened` and resolved `hours` later, through the ticket services."""
    desk = desk or world.it
    agent = world.bob if desk == world.it else world.hana
    with clock.at(opened):
        ticket = f.make_ticket(world.alice, desk, **fields)
    with clock.at(opened + timedelta(hours=hours)):
        return tickets.change_state(agent, ticket, State.RESOLVED, resolution_notes="Fixed")


def mttr_initiative(actor: User, **values: Any) -> Initiative:
    given = {"title": "Self-service password reset", "desk": "it", "figure": "mttr_median_hours",
             "target_value": 1, **BASELINE, **values}
    return create_initiative(actor, given, now=NOW)


@pytest.fixture
def dave(world: World) -> User:
    """Dave manages the IT desk: registers and changes its initiatives."""
    return world.dave


@pytest.fixture
def sam(world: World) -> User:
    """Sam is the service manager: edits the initiatives of every desk he sees."""
    return f.make_user("sam", display_name="Sam Service", is_service_manager=True)


@pytest.fixture
def helen(world: World) -> User:
    """Helen manages the confidential HR desk."""
    return f.make_agent(world.hr, "helen", group=world.hr_group, role="manager", display_name="Helen HR")


@pytest.fixture
def march(world: World) -> list[Ticket]:
    """Three IT tickets resolved in March in 2, 4 and 9 hours: a median of 4 hours, a mean of 5."""
    return [resolved(world, MARCH + timedelta(days=n), hours) for n, hours in enumerate((2, 4, 9))]


# --- the registry ------------------------------------------------------------------------------------------

def test_every_tracked_figure_points_at_a_figure_of_metrics_md() -> None:
    figures = empty_figures()
    assert {"mttr_median_hours", "sla_compliance", "reopen_rate", "first_touch_resolution_rate", "csat",
            "downtime_cost", "ticket_volume", "backlog", "time_to_first_response_median_hours",
            "productivity_loss_user_hours"} == set(TRACKED_FIGURES)
    for tracked in TRACKED_FIGURES.values():
        head, _, tail = tracked.path.partition(".")
        assert head in figures and (not tail or tail in figures[head]), tracked.path
        assert tracked.direction in ("lower", "higher")
        for path in tracked.support:
            assert path.split(".")[0] in figures, path
    assert value_at({"mttr": {"median_hours": 3.0}}, "mttr.median_hours") == 3.0
    assert value_at({"mttr": None}, "mttr.median_hours") is None


# --- the baseline and the benefit --------------------------------------------------------------------------

def test_the_baseline_is_the_median_time_to_resolve_of_the_baseline_periods_tickets(
    world: World, dave: User, march: list[Ticket]
) -> None:
    resolved(world, datetime(2026, 2, 20, 9, tzinfo=UTC), 50)  # before the baseline
    resolved(world, MARCH, 1, desk=world.hr)  # another desk
    by_hand = statistics.median((t.resolved_at - t.opened_at).total_seconds() / 3600 for t in march)
    row = mttr_initiative(dave)
    row.refresh_from_db()
    assert by_hand == 4.0
    assert row.baseline_value == pytest.approx(by_hand)
    assert row.baseline_measured_at == NOW and row.created_at == NOW and row.owner == dave
    assert row.status == InitiativeStatus.PROPOSED


def test_the_benefit_grows_as_later_tickets_resolve_faster(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave, started_on="2026-05-01")
    resolved(world, MAY, 3)
    before = queries.benefit(row, now=NOW)
    assert before.current == pytest.approx(3.0) and before.change == pytest.approx(-1.0)
    assert before.change_percent == pytest.approx(-25.0)
    assert before.progress_percent == pytest.approx(100 / 3)  # 4 h to 1 h: a third of the way
    assert before.improved is True
    assert before.period == Period(datetime(2026, 5, 1, tzinfo=UTC), NOW)
    resolved(world, MAY + timedelta(days=1), 1)
    resolved(world, MAY + timedelta(days=2), 1)
    after = queries.benefit(row, now=NOW)
    assert after.current == pytest.approx(1.0) and after.progress_percent == pytest.approx(100.0)
    assert after.figures["mttr"]["tickets"] == 3
    resolved(world, MAY + timedelta(days=3), 0.5)
    assert queries.benefit(row, now=NOW).progress_percent == pytest.approx(100.0)  # median of 3, 1, 1, 0.5
    march_only = queries.benefit(row, Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
                                 now=NOW)
    assert march_only.current == pytest.approx(4.0) and march_only.progress_percent == 0


def test_a_worse_figure_makes_no_progress(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave, started_on="2026-05-01")
    resolved(world, MAY, 10)
    found = queries.benefit(row, now=NOW)
    assert found.change == pytest.approx(6.0) and found.progress_percent == 0 and found.improved is False


def test_a_sum_over_a_period_compares_per_thirty_days(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave, figure="ticket_volume", target_value=1)
    assert row.baseline_value == pytest.approx(3 * 30 / 31)


def test_nothing_is_measured_before_the_work_starts(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave, started_on="2026-07-01")
    found = queries.benefit(row, now=NOW)
    assert (found.period, found.current, found.progress_percent) == (None, None, None)


def test_the_trend_has_one_value_a_month_from_the_baseline_to_now(world: World, dave: User,
                                                                   march: list[Ticket]) -> None:
    resolved(world, MAY, 2)
    trend = queries.monthly_trend(mttr_initiative(dave), now=NOW)
    assert [p.start.month for p, _ in trend] == [3, 4, 5, 6]
    assert [v for _, v in trend] == [pytest.approx(4.0), None, pytest.approx(2.0), None]
    assert trend[-1][0].end == NOW


# --- validation --------------------------------------------------------------------------------------------

def test_a_target_on_the_wrong_side_of_the_baseline_is_rejected(world: World, dave: User,
                                                                march: list[Ticket]) -> None:
    for target in (4, 6):
        with pytest.raises(InvalidInput) as caught:
            mttr_initiative(dave, target_value=target)
        assert set(caught.value.errors) == {"target_value"}
        assert caught.value.errors["target_value"].startswith("must be below the baseline of 4.0 h")
    assert not Initiative.objects.exists()


def test_a_higher_is_better_target_must_be_above_the_baseline(world: World, dave: User) -> None:
    second = f.make_group(world.it, "Network")
    for n in range(4):
        with clock.at(MARCH + timedelta(days=n)):
            ticket = tickets.open_ticket(world.bob, desk=world.it, title=f"Printer {n}", requester=world.alice,
                                         group=world.it_group)
            if n % 2:
                tickets.update_ticket(world.bob, ticket, {"group": second})
            tickets.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="Fixed")
    values = {"figure": "first_touch_resolution_rate"}
    with pytest.raises(InvalidInput) as caught:
        mttr_initiative(dave, **values, target_value=0.4)
    assert "must be above the baseline of 50.0 %" in caught.value.errors["target_value"]
    with pytest.raises(InvalidInput) as caught:
        mttr_initiative(dave, **values, target_value=80)
    assert caught.value.errors == {"target_value": "must be a share from 0 to 1 (0.85 is 85 %)"}
    assert mttr_initiative(dave, **values, target_value="0.8").baseline_value == pytest.approx(0.5)


def test_each_bad_field_is_named_at_once_and_nothing_is_stored(world: World, dave: User) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_initiative(dave, {"title": " ", "desk": "it", "figure": "vibes", "baseline_from": "March",
                                 "baseline_to": "2026-03-31", "target_value": "fast", "service": "nope",
                                 "owner": "alice", "due_on": "2026-01-01", "started_on": "2026-02-01",
                                 "colour": "red"}, now=NOW)
    errors = caught.value.errors
    assert set(errors) == {"title", "figure", "baseline_from", "target_value", "service", "owner", "due_on",
                           "colour"}
    assert errors["title"] == "is required"
    assert errors["baseline_from"] == "'March' is not a date (YYYY-MM-DD)"
    assert errors["target_value"] == "must be a number, not 'fast'"
    assert errors["owner"] == "Alice Requester does not work on the IT desk"
    assert errors["colour"] == "is not a field of an initiative"
    assert not Initiative.objects.exists()


def test_a_baseline_must_be_over_and_have_something_to_measure(world: World, dave: User) -> None:
    with pytest.raises(InvalidInput) as caught:
        mttr_initiative(dave, baseline_from="2026-06-01", baseline_to="2026-06-15")
    assert caught.value.errors == {"baseline_to": "the baseline must be over: end it on 2026-06-14 at the latest"}
    with pytest.raises(InvalidInput) as caught:
        mttr_initiative(dave, baseline_to="2026-02-01")
    assert set(caught.value.errors) == {"baseline_to"}
    with pytest.raises(InvalidInput) as caught:
        mttr_initiative(dave)  # no ticket was resolved in March
    assert "nothing to measure" in caught.value.errors["baseline_from"]


# --- status and changes ------------------------------------------------------------------------------------

def test_the_status_moves_along_its_path_and_starting_dates_the_work(world: World, dave: User,
                                                                     march: list[Ticket]) -> None:
    row = mttr_initiative(dave)
    with pytest.raises(InvalidInput) as caught:
        change_initiative_status(dave, row, "done", now=NOW)
    assert caught.value.errors["status"] == "cannot go from proposed to done (it may go to approved, abandoned)"
    with pytest.raises(InvalidInput):
        change_initiative_status(dave, row, "shipped", now=NOW)
    change_initiative_status(dave, row, "approved", now=NOW)
    row = change_initiative_status(dave, row, "in_progress", now=NOW + timedelta(days=1))
    assert row.started_on == date(2026, 6, 16)
    row = change_initiative_status(dave, row, "done", now=NOW)
    with pytest.raises(InvalidInput) as caught:
        change_initiative_status(dave, row, "in_progress", now=NOW)
    assert "it is final" in caught.value.errors["status"]
    with pytest.raises(InvalidInput) as caught:
        update_initiative(dave, row, {"title": "Again"}, now=NOW)
    assert set(caught.value.errors) == {"status"}


def test_every_change_is_audited(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave)
    update_initiative(dave, row, {"title": "Password reset portal", "target_value": "2"}, now=NOW)
    change_initiative_status(dave, row, "approved", now=NOW)
    events = [(e.action, e.field, e.old_value, e.new_value, e.actor_id)
              for e in events_for("initiative", row.pk)]
    assert events == [
        ("created", "", "", "Self-service password reset", dave.pk),
        ("measured", "baseline_value", "", "4.0 h", dave.pk),
        ("changed", "title", "Self-service password reset", "Password reset portal", dave.pk),
        ("changed", "target_value", "1.0 h", "2.0 h", dave.pk),
        ("status", "status", "proposed", "approved", dave.pk),
    ]


def test_changing_what_the_baseline_measures_re_measures_it_until_the_work_starts(
    world: World, dave: User, march: list[Ticket]
) -> None:
    resolved(world, datetime(2026, 4, 6, 9, tzinfo=UTC), 8)
    row = mttr_initiative(dave)
    row = update_initiative(dave, row, {"baseline_to": "2026-04-30"}, now=NOW + timedelta(hours=1))
    assert row.baseline_value == pytest.approx(6.0)  # median of 2, 4, 9, 8
    assert row.baseline_measured_at == NOW + timedelta(hours=1)
    with pytest.raises(InvalidInput) as caught:
        update_initiative(dave, row, {"target_value": 7}, now=NOW)
    assert "below the baseline of 6.0 h" in caught.value.errors["target_value"]
    change_initiative_status(dave, row, "approved", now=NOW)
    change_initiative_status(dave, row, "in_progress", now=NOW)
    with pytest.raises(InvalidInput) as caught:
        update_initiative(dave, row, {"figure": "backlog", "baseline_from": "2026-02-01"}, now=NOW)
    assert set(caught.value.errors) == {"figure", "baseline_from"}
    assert "fixed once the work has started" in caught.value.errors["figure"]


# --- who ---------------------------------------------------------------------------------------------------

def test_requesters_and_agents_may_not_register_initiatives(world: World, march: list[Ticket]) -> None:
    for person in (world.alice, world.bob, world.hana):
        with pytest.raises(NotAllowed):
            mttr_initiative(person)
    assert not Initiative.objects.exists()


def test_a_desk_manager_registers_for_their_own_desk_only(world: World, dave: User, sam: User,
                                                          march: list[Ticket]) -> None:
    facilities = f.make_desk("fac", name="Facilities")
    resolved(world, MARCH, 5, desk=world.hr)
    with pytest.raises(NotAllowed):
        mttr_initiative(dave, desk=facilities)
    with pytest.raises(InvalidInput) as caught:
        mttr_initiative(dave, desk="hr")  # confidential: not even seen
    assert caught.value.errors == {"desk": "no desk 'hr'"}
    row = mttr_initiative(sam)
    with pytest.raises(NotAllowed):
        update_initiative(world.bob, row, {"title": "Mine now"}, now=NOW)
    assert update_initiative(world.root, row, {"title": "Admin's"}, now=NOW).title == "Admin's"


def test_a_confidential_desks_initiatives_reach_only_its_members(world: World, dave: User, helen: User,
                                                                 sam: User) -> None:
    resolved(world, MARCH, 5, desk=world.hr)
    row = mttr_initiative(helen, desk="hr")
    assert list(queries.visible_initiatives(world.hana)) == [row]
    for outsider in (world.bob, dave, sam, world.root):
        assert not queries.visible_initiatives(outsider).exists()


# --- pages -------------------------------------------------------------------------------------------------

LIST = "/insights/improvement/"


def pages(row: Initiative) -> list[str]:
    return [LIST, reverse("improvement_register:detail", args=[row.pk])]


def test_requesters_get_403_and_strangers_the_login_page(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave)
    assert reverse("improvement_register:list") == LIST
    client = client_for(world.alice)
    for url in [*pages(row), reverse("improvement_register:create"), reverse("improvement_register:edit",
                                                                               args=[row.pk])]:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("improvement_register:status", args=[row.pk]), {"status": "approved"}
                       ).status_code == 403
    assert Client().get(LIST).status_code == 302


def test_an_agent_reads_the_register_but_changes_nothing(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave)
    client = client_for(world.bob)
    with clock.at(NOW):
        assert all(client.get(url).status_code == 200 for url in pages(row))
        html = client.get(pages(row)[1]).content.decode()
    assert "Mark approved" not in html and "/edit/" not in html
    assert "Register an initiative" not in client.get(LIST).content.decode()
    assert client.get(reverse("improvement_register:create")).status_code == 403
    assert client.get(reverse("improvement_register:edit", args=[row.pk])).status_code == 403
    assert client.post(reverse("improvement_register:status", args=[row.pk]), {"status": "approved"}
                       ).status_code == 403
    row.refresh_from_db()
    assert row.status == "proposed"


def test_another_desks_confidential_initiatives_are_not_on_the_page(world: World, dave: User, helen: User,
                                                                    march: list[Ticket]) -> None:
    resolved(world, MARCH, 5, desk=world.hr)
    secret = mttr_initiative(helen, desk="hr", title="Payroll queries")
    mttr_initiative(dave)
    html = client_for(dave).get(LIST).content.decode()
    assert "Self-service password reset" in html and "Payroll queries" not in html
    assert client_for(dave).get(pages(secret)[1]).status_code == 404
    assert "Payroll queries" in client_for(world.hana).get(LIST).content.decode()


def test_the_list_filters_by_status_and_desk(world: World, dave: User, march: list[Ticket]) -> None:
    approved = mttr_initiative(dave, title="Knowledge articles")
    change_initiative_status(dave, approved, "approved", now=NOW)
    mttr_initiative(dave, title="Chat channel")
    client = client_for(dave)
    html = client.get(LIST, {"status": "approved", "desk": "it"}).content.decode()
    assert "Knowledge articles" in html and "Chat channel" not in html
    assert "Chat channel" not in client.get(LIST, {"desk": "hr"}).content.decode()
    bad = client.get(LIST, {"status": "someday"})
    assert bad.status_code == 400 and "Status must be one of" in bad.content.decode()


def queries_of_one_computation(world: World) -> int:
    with CaptureQueriesContext(connection) as captured:
        compute(queries.scope_for(world.it.pk), Period(MARCH, NOW), now=NOW)
    return len(captured)


def test_the_list_shows_each_figure_measured_in_a_fixed_number_of_queries(
    world: World, dave: User, march: list[Ticket], django_assert_max_num_queries: Any
) -> None:
    made = [mttr_initiative(dave, title=f"Initiative {n}", figure=figure, target_value=0.5)
            for n, figure in enumerate(("mttr_median_hours", "ticket_volume", "mttr_median_hours", "ticket_volume"))]
    client = client_for(dave)
    client.get(LIST)  # the session and the user, once
    # One computation of the figures serves every initiative of the same scope and period.
    with clock.at(NOW), django_assert_max_num_queries(7 + queries_of_one_computation(world)):
        response = client.get(LIST)
    html = response.content.decode()
    row = html[html.index(f'id="initiative-{made[0].pk}"'):]
    row = row[: row.index("</tr>")]
    assert "Time to resolve (median hours)" in row and "4.0 h" in row and "0.5 h" in row and "Proposed" in row
    assert html.count('id="initiative-') == 4


def test_the_detail_page_shows_the_benefit_its_figures_its_trend_and_history(
    world: World, dave: User, march: list[Ticket], django_assert_max_num_queries: Any
) -> None:
    row = mttr_initiative(dave, started_on="2026-05-01")
    resolved(world, MAY, 2.5)
    client = client_for(dave)
    months = 4  # March to June
    with clock.at(NOW), django_assert_max_num_queries(12 + (2 + months) * queries_of_one_computation(world)):
        response = client.get(pages(row)[1])
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="benefit-baseline">4.0 h<' in html and 'id="benefit-current" class="register-better">2.5 h<' in html
    assert "-1.5 h" in html and "-37.5 %" in html and 'id="benefit-progress">50 %<' in html
    assert "Mean hours to resolve" in html and "Tickets resolved" in html
    assert "<svg" in html and "Baseline" in html and "Target" in html and "Mar 2026" in html
    assert "registered “Self-service password reset”" in html and "baseline measured: 4.0 h" in html
    assert 'name="csrfmiddlewaretoken"' in html and 'value="approved"' in html


def test_the_form_keeps_the_answers_and_shows_errors_beside_their_field(world: World, dave: User,
                                                                        march: list[Ticket]) -> None:
    client = client_for(dave)
    assert client.get(reverse("improvement_register:create")).status_code == 200
    posted = {"title": "Faster fixes", "desk": "it", "owner": "dave", "figure": "mttr_median_hours",
              **BASELINE, "target_value": "9", "service": "", "category": "", "started_on": "", "due_on": ""}
    with clock.at(NOW):
        response = client.post(reverse("improvement_register:create"), posted)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="initiative-target_value-error">Target: must be below the baseline of 4.0 h' in html
    assert 'value="Faster fixes"' in html and 'value="9"' in html
    assert not Initiative.objects.exists()
    with clock.at(NOW):
        response = client.post(reverse("improvement_register:create"), {**posted, "target_value": "2"})
    row = Initiative.objects.get()
    assert response.status_code == 302 and response["Location"] == pages(row)[1]
    assert (row.baseline_value, row.target_value, row.owner) == (pytest.approx(4.0), 2.0, dave)
    edit = reverse("improvement_register:edit", args=[row.pk])
    assert 'value="2"' in client.get(edit).content.decode()
    with clock.at(NOW):
        assert client.post(edit, {**posted, "title": "Fixes, faster", "target_value": "3"}).status_code == 302
    row.refresh_from_db()
    assert (row.title, row.target_value) == ("Fixes, faster", 3.0)


def test_the_status_buttons_post_with_the_csrf_token(world: World, dave: User, march: list[Ticket]) -> None:
    row = mttr_initiative(dave)
    url = reverse("improvement_register:status", args=[row.pk])
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(dave)
    assert guarded.post(url, {"status": "approved"}).status_code == 403
    client = client_for(dave)
    assert client.get(url).status_code == 405
    response = client.post(url, {"status": "done"})
    assert response.status_code == 302
    assert "cannot go from proposed to done" in client.get(response["Location"]).content.decode()
    client.post(url, {"status": "approved"})
    row.refresh_from_db()
    assert row.status == "approved"


# --- the API -----------------------------------------------------------------------------------------------

class Api:
    """A client speaking JSON with a bearer token."""

    def __init__(self, user: User) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(user.username).key}"}

    def get(self, path: str = "/", **params: Any) -> Any:
        return self.client.get(f"/api/v1/improvement/initiatives{path}", params, **self.headers)

    def send(self, method: str, path: str, body: Any) -> Any:
        call = getattr(self.client, method)
        return call(f"/api/v1/improvement/initiatives{path}", data=json.dumps(body),
                    content_type="application/json", **self.headers)


def test_the_api_registers_changes_and_measures_an_initiative(world: World, dave: User,
                                                              march: list[Ticket]) -> None:
    api = Api(dave)
    body = {"title": "Runbooks", "desk": "it", "figure": "mttr_median_hours", **BASELINE, "target_value": 2,
            "started_on": "2026-05-01"}
    with clock.at(NOW):
        created = api.send("post", "/", body)
    assert created.status_code == 201, created.content
    found = created.json()
    assert (found["baseline_value"], found["owner"], found["status"]) == (4.0, "dave", "proposed")
    assert found["next_statuses"] == ["approved", "abandoned"]
    resolved(world, MAY, 3)
    with clock.at(NOW):
        one = api.get(f"/{found['id']}").json()
    assert one["benefit"]["current"] == 3.0 and one["benefit"]["progress_percent"] == 50.0
    assert [p["month"] for p in one["trend"]] == ["2026-03", "2026-04", "2026-05", "2026-06"]
    with clock.at(NOW):
        march_only = api.get(f"/{found['id']}", **{"from": "2026-03-01", "to": "2026-03-31"}).json()
    assert march_only["benefit"]["current"] == 4.0
    patched = api.send("patch", f"/{found['id']}", {"target_value": 2.5, "due_on": "2026-09-30"})
    assert patched.status_code == 200 and patched.json()["target_value"] == 2.5
    moved = api.send("post", f"/{found['id']}/status", {"status": "approved"})
    assert moved.status_code == 200 and moved.json()["status"] == "approved"
    assert [row["title"] for row in api.get(status="approved").json()] == ["Runbooks"]
    assert api.get(status="done").json() == []
    assert {e.channel for e in events_for("initiative", found["id"])} == {"api"}


def test_the_api_names_the_field_in_its_4xx(world: World, dave: User, march: list[Ticket]) -> None:
    api = Api(dave)
    body = {"title": "Runbooks", "desk": "it", "figure": "mttr_median_hours", **BASELINE, "target_value": 5}
    with clock.at(NOW):
        wrong_side = api.send("post", "/", body)
        bad_date = api.send("post", "/", {**body, "baseline_from": "last spring"})
        missing = api.send("post", "/", {k: v for k, v in body.items() if k != "figure"})
    assert wrong_side.status_code == 400
    assert wrong_side.json()["errors"][0]["field"] == "target_value"
    assert bad_date.status_code == 400 and bad_date.json()["errors"][0]["field"] == "baseline_from"
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "figure"
    assert api.get(status="someday").json()["errors"][0]["field"] == "status"
    row = mttr_initiative(dave)
    refused = api.send("post", f"/{row.pk}/status", {"status": "done"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "status"
    assert not Initiative.objects.exclude(pk=row.pk).exists()


def test_the_api_refuses_requesters_keeps_agents_read_only_and_hides_confidential_desks(
    world: World, dave: User, helen: User, march: list[Ticket]
) -> None:
    resolved(world, MARCH, 5, desk=world.hr)
    secret = mttr_initiative(helen, desk="hr")
    row = mttr_initiative(dave)
    requester = Api(world.alice)
    assert requester.get().status_code == 403 and requester.get(f"/{row.pk}").status_code == 403
    agent = Api(world.bob)
    assert [found["id"] for found in agent.get().json()] == [row.pk]
    assert agent.get(f"/{secret.pk}").status_code == 404
    assert agent.send("patch", f"/{row.pk}", {"title": "Mine"}).status_code == 403
    assert agent.send("post", f"/{row.pk}/status", {"status": "approved"}).status_code == 403
    body = {"title": "Runbooks", "desk": "it", "figure": "mttr_median_hours", **BASELINE, "target_value": 2}
    assert agent.send("post", "/", body).status_code == 403
    assert Api(dave).send("patch", f"/{secret.pk}", {"title": "Seen"}).status_code == 404
    assert [found["id"] for found in Api(world.hana).get(desk="hr").json()] == [secret.pk]
