"""Incident impact windows: one write path with its rules and audit trail, the ticket page's panel, the API, and
who may record them (the desk's staff only; a confidential desk's incidents stay invisible to others)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets import impact
from outcomedesk.tickets.models import ServiceImpact, Ticket
from outcomedesk.tickets.queries import timeline
from tests import factories as f
from tests.conftest import World, client_for
from tests.test_api import Api

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with clock.at(NOW):
        yield


@pytest.fixture
def email(world: World) -> BusinessService:
    return f.make_service(world.it, "E-mail", users_served=200, cost_of_downtime_per_hour=Decimal("4000"))


@pytest.fixture
def incident(world: World, email: BusinessService) -> Ticket:
    return f.make_ticket(world.alice, world.it, title="Mail is down", service=email.pk)


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def record(world: World, incident: Ticket, email: BusinessService, **fields: Any) -> ServiceImpact:
    fields.setdefault("impact_start", hours_ago(3))
    return impact.record_impact(world.bob, incident, service=email, **fields)


def impact_events(ticket: Ticket) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="ticket", object_id=ticket.pk, action__startswith="impact_"))


# --- the figures of METRICS.md ----------------------------------------------------------------------------

def test_outage_hours_are_the_window_and_an_open_window_counts_to_now() -> None:
    assert impact.outage_hours(hours_ago(3), hours_ago(1), NOW) == 2.0
    assert impact.outage_hours(hours_ago(3), None, NOW) == 3.0


def test_the_share_is_the_fraction_else_users_over_users_served_else_a_full_outage() -> None:
    assert impact.affected_share(None, Decimal("0.25"), 200) == 0.25
    assert impact.affected_share(50, None, 200) == 0.25
    assert impact.affected_share(50, None, 0) == 1.0  # nobody knows how many it serves
    assert impact.affected_share(None, None, 200) == 1.0


def test_downtime_cost_is_hours_times_cost_per_hour_times_share() -> None:
    assert impact.downtime_cost(2.0, Decimal("4000"), 0.25) == 2000.0
    assert impact.downtime_cost(1.5, Decimal("0"), 1.0) == 0.0


# --- recording --------------------------------------------------------------------------------------------

def test_an_agent_records_a_window_and_the_timeline_shows_it(world: World, incident: Ticket,
                                                              email: BusinessService) -> None:
    version = incident.version
    window = record(world, incident, email, impact_end=hours_ago(1), impact_fraction="0.25", note="Outlook only")
    assert window.recorded_by == world.bob and window.recorded_at == NOW
    assert window.impact_fraction == Decimal("0.2500") and window.users_affected is None
    [event] = impact_events(incident)
    assert (event.action, event.field, event.actor_id) == ("impact_recorded", "impact", world.bob.pk)
    assert f"#{window.pk} E-mail: 2025-03-14 12:00 to 2025-03-14 14:00, 25% of its users (Outlook only)" \
        == event.new_value
    entries = [e.event for e in timeline(incident, include_internal=False) if e.event is not None]
    assert any(e.action == "impact_recorded" for e in entries)  # requesters see it too
    assert Ticket.objects.get(pk=incident.pk).version == version  # no field of the ticket changed

    [row] = impact.impact_windows(incident, NOW)
    assert (row.outage_hours, row.affected_share, row.downtime_cost) == (2.0, 0.25, 2000.0)


def test_a_window_without_users_or_share_is_a_full_outage_and_may_stay_open(world: World, incident: Ticket,
                                                                              email: BusinessService) -> None:
    window = record(world, incident, email)
    [row] = impact.impact_windows(incident, NOW)
    assert row.ongoing and row.affected_share == 1.0 and row.downtime_cost == 3 * 4000
    assert "to ongoing, full outage" in impact.describe(window)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"impact_end": hours_ago(4)}, "impact_end", "is before the impact started"),
    ({"impact_start": NOW + timedelta(minutes=5)}, "impact_start", "is in the future"),
    ({"impact_end": NOW + timedelta(hours=1)}, "impact_end", "leave it empty while the impact lasts"),
    ({"impact_start": None}, "impact_start", "is required"),
    ({"impact_start": "yesterday"}, "impact_start", "enter a date and time"),
    ({"impact_start": "2025-02-30T10:00"}, "impact_start", "enter a date and time"),
    ({"impact_fraction": "1.5"}, "impact_fraction", "must be from 0 to 1"),
    ({"impact_fraction": -0.1}, "impact_fraction", "must be from 0 to 1"),
    ({"impact_fraction": "half"}, "impact_fraction", "must be a number"),
    ({"users_affected": -1}, "users_affected", "cannot be negative"),
    ({"users_affected": "12.5"}, "users_affected", "whole number"),
    ({"users_affected": 201}, "users_affected", "more than the 200 users E-mail serves"),
    ({"users_affected": 20, "impact_fraction": "0.1"}, "impact_fraction", "not both"),
    ({"note": "x" * 301}, "note", "at most 300"),
])
def test_each_rule_is_an_error_naming_its_field(world: World, incident: Ticket, email: BusinessService,
                                                fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        record(world, incident, email, **fields)
    assert field in caught.value.errors, caught.value.errors
    assert message in caught.value.errors[field]
    assert not ServiceImpact.objects.exists() and not impact_events(incident)


def test_the_service_must_be_an_active_one(world: World, incident: Ticket) -> None:
    for given, message in ((None, "is required"), ("", "is required"), (9999, "no active business service"),
                           ("no-such-slug", "no active business service")):
        with pytest.raises(InvalidInput) as caught:
            impact.record_impact(world.bob, incident, service=given, impact_start=hours_ago(1))
        assert message in caught.value.errors["service"]


def test_any_number_of_users_when_the_service_does_not_say_how_many_it_serves(world: World,
                                                                               incident: Ticket) -> None:
    unknown = f.make_service(world.it, "Intranet")
    window = impact.record_impact(world.bob, incident, service=unknown.slug, impact_start=hours_ago(1),
                                  users_affected=5000)
    assert window.users_affected == 5000


def test_service_requests_and_cancelled_incidents_take_no_window(world: World, email: BusinessService) -> None:
    request = f.make_ticket(world.alice, world.it, type="request")
    with pytest.raises(InvalidInput) as caught:
        impact.record_impact(world.bob, request, service=email, impact_start=hours_ago(1))
    assert "service request" in caught.value.errors["ticket"]
    from outcomedesk.tickets import services

    cancelled = services.change_state(world.bob, f.make_ticket(world.alice, world.it), "cancelled")
    with pytest.raises(InvalidInput) as caught:
        impact.record_impact(world.bob, cancelled, service=email, impact_start=hours_ago(1))
    assert "cancelled" in caught.value.errors["ticket"]


def test_the_requester_and_agents_of_other_desks_may_not_record(world: World, incident: Ticket,
                                                                email: BusinessService) -> None:
    for outsider in (world.alice, world.hana, world.root):
        with pytest.raises(NotAllowed):
            impact.record_impact(outsider, incident, service=email, impact_start=hours_ago(1))
    window = record(world, incident, email)
    for outsider in (world.alice, world.hana):
        with pytest.raises(NotAllowed):
            impact.update_impact(outsider, window, users_affected=3)
        with pytest.raises(NotAllowed):
            impact.end_impact(outsider, window)
        with pytest.raises(NotAllowed):
            impact.remove_impact(outsider, window)
    assert impact.record_impact(world.dave, incident, service=email, impact_start=hours_ago(1))  # desk manager


def test_a_confidential_desks_incident_is_not_found_by_others(world: World) -> None:
    payroll = f.make_service(world.hr, "Payroll", users_served=200, cost_of_downtime_per_hour=2500)
    secret = f.make_ticket(world.alice, world.hr, title="Payroll run failed", service=payroll.pk)
    with pytest.raises(NotFound):
        impact.record_impact(world.bob, secret, service=payroll, impact_start=hours_ago(1))
    window = impact.record_impact(world.hana, secret, service=payroll, impact_start=hours_ago(1))
    with pytest.raises(NotFound):
        impact.remove_impact(world.bob, window)


# --- changing, ending, removing -----------------------------------------------------------------------------

def test_giving_users_clears_the_share_and_the_trail_keeps_both_versions(world: World, incident: Ticket,
                                                                         email: BusinessService) -> None:
    window = record(world, incident, email, impact_fraction="0.5")
    changed = impact.update_impact(world.bob, window, users_affected="40", note="Only the Lyon office")
    assert (changed.users_affected, changed.impact_fraction, changed.note) == (40, None, "Only the Lyon office")
    event = impact_events(incident)[-1]
    assert event.action == "impact_changed"
    assert event.old_value.endswith("50% of its users") and event.new_value.endswith("40 users (Only the Lyon office)")
    assert impact.update_impact(world.bob, window, users_affected=40) == changed  # nothing new: no event
    assert len(impact_events(incident)) == 2


def test_a_change_is_checked_as_a_whole(world: World, incident: Ticket, email: BusinessService) -> None:
    window = record(world, incident, email, impact_end=hours_ago(1))
    with pytest.raises(InvalidInput) as caught:
        impact.update_impact(world.bob, window, impact_start=hours_ago(0.5))
    assert "is before the impact started" in caught.value.errors["impact_end"]
    with pytest.raises(InvalidInput) as caught:
        impact.update_impact(world.bob, window, users_affected=1, impact_fraction=0.1)
    assert "not both" in caught.value.errors["impact_fraction"]
    with pytest.raises(InvalidInput) as caught:
        impact.update_impact(world.bob, window, ticket=3, recorded_by=1)
    assert set(caught.value.errors) == {"ticket", "recorded_by"}
    assert ServiceImpact.objects.get(pk=window.pk).impact_end == hours_ago(1)


def test_ending_closes_the_window_now_once(world: World, incident: Ticket, email: BusinessService) -> None:
    window = record(world, incident, email)
    ended = impact.end_impact(world.bob, window)
    assert ended.impact_end == NOW
    assert impact_events(incident)[-1].action == "impact_ended"
    with pytest.raises(InvalidInput) as caught:
        impact.end_impact(world.bob, window)
    assert "ended already" in caught.value.errors["impact_end"]
    other = record(world, incident, email)
    with pytest.raises(InvalidInput) as caught:
        impact.end_impact(world.bob, other, at=hours_ago(5))
    assert "before the impact started" in caught.value.errors["impact_end"]


def test_removing_deletes_the_window_and_the_trail_says_what_it_was(world: World, incident: Ticket,
                                                                  email: BusinessService) -> None:
    window = record(world, incident, email, users_affected=12)
    impact.remove_impact(world.bob, window)
    assert not ServiceImpact.objects.exists()
    event = impact_events(incident)[-1]
    assert (event.action, event.new_value) == ("impact_removed", "")
    assert event.old_value.endswith("12 users")
    with pytest.raises(NotFound) as caught:
        impact.remove_impact(world.bob, window.pk)
    assert caught.value.field == "impact"


# --- the ticket page ----------------------------------------------------------------------------------------

def page(user: Any, ticket: Ticket) -> str:
    response = client_for(user).get(reverse("web:ticket", args=[ticket.number]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_panel_lists_windows_with_their_figures(world: World, incident: Ticket, email: BusinessService) -> None:
    ended = record(world, incident, email, impact_end=hours_ago(1), impact_fraction="0.25")
    ongoing = record(world, incident, email, users_affected=50)
    html = page(world.bob, incident)
    assert "Business impact" in html
    row = re.search(rf'<tr id="impact-{ended.pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "E-mail" in row[1] and "2.0" in row[1] and "25% of users" in row[1] and "2,000.00" in row[1]
    row = re.search(rf'<tr id="impact-{ongoing.pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "ongoing" in row[1] and "50 users (25%)" in row[1] and "3,000.00" in row[1]
    assert f'id="impact-{ongoing.pk}-end"' in html and f'id="impact-{ended.pk}-end"' not in html
    assert 'id="impact-form"' in html


def test_agents_of_other_desks_read_the_panel_without_its_forms(world: World, incident: Ticket,
                                                               email: BusinessService) -> None:
    window = record(world, incident, email)
    html = page(world.hana, incident)
    assert f'<tr id="impact-{window.pk}">' in html
    assert 'id="impact-form"' not in html and f'id="impact-{window.pk}-remove"' not in html


def test_service_requests_have_no_impact_panel(world: World) -> None:
    request = f.make_ticket(world.alice, world.it, type="request")
    assert "Business impact" not in page(world.bob, request)


def test_the_form_shows_each_error_beside_its_field_and_keeps_what_was_typed(world: World, incident: Ticket,
                                                                             email: BusinessService) -> None:
    response = client_for(world.bob).post(reverse("web:ticket_impact_add", args=[incident.number]), {
        "service": email.pk, "impact_start": "2025-03-14T12:00", "impact_end": "2025-03-14T11:00",
        "impact_fraction": "2", "note": "typed",
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="impact-end-error">End 2025-03-14 11:00 is before the impact started', html)
    assert 'id="impact-fraction-error">Share must be from 0 to 1' in html
    assert 'id="impact-users-error"' not in html
    assert 'value="2025-03-14T11:00"' in html and 'value="typed"' in html
    assert f'<option value="{email.pk}" selected>' in html
    assert not ServiceImpact.objects.exists()


def test_record_end_and_remove_through_the_page(world: World, incident: Ticket, email: BusinessService) -> None:
    client = client_for(world.bob)
    response = client.post(reverse("web:ticket_impact_add", args=[incident.number]), {
        "service": email.pk, "impact_start": "2025-03-14T13:30", "impact_end": "", "users_affected": "30",
        "impact_fraction": "", "note": "",
    })
    assert response.status_code == 302
    window = ServiceImpact.objects.get()
    assert window.impact_start == datetime(2025, 3, 14, 13, 30, tzinfo=UTC) and window.users_affected == 30
    response = client.post(reverse("web:ticket_impact_end", args=[incident.number, window.pk]))
    assert response.status_code == 302 and ServiceImpact.objects.get().impact_end == NOW
    response = client.post(reverse("web:ticket_impact_end", args=[incident.number, window.pk]))
    assert response.status_code == 400
    assert "the impact ended already" in response.content.decode()
    response = client.post(reverse("web:ticket_impact_remove", args=[incident.number, window.pk]))
    assert response.status_code == 302 and not ServiceImpact.objects.exists()
    actions = [e.action for e in impact_events(incident)]
    assert actions == ["impact_recorded", "impact_ended", "impact_removed"]
    assert all(e.channel == "web" for e in impact_events(incident))


def test_the_forms_need_the_csrf_token(world: World, incident: Ticket, email: BusinessService) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.bob)
    url = reverse("web:ticket_impact_add", args=[incident.number])
    fields = {"service": email.pk, "impact_start": "2025-03-14T13:30"}
    assert client.post(url, fields).status_code == 403
    html = client.get(reverse("web:ticket", args=[incident.number])).content.decode()
    token = re.search(r'id="impact-form".*?name="csrfmiddlewaretoken" value="([^"]+)"', html, re.S)
    assert token is not None
    assert client.post(url, {**fields, "csrfmiddlewaretoken": token[1]}).status_code == 302


def test_the_page_refuses_requesters_other_desks_and_windows_of_other_tickets(
    world: World, incident: Ticket, email: BusinessService
) -> None:
    window = record(world, incident, email)
    add = reverse("web:ticket_impact_add", args=[incident.number])
    fields = {"service": email.pk, "impact_start": "2025-03-14T13:30"}
    assert client_for(world.alice).post(add, fields).status_code == 403  # the workspace is for staff
    assert client_for(world.hana).post(add, fields).status_code == 403  # reads IT incidents, may not change them
    other = f.make_ticket(world.alice, world.it, title="Another incident")
    remove = reverse("web:ticket_impact_remove", args=[other.number, window.pk])
    assert client_for(world.bob).post(remove).status_code == 404
    payroll = f.make_service(world.hr, "Payroll")
    secret = f.make_ticket(world.alice, world.hr, service=payroll.pk)
    assert client_for(world.bob).get(reverse("web:ticket", args=[secret.number])).status_code == 404
    assert client_for(world.bob).post(reverse("web:ticket_impact_add", args=[secret.number]),
                                      {"service": payroll.pk, "impact_start": "2025-03-14T13:30"}).status_code == 404
    assert ServiceImpact.objects.count() == 1


def test_the_panel_is_one_query_and_none_without_windows(world: World, incident: Ticket,
                                                         email: BusinessService) -> None:
    client = client_for(world.bob)
    url = reverse("web:ticket", args=[incident.number])
    client.get(url)
    with CaptureQueriesContext(connection) as without:
        client.get(url)
    for hours in (5, 4, 3):
        record(world, incident, email, impact_start=hours_ago(hours))
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    assert len(captured) == len(without) + 1
    # The ticket's own query asks whether there are any (EXISTS); one more loads them with their services.
    assert sum("tickets_serviceimpact" in q["sql"] for q in captured.captured_queries) == 2


# --- the API ------------------------------------------------------------------------------------------------

def test_the_api_records_lists_changes_and_removes_windows(world: World, incident: Ticket,
                                                          email: BusinessService) -> None:
    api = Api("bob")
    path = f"/tickets/{incident.number}/impacts"
    created = api.send("post", path, {"service": email.pk, "impact_start": "2025-03-14T12:00:00Z",
                                      "impact_fraction": 0.25, "note": "EU mailboxes"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["ticket"] == incident.number and body["service"] == {"id": email.pk, "name": "E-mail"}
    assert body["ongoing"] and body["outage_hours"] == 3.0 and body["downtime_cost"] == 3000.0
    assert body["recorded_by"]["username"] == "bob"
    window_id = body["id"]
    assert [w["id"] for w in api.get(path).json()] == [window_id]

    patched = api.send("patch", f"{path}/{window_id}", {"users_affected": 100})
    assert patched.status_code == 200, patched.content
    assert patched.json()["impact_fraction"] is None and patched.json()["affected_share"] == 0.5
    ended = api.send("patch", f"{path}/{window_id}", {"impact_end": "2025-03-14T14:00:00Z"})
    assert ended.json()["ongoing"] is False and ended.json()["outage_hours"] == 2.0
    assert ended.json()["downtime_cost"] == 4000.0

    assert api.send("delete", f"{path}/{window_id}", None).status_code == 204
    assert api.get(path).json() == []
    assert {e.channel for e in impact_events(incident)} == {"api"}


@pytest.mark.parametrize(("body", "field"), [
    ({"impact_start": "2025-03-14T12:00:00Z", "impact_fraction": 1.5}, "impact_fraction"),
    ({"impact_start": "2025-03-14T12:00:00Z", "impact_end": "2025-03-14T11:00:00Z"}, "impact_end"),
    ({"impact_start": "2025-03-14T12:00:00Z", "users_affected": 500}, "users_affected"),
    ({"impact_start": "not a time"}, "impact_start"),
    ({}, "impact_start"),
])
def test_the_api_answers_400_naming_the_field(world: World, incident: Ticket, email: BusinessService,
                                              body: dict[str, Any], field: str) -> None:
    response = Api("bob").send("post", f"/tickets/{incident.number}/impacts", {"service": email.pk, **body})
    assert response.status_code == 400, response.content
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not ServiceImpact.objects.exists()


def test_the_api_names_the_ticket_of_a_request_and_the_window_it_cannot_find(world: World, incident: Ticket,
                                                                            email: BusinessService) -> None:
    api = Api("bob")
    request = f.make_ticket(world.alice, world.it, type="request")
    response = api.send("post", f"/tickets/{request.number}/impacts",
                        {"service": email.pk, "impact_start": "2025-03-14T12:00:00Z"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "ticket"
    response = api.send("patch", f"/tickets/{incident.number}/impacts/999", {"note": "x"})
    assert response.status_code == 404 and response.json()["errors"][0]["field"] == "impact_id"


def test_the_api_refuses_requesters_and_other_desks_and_hides_confidential_desks(
    world: World, incident: Ticket, email: BusinessService
) -> None:
    window = record(world, incident, email)
    body = {"service": email.pk, "impact_start": "2025-03-14T12:00:00Z"}
    path = f"/tickets/{incident.number}/impacts"
    for username in ("alice", "hana"):
        api = Api(username)
        assert api.get(path).status_code == 200  # both may read the incident
        assert api.send("post", path, body).status_code == 403
        assert api.send("patch", f"{path}/{window.pk}", {"note": "x"}).status_code == 403
        assert api.send("delete", f"{path}/{window.pk}", None).status_code == 403
    payroll = f.make_service(world.hr, "Payroll")
    secret = f.make_ticket(world.alice, world.hr, service=payroll.pk)
    hidden = Api("bob").get(f"/tickets/{secret.number}/impacts")
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["field"] == "number"
    posted = Api("bob").send("post", f"/tickets/{secret.number}/impacts", {**body, "service": payroll.pk})
    assert posted.status_code == 404
    assert Api("hana").send("post", f"/tickets/{secret.number}/impacts",
                            {**body, "service": payroll.pk}).status_code == 201
    assert json.loads(Api("hana").get(f"/tickets/{secret.number}/impacts").content)[0]["service"]["name"] == "Payroll"
