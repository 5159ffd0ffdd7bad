"""Service levels in the Django admin: saved through the services, their refusals shown beside the fields; the
engine's targets read-only and confidential desks kept confidential."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import TestCase
from django.urls import reverse

from outcomedesk.core import clock
from outcomedesk.sla.models import BusinessCalendar, EscalationRule, PolicyTarget, SlaPolicy, TicketTarget
from tests import factories as f
from tests.conftest import World, client_for
from tests.test_sla_api import at


def calendar_form(name: str, definition: Any) -> dict[str, str]:
    return {"name": name, "definition": json.dumps(definition)}


def policy_form(name: str, targets: list[tuple[str, str, str]], **fields: str) -> dict[str, str]:
    """The add/change form of a policy with its targets inline, as the browser posts it."""
    data = {
        "name": name, "kind": "sla", "order": "100", "is_active": "on", "description": "", "desk": "",
        "service": "", "ticket_type": "", "priorities": "[]", "vip": "unknown", "channel": "", "group": "",
        "vendor": "", "calendar": "", "pause_reasons": "[]", "at_risk_percent": "75", "starts_on": "opened",
        "response_stops_on": "reply", "resolution_stops_on": "resolved",
        "targets-TOTAL_FORMS": str(len(targets)), "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "0", "targets-MAX_NUM_FORMS": "1000",
    }
    for i, (metric, priority, minutes) in enumerate(targets):
        data |= {f"targets-{i}-metric": metric, f"targets-{i}-priority": priority, f"targets-{i}-minutes": minutes}
    return data | fields


def test_a_bad_calendar_shows_the_error_beside_the_definition(world: World) -> None:
    client = client_for(world.root)
    bad = {"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}
    response = client.post(reverse("admin:sla_businesscalendar_add"), calendar_form("Bad", bad))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "overlaps" in errors["definition"][0] and "hours.mon[1]" in errors["definition"][0]
    assert not BusinessCalendar.objects.exists()


def test_a_calendar_saved_in_the_admin_goes_through_the_service(world: World) -> None:
    client = client_for(world.root)
    response = client.post(reverse("admin:sla_businesscalendar_add"),
                           calendar_form("Office", {"timezone": "Europe/Berlin", "hours": "24x7"}))
    assert response.status_code == 302, response.content
    saved = BusinessCalendar.objects.get()
    assert saved.updated_at is not None
    assert saved.definition == {"timezone": "Europe/Berlin", "hours": "24x7", "extra_holidays": [], "half_days": {}}


def test_changing_a_calendar_in_the_admin_moves_running_deadlines(world: World) -> None:
    office = f.make_calendar("Office")
    f.make_policy("IT standard", desk=world.it, calendar=office, targets={"resolution": 16 * 60})
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    definition = {**office.definition, "extra_holidays": ["2026-06-10"]}
    with clock.at(at("2026-06-09T09:05")), TestCase.captureOnCommitCallbacks(execute=True):
        response = client_for(world.root).post(reverse("admin:sla_businesscalendar_change", args=[office.pk]),
                                               calendar_form("Office", definition))
    assert response.status_code == 302
    assert TicketTarget.objects.get(ticket=ticket).deadline == at("2026-06-12T10:00")


def test_a_policy_with_its_targets_is_saved_through_the_service(world: World) -> None:
    client = client_for(world.root)
    data = policy_form("IT standard", [("response", "", "60"), ("resolution", "1", "240")], desk=str(world.it.pk),
                       pause_reasons='["requester"]')
    response = client.post(reverse("admin:sla_slapolicy_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    policy = SlaPolicy.objects.get()
    assert policy.desk == world.it and policy.pause_reasons == ["requester"] and policy.updated_at is not None
    assert sorted(policy.targets.values_list("metric", "priority", "minutes")) == [
        ("resolution", 1, 240), ("response", None, 60)]


@pytest.mark.parametrize(
    ("data", "where", "field", "text"),
    [
        (policy_form("Bad", [], pause_reasons='["lunch"]'), "form", "pause_reasons", "pending reasons"),
        (policy_form("Bad", [], priorities="[9]"), "form", "priorities", "1 to 5"),
        (policy_form("Bad", [], at_risk_percent="100"), "form", "at_risk_percent", "1 to 99"),
        (policy_form("Bad", [("resolution", "", "0")]), "inline", "minutes", "positive"),
        (policy_form("Bad", [("group_hold", "", "60")]), "inline", "metric", "for a sla policy"),
    ],
)
def test_a_policy_the_service_refuses_shows_why_beside_the_field(world: World, data: dict[str, str], where: str,
                                                                 field: str, text: str) -> None:
    response = client_for(world.root).post(reverse("admin:sla_slapolicy_add"), data)
    assert response.status_code == 200
    if where == "form":
        errors = response.context["adminform"].form.errors
    else:
        [formset] = [inline.formset for inline in response.context["inline_admin_formsets"]]
        errors = formset.forms[0].errors
    assert text in errors[field][0], errors
    assert not SlaPolicy.objects.exists() and not PolicyTarget.objects.exists()


def test_an_escalation_rule_the_service_refuses_shows_why(world: World) -> None:
    data = {"name": "Move", "policy": "", "metric": "", "at_percent": "100", "action": "reassign",
            "reassign_to": "", "is_active": "on"}
    response = client_for(world.root).post(reverse("admin:sla_escalationrule_add"), data)
    assert response.status_code == 200
    assert "reassign to" in response.context["adminform"].form.errors["reassign_to"][0]
    data["reassign_to"] = str(world.it_group.pk)
    assert client_for(world.root).post(reverse("admin:sla_escalationrule_add"), data).status_code == 302
    assert EscalationRule.objects.get().reassign_to == world.it_group


def test_targets_are_read_only_and_hr_targets_stay_in_hr(world: World) -> None:
    f.make_policy("Everyone", targets={"resolution": 60})
    it_ticket = f.make_ticket(world.alice, world.it, title="Printer")
    hr_ticket = f.make_ticket(world.alice, world.hr, title="Contract change")
    client = client_for(world.root)
    html = client.get(reverse("admin:sla_tickettarget_changelist")).content.decode()
    assert it_ticket.number in html and hr_ticket.number not in html
    hr_target = TicketTarget.objects.get(ticket=hr_ticket)
    assert client.get(reverse("admin:sla_tickettarget_change", args=[hr_target.pk])).status_code == 302  # not found
    it_target = TicketTarget.objects.get(ticket=it_ticket)
    page = client.get(reverse("admin:sla_tickettarget_change", args=[it_target.pk])).content.decode()
    assert 'name="_save"' not in page
    assert client.get(reverse("admin:sla_tickettarget_add")).status_code == 403


def test_the_admin_site_admits_platform_admins_only_whatever_django_permissions_say(world: World) -> None:
    from django.contrib.auth.models import Permission

    def staff(name: str, **fields: Any) -> Any:
        user = f.make_user(name, **fields)
        user.is_staff = True
        user.save()
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="sla"))
        return user

    # Staff flags and model permissions grant nothing: who enters is the access policy's (service managers
    # configure service levels through the API and the command line).
    clerk, manager = staff("clerk"), staff("sam", is_service_manager=True)
    for person in (clerk, manager):
        for page in ("admin:sla_businesscalendar_add", "admin:sla_businesscalendar_changelist"):
            assert client_for(person).get(reverse(page)).status_code == 302  # to the admin's login
    assert client_for(world.root).get(reverse("admin:sla_businesscalendar_add")).status_code == 200


def test_changing_a_policys_targets_in_the_admin_replaces_them(world: World) -> None:
    policy = f.make_policy("IT standard", targets={"response": 60, "resolution": 240})
    response_target, resolution_target = (policy.targets.get(metric=m) for m in ("response", "resolution"))
    data = policy_form("IT standard", [("response", "", "30"), ("resolution", "", "240")], order="5")
    data |= {"targets-INITIAL_FORMS": "2", "targets-0-id": str(response_target.pk),
             "targets-1-id": str(resolution_target.pk), "targets-1-DELETE": "on",
             "targets-0-policy": str(policy.pk), "targets-1-policy": str(policy.pk)}
    response = client_for(world.root).post(reverse("admin:sla_slapolicy_change", args=[policy.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    policy.refresh_from_db()
    assert policy.order == 5
    assert list(policy.targets.values_list("metric", "minutes")) == [("response", 30)]
