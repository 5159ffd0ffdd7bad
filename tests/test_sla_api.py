"""The service-level API: calendars, policies and rules through the services, ticket targets with their
explanation, what breaches soon; bad input named, nothing stored, confidential desks kept confidential."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import TestCase

from outcomedesk.core import clock
from outcomedesk.sla.models import BusinessCalendar, EscalationRule, PolicyTarget, SlaPolicy, TicketTarget
from outcomedesk.tickets import services as tickets
from tests import factories as f
from tests.conftest import World
from tests.test_api import Api

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Berlin")
OFFICE = f.BERLIN_OFFICE


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def sam(world: World) -> Any:
    """A service manager: changes service levels, works on no desk."""
    return f.make_user("sam", is_service_manager=True)


@pytest.fixture
def it_policy(world: World) -> SlaPolicy:
    return f.make_policy("IT standard", desk=world.it, calendar=f.make_calendar("Munich office"),
                         targets={"response": 60, "resolution": 16 * 60})


@pytest.fixture
def hr_policy(world: World) -> SlaPolicy:
    return f.make_policy("HR standard", desk=world.hr, targets={"resolution": 8 * 60})


def fields_of(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


# --- calendars ---------------------------------------------------------------------------------------------

def test_a_service_manager_creates_reads_and_replaces_a_calendar(world: World, sam: Any) -> None:
    api = Api("sam")
    created = api.send("post", "/sla/calendars", {"name": "Munich office", "definition": OFFICE})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["definition"]["timezone"] == "Europe/Berlin" and body["recompute_tasks"] == 0
    assert body["definition"]["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert Api("bob").get(f"/sla/calendars/{body['id']}").json()["name"] == "Munich office"
    assert [c["name"] for c in Api("bob").get("/sla/calendars").json()] == ["Munich office"]
    replaced = api.send("put", f"/sla/calendars/{body['id']}", {"name": "Munich", "definition": {"hours": "24x7"}})
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["definition"]["hours"] == "24x7"
    assert BusinessCalendar.objects.get().name == "Munich"


def test_replacing_a_calendar_moves_the_deadlines_of_running_targets(world: World, sam: Any,
                                                                      it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    assert TicketTarget.objects.get(ticket=ticket, metric="resolution").deadline == at("2026-06-11T10:00")
    calendar = it_policy.calendar
    assert calendar is not None
    definition = {**calendar.definition, "extra_holidays": ["2026-06-10"]}
    with clock.at(at("2026-06-09T09:05")), TestCase.captureOnCommitCallbacks(execute=True):
        response = Api("sam").send("put", f"/sla/calendars/{calendar.pk}", {"name": calendar.name,
                                                                            "definition": definition})
    assert response.json()["recompute_tasks"] == 1
    assert TicketTarget.objects.get(ticket=ticket, metric="resolution").deadline == at("2026-06-12T10:00")


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "definition.hours.mon[1]"),
        ({"timezone": "Mars/Olympus", "hours": "24x7"}, "definition.timezone"),
        ({"holidays": {"country": "XX"}}, "definition.holidays.country"),
        ({"hours": {"mon": [["17:00", "09:00"]]}}, "definition.hours.mon[0]"),
        ({"hours": {"funday": []}}, "definition.hours.funday"),
        ({"extra_holidays": ["tomorrow"]}, "definition.extra_holidays[0]"),
        ({"colour": "blue"}, "definition.colour"),
        ("24x7", "definition"),
    ],
)
def test_a_bad_calendar_is_400_naming_the_field_and_nothing_is_stored(world: World, sam: Any,
                                                                      definition: Any, field: str) -> None:
    api = Api("sam")
    response = api.send("post", "/sla/calendars", {"name": "Bad", "definition": definition})
    assert response.status_code == 400, response.content
    assert field in fields_of(response), response.json()
    assert not BusinessCalendar.objects.exists()
    kept = f.make_calendar("Kept")
    replaced = api.send("put", f"/sla/calendars/{kept.pk}", {"name": "Renamed", "definition": definition})
    assert replaced.status_code == 400 and field in fields_of(replaced)
    kept.refresh_from_db()
    assert kept.name == "Kept" and kept.definition == f.make_calendar("Same", OFFICE).definition


def test_calendar_names_are_unique_and_missing_ones_are_404(world: World, sam: Any) -> None:
    f.make_calendar("Taken")
    api = Api("sam")
    assert fields_of(api.send("post", "/sla/calendars", {"name": "Taken", "definition": {}})) == ["name"]
    assert fields_of(api.send("post", "/sla/calendars", {"name": " ", "definition": {}})) == ["name"]
    missing = api.send("put", "/sla/calendars/999", {"name": "X", "definition": {}})
    assert missing.status_code == 404 and fields_of(missing) == ["calendar_id"]
    assert api.get("/sla/calendars/999").status_code == 404


def test_agents_read_but_only_service_managers_and_admins_write_service_levels(world: World, sam: Any,
                                                                               it_policy: SlaPolicy) -> None:
    for name in ("bob", "dave", "hana"):
        api = Api(name)
        assert api.get("/sla/calendars").status_code == 200
        assert api.get("/sla/policies").status_code == 200
        assert api.send("post", "/sla/calendars", {"name": "Mine", "definition": {}}).status_code == 403
        assert api.send("post", "/sla/policies", {"name": "Mine"}).status_code == 403
        assert api.send("patch", f"/sla/policies/{it_policy.pk}", {"order": 1}).status_code == 403
        assert api.send("post", "/sla/escalations", {"name": "Mine", "at_percent": 75,
                                                     "action": "notify_assignee"}).status_code == 403
        assert api.send("post", f"/sla/policies/{it_policy.pk}/repair", {}).status_code == 403
    assert Api("alice").get("/sla/calendars").status_code == 403  # requesters see no service-level setup
    assert Api("root").send("post", "/sla/calendars", {"name": "Root's", "definition": {}}).status_code == 201
    assert not SlaPolicy.objects.filter(name="Mine").exists() and not EscalationRule.objects.exists()
    assert SlaPolicy.objects.get().order == 100


# --- policies and rules ------------------------------------------------------------------------------------

def test_a_policy_is_created_with_its_targets_and_updated(world: World, sam: Any) -> None:
    calendar = f.make_calendar("Munich office")
    api = Api("sam")
    created = api.send("post", "/sla/policies", {
        "name": "IT standard", "desk": "it", "calendar": "Munich office", "priorities": [1, 2],
        "pause_reasons": ["requester"],
        "targets": [{"metric": "response", "minutes": 30}, {"metric": "resolution", "priority": 1, "minutes": 240}],
    })
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["desk"] == "it" and body["calendar"] == {"id": calendar.pk, "name": "Munich office"}
    assert body["targets"] == [{"metric": "resolution", "priority": 1, "minutes": 240},
                               {"metric": "response", "priority": None, "minutes": 30}]
    changed = api.send("patch", f"/sla/policies/{body['id']}", {"order": 5, "calendar": None, "description": None})
    assert changed.status_code == 200, changed.content
    assert changed.json()["order"] == 5 and changed.json()["calendar"] is None
    assert len(changed.json()["targets"]) == 2  # targets not sent: kept
    replaced = api.send("patch", f"/sla/policies/{body['id']}", {"targets": [{"metric": "resolution",
                                                                             "minutes": 480}]})
    assert replaced.json()["targets"] == [{"metric": "resolution", "priority": None, "minutes": 480}]
    listed = Api("bob").get("/sla/policies").json()
    assert [p["name"] for p in listed] == ["IT standard"]
    assert Api("bob").get(f"/sla/policies/{body['id']}").json()["order"] == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad", "targets": [{"metric": "resolution", "minutes": -5}]}, "targets[0].minutes"),
        ({"name": "Bad", "targets": [{"metric": "resolution", "minutes": 0}]}, "targets[0].minutes"),
        ({"name": "Bad", "kind": "ola", "targets": [{"metric": "resolution", "minutes": 60}]}, "targets[0].metric"),
        ({"name": "Bad", "targets": [{"metric": "resolution", "priority": 9, "minutes": 60}]},
         "targets[0].priority"),
        ({"name": "Bad", "pause_reasons": ["lunch"]}, "pause_reasons"),
        ({"name": "Bad", "desk": "nowhere"}, "desk"),
        ({"name": "Bad", "calendar": "Nowhere"}, "calendar"),
        ({"name": "Bad", "at_risk_percent": 150}, "at_risk_percent"),
        ({"name": "Bad", "priorities": [7]}, "priorities"),
        ({"name": ""}, "name"),
        ({"kind": "sla"}, "name"),
    ],
)
def test_a_bad_policy_is_400_naming_the_field_and_nothing_is_stored(world: World, sam: Any,
                                                                    body: dict[str, Any], field: str) -> None:
    response = Api("sam").send("post", "/sla/policies", body)
    assert response.status_code == 400, response.content
    assert field in fields_of(response), response.json()
    assert not SlaPolicy.objects.exists() and not PolicyTarget.objects.exists()


def test_a_bad_policy_change_keeps_the_policy_as_it_was(world: World, sam: Any, it_policy: SlaPolicy) -> None:
    response = Api("sam").send("patch", f"/sla/policies/{it_policy.pk}", {
        "order": 1, "targets": [{"metric": "resolution", "minutes": -1}]})
    assert response.status_code == 400 and "targets[0].minutes" in fields_of(response)
    it_policy.refresh_from_db()
    assert it_policy.order == 100 and it_policy.targets.count() == 2
    assert Api("sam").send("patch", "/sla/policies/999", {"order": 1}).status_code == 404


def test_escalation_rules_are_created_and_changed_through_the_service(world: World, sam: Any,
                                                                      it_policy: SlaPolicy) -> None:
    api = Api("sam")
    created = api.send("post", "/sla/escalations", {"name": "Warn", "policy": it_policy.pk, "metric": "resolution",
                                                    "at_percent": 75, "action": "notify_assignee"})
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["policy"] == {"id": it_policy.pk, "name": "IT standard"}
    bad = api.send("post", "/sla/escalations", {"name": "Move", "at_percent": 100, "action": "reassign"})
    assert bad.status_code == 400 and fields_of(bad) == ["reassign_to"]
    assert fields_of(api.send("patch", f"/sla/escalations/{rule['id']}", {"at_percent": 0})) == ["at_percent"]
    changed = api.send("patch", f"/sla/escalations/{rule['id']}", {"at_percent": 80, "policy": None,
                                                                    "is_active": None})
    assert changed.status_code == 200
    assert changed.json()["at_percent"] == 80 and changed.json()["policy"] is None
    assert changed.json()["is_active"] is True  # null leaves a yes/no field as it was
    assert [r["name"] for r in Api("bob").get("/sla/escalations").json()] == ["Warn"]


def test_repair_replays_the_tickets_of_a_policy(world: World, sam: Any, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="vendor")
    with clock.at(at("2026-06-09T11:00")):
        tickets.change_state(world.bob, ticket, "in_progress")
    api = Api("sam")
    api.send("patch", f"/sla/policies/{it_policy.pk}", {"pause_reasons": ["requester"]})
    assert len(TicketTarget.objects.get(ticket=ticket, metric="resolution").pauses) == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.send("post", f"/sla/policies/{it_policy.pk}/repair", {})
    assert response.status_code == 202 and response.json() == {"scheduled": 1}
    assert TicketTarget.objects.get(ticket=ticket, metric="resolution").pauses == []


# --- targets of tickets ------------------------------------------------------------------------------------

def test_a_tickets_targets_come_with_their_state_remaining_time_and_explanation(world: World,
                                                                                it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-05-22T16:30")):  # the Friday before Whit Monday
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-05-22T16:45")):
        response = Api("bob").get(f"/sla/tickets/{ticket.number}/targets")
    assert response.status_code == 200, response.content
    targets = response.json()
    assert [t["metric"] for t in targets] == ["response", "resolution"]  # the most urgent first
    resolution = targets[1]
    assert resolution["state"] == "running" and resolution["policy"]["name"] == "IT standard"
    deadline = datetime.fromisoformat(resolution["deadline"])
    assert deadline == at("2026-05-27T17:30")  # Fri 1 h, Whit Monday off, Tue and Wed 7.5 h each
    assert resolution["remaining_seconds"] == int((deadline - at("2026-05-22T16:45")).total_seconds())
    text = "\n".join(resolution["explanation"])
    assert "Resolution target 16 h (IT standard)" in text
    assert "started Fri 22 May 2026 16:30" in text
    assert "Mon 25 May: holiday" in text
    assert resolution["pauses"] == [] and resolution["elapsed_seconds"] == 0


def test_a_paused_target_lists_its_pauses(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="requester")
    with clock.at(at("2026-06-09T11:00")):
        targets = Api("bob").get(f"/sla/tickets/{ticket.number}/targets").json()
    resolution = next(t for t in targets if t["metric"] == "resolution")
    assert resolution["state"] == "paused" and resolution["deadline"] is None
    assert resolution["remaining_seconds"] is None
    [pause] = resolution["pauses"]
    assert datetime.fromisoformat(pause["begin"]) == at("2026-06-09T10:00") and pause["end"] is None
    assert any("paused since" in line for line in resolution["explanation"])


def test_the_timeline_of_a_tickets_targets(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T09:30")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="requester")
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "in_progress")
    with clock.at(at("2026-06-09T11:00")):
        response = Api("bob").get(f"/sla/tickets/{ticket.number}/timeline")
    assert response.status_code == 200, response.content
    resolution = next(item for item in response.json() if item["metric"] == "resolution")
    assert resolution["metric_label"] == "Resolution"
    assert [i["kind"] for i in resolution["intervals"]] == ["running", "paused", "running"]
    assert resolution["explanation"]


def test_targets_of_a_confidential_ticket_are_not_found_outside_its_desk(world: World, it_policy: SlaPolicy,
                                                                         hr_policy: SlaPolicy) -> None:
    ticket = f.make_ticket(world.alice, world.hr, title="Contract change")
    for name in ("bob", "root"):
        for path in ("targets", "timeline"):
            response = Api(name).get(f"/sla/tickets/{ticket.number}/{path}")
            assert response.status_code == 404 and fields_of(response) == ["number"]
    assert [t["metric"] for t in Api("hana").get(f"/sla/tickets/{ticket.number}/targets").json()] == ["resolution"]
    assert Api("alice").get(f"/sla/tickets/{ticket.number}/targets").status_code == 403  # staff information
    assert Api("bob").get("/sla/tickets/INC9999999/targets").status_code == 404


def test_breaching_soon_lists_what_the_caller_may_see(world: World, it_policy: SlaPolicy,
                                                      hr_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        it_ticket = f.make_ticket(world.alice, world.it, title="Printer")
        hr_ticket = f.make_ticket(world.alice, world.hr, title="Contract change")
    with clock.at(at("2026-06-09T09:20")):
        later = f.make_ticket(world.alice, world.it, title="Monitor")  # its response is due at 10:20
    with clock.at(at("2026-06-09T09:30")):
        bob = Api("bob").get("/sla/breaching", within_minutes=45).json()
        wider = Api("bob").get("/sla/breaching", within_minutes=60).json()
        root = Api("root").get("/sla/breaching", within_minutes=24 * 60).json()
        hana = Api("hana").get("/sla/breaching", within_minutes=24 * 60).json()
        bad = Api("bob").get("/sla/breaching", within_minutes=0)
    assert [(t["ticket"], t["metric"]) for t in bob] == [(it_ticket.number, "response")]
    assert bob[0]["title"] == "Printer" and bob[0]["desk"] == "it" and bob[0]["remaining_seconds"] == 30 * 60
    assert [t["ticket"] for t in wider] == [it_ticket.number, later.number]  # soonest first
    assert hr_ticket.number not in {t["ticket"] for t in root}  # admins outside HR do not see HR either
    assert it_ticket.number in {t["ticket"] for t in root}
    assert hr_ticket.number in {t["ticket"] for t in hana}  # HR sees its own desk (and the open ones)
    assert bad.status_code == 400 and fields_of(bad) == ["within_minutes"]
