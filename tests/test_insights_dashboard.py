"""Dashboards, drill-down, watermelon detection, suggestions, CSV export and the monthly report, on a small
history made through the services: October 2026 on the IT desk.

- Mail: five incidents of category "Login", each resolved in an hour (SLA met), each rated 2 by the requester:
  SLA green, CSAT red, five incidents sharing a probable cause: a watermelon.
- Payroll: two requests resolved in an hour and rated 5: green and happy.
- VPN: one incident resolved after ten hours (its 8-hour target breached) and rated 1: red outside, not a
  watermelon.
- HR (confidential): one ticket that IT people and executives never see in figures or lists.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.experience.services import respond_as
from outcomedesk.insights import figures, periods, suggestions, trends, watermelon
from outcomedesk.insights.scope import Scope, resolve_scope
from outcomedesk.tickets.models import Ticket
from outcomedesk.tickets.services import change_state
from tests import factories as f
from tests.conftest import World, client_for

UTC = ZoneInfo("UTC")
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class History:
    mail: BusinessService
    payroll: BusinessService
    vpn: BusinessService
    mail_tickets: list[Ticket]
    payroll_tickets: list[Ticket]
    vpn_ticket: Ticket
    hr_ticket: Ticket


def _lived(world: World, desk: Any, agent: Any, opened: str, hours: float, score: int | None,
           **fields: Any) -> Ticket:
    with clock.at(at(opened)):
        ticket = f.make_ticket(world.alice, desk, **fields)
    with clock.at(at(opened) + timedelta(hours=hours)):
        change_state(agent, ticket, "resolved", resolution_code="fixed", resolution_notes="done")
    ticket.refresh_from_db()
    if score is not None:
        with clock.at(at(opened) + timedelta(hours=hours, minutes=30)):
            respond_as(world.alice, ticket, score)
    return ticket


@pytest.fixture
def history(world: World) -> History:
    f.make_policy("IT", desk=world.it, targets={"resolution": 8 * 60})
    mail = f.make_service(world.it, "Mail", sla_target_percent=90)
    payroll = f.make_service(world.it, "Payroll", sla_target_percent=90)
    vpn = f.make_service(world.it, "VPN", sla_target_percent=90)
    login = f.make_category(world.it, "Login")
    access = f.make_category(world.it, "Access request")
    mail_tickets = [_lived(world, world.it, world.bob, f"2026-10-0{day}T10:00", 1, 2, service=mail.pk,
                           category=login.pk, type="incident", title="Cannot log in to mail" if day < 9 else
                           "cannot log in to mail ")
                    for day in range(5, 10)]
    payroll_tickets = [_lived(world, world.it, world.bob, f"2026-10-1{day}T09:00", 1, 5, service=payroll.pk,
                              category=access.pk, type="request") for day in (2, 3)]
    vpn_ticket = _lived(world, world.it, world.bob, "2026-10-20T08:00", 10, 1, service=vpn.pk,
                        type="incident")
    hr_ticket = _lived(world, world.hr, world.hana, "2026-10-06T10:00", 2, None)
    return History(mail, payroll, vpn, mail_tickets, payroll_tickets, vpn_ticket, hr_ticket)


def it_scope(world: World) -> Scope:
    return resolve_scope(frozenset({world.it.pk}))


def october() -> periods.Period:
    return periods.between(OCTOBER["from"], OCTOBER["to"])


NOW = at("2026-11-15T12:00")


# --- watermelon detection -------------------------------------------------------------------------------------

def test_a_service_meeting_its_sla_while_its_users_rate_it_badly_is_a_watermelon(
    world: World, history: History
) -> None:
    flags = watermelon.detect(it_scope(world), october(), now=NOW)
    assert [flag.service.name for flag in flags] == ["Mail"]
    flag = flags[0]
    assert flag.sla_compliance == 1.0 and flag.sla_target == 0.9
    assert sorted(flag.codes) == ["csat", "repeated_cause"]
    csat = next(r for r in flag.reasons if r.code == "csat")
    assert csat.figures == {"csat": 2.0, "experience_target": 4.0, "responses": 5}
    cause = next(r for r in flag.reasons if r.code == "repeated_cause")
    assert sorted(cause.ticket_ids) == sorted(t.pk for t in history.mail_tickets)
    assert "category Login" in cause.text


def test_the_thresholds_are_settings_of_the_service(world: World, history: History) -> None:
    from outcomedesk.cmdb.services import set_service_targets

    set_service_targets(history.mail, experience_target="1.5", watermelon_cluster_size=6)
    assert watermelon.detect(it_scope(world), october(), now=NOW) == []
    set_service_targets(history.mail, watermelon_reopen_rate="0", experience_target="1.5")
    assert watermelon.detect(it_scope(world), october(), now=NOW) == []  # nothing was reopened
    with pytest.raises(Exception, match="watermelon_cluster_size"):
        set_service_targets(history.mail, watermelon_cluster_size=1)


def test_a_service_below_its_sla_target_is_red_outside_and_not_a_watermelon(world: World, history: History) -> None:
    current = figures.compute(it_scope(world), october(), "service", NOW)
    assert current[history.vpn.pk]["sla_compliance"]["overall"] == 0.0
    assert current[history.vpn.pk]["csat"] == 1.0
    assert history.vpn.pk not in {flag.service.pk for flag in watermelon.detect(it_scope(world), october(), now=NOW)}


def test_a_reopen_rate_above_the_threshold_is_a_reason(world: World, history: History) -> None:
    from outcomedesk.tickets.services import reopen_ticket

    ticket = history.payroll_tickets[0]
    with clock.at(at("2026-10-12T11:00")):
        reopen_ticket(world.alice, ticket, reason="still broken")
    with clock.at(at("2026-10-12T12:00")):
        change_state(world.bob, ticket, "resolved", resolution_code="fixed", resolution_notes="again")
    flags = {flag.service.name: flag for flag in watermelon.detect(it_scope(world), october(), now=NOW)}
    assert flags["Payroll"].codes == ["reopen_rate"]
    assert flags["Payroll"].reasons[0].figures["reopen_rate"] == 0.5


# --- trends and suggestions ---------------------------------------------------------------------------------

def test_the_backlog_trend_walks_back_to_the_direct_count_at_each_bucket_end(world: World, history: History) -> None:
    with clock.at(at("2026-10-22T09:00")):
        f.make_ticket(world.alice, world.it, title="still open")
    scope = it_scope(world)
    trend = trends.trend(scope, october())
    assert trend.step == "day" and len(trend.buckets) == 31
    for bucket, value in zip(trend.buckets, trend.backlog, strict=True):
        assert value == figures.open_at_end(scope, periods.Period(october().start, bucket.end)).count()
    assert sum(trend.opened) == figures.opened_in(scope, october()).count() == 9
    assert trend.csat[4] == 2.0  # 5 October: the first Mail incident rated 2


def test_repeated_incidents_without_a_problem_are_suggested_with_their_evidence(
    world: World, history: History
) -> None:
    found = suggestions.repeated_incidents(it_scope(world), october())
    assert [s.figures for s in found] == [{"incidents": 5}]
    assert found[0].drilldown == {"figure": "ticket_volume", "service": history.mail.pk, "type": "incident",
                                  "title": "Cannot log in to mail"}
    assert "\u201cCannot log in to mail\u201d on Mail" in found[0].title
    listing = client_for(world.bob).get(reverse("insights:tickets"), {**OCTOBER, **{
        k: v for k, v in found[0].drilldown.items()}}).content.decode()
    assert "Opened: 5 tickets" in listing
    from outcomedesk.tickets.services import reopen_ticket

    with clock.at(at("2026-10-10T10:00")):
        reopen_ticket(world.bob, history.mail_tickets[0], reason="it came back")
        change_state(world.bob, history.mail_tickets[0], "pending", pending_reason="problem")
    assert suggestions.repeated_incidents(it_scope(world), october()) == []


def test_requests_handled_in_one_touch_and_quickly_are_suggested_for_automation(
    world: World, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(suggestions, "AUTOMATION_LEAST", 2)
    found = suggestions.automatable_requests(it_scope(world), october())
    assert [(s.kind, s.figures["requests"]) for s in found] == [("automatable_requests", 2)]
    assert found[0].figures["p90_hours"] == pytest.approx(1.0)


# --- pages --------------------------------------------------------------------------------------------------

def _svg_count(html: str) -> int:
    return len(re.findall(r"<svg\b", html))


def test_the_service_managers_dashboard_shows_figures_charts_and_the_watermelon(
    world: World, history: History, django_assert_max_num_queries: Any
) -> None:
    client = client_for(world.dave)
    with django_assert_max_num_queries(70):
        response = client.get(reverse("insights:manager"), OCTOBER)
    assert response.status_code == 200
    html = response.content.decode()
    assert _svg_count(html) >= 8
    assert 'data-service="mail"' in html or f'data-service="{history.mail.slug}"' in html
    assert "CSAT 2.00 is below the experience target 4.00" in html
    for ticket in history.mail_tickets:
        assert ticket.number in html
    assert history.hr_ticket.number not in html
    assert "Repeated incidents without a problem" in html


def test_every_headline_links_to_the_tickets_it_counts(world: World, history: History) -> None:
    client = client_for(world.dave)
    html = client.get(reverse("insights:manager"), OCTOBER).content.decode()
    link = re.search(r'href="([^"]+)" data-figure="ticket_volume"', html)
    assert link is not None
    listing = client.get(link.group(1).replace("&amp;", "&"))
    assert listing.status_code == 200
    assert "Opened: 8 tickets" in listing.content.decode()


def test_the_drill_down_lists_exactly_the_tickets_behind_a_service_figure(world: World, history: History) -> None:
    client = client_for(world.bob)
    response = client.get(reverse("insights:tickets"), {**OCTOBER, "figure": "ticket_volume",
                                                        "service": history.mail.pk})
    html = response.content.decode()
    assert "Opened: 5 tickets" in html
    assert set(re.findall(r"INC\d{7}", html)) == {t.number for t in history.mail_tickets}
    breached = client.get(reverse("insights:tickets"), {**OCTOBER, "figure": "sla_breaches"}).content.decode()
    assert set(re.findall(r"INC\d{7}", breached)) == {history.vpn_ticket.number}


def test_confidential_desks_stay_out_of_the_figures_and_lists_of_other_people(world: World, history: History) -> None:
    client = client_for(world.bob)
    listing = client.get(reverse("insights:tickets"), {**OCTOBER, "figure": "mttr"}).content.decode()
    assert history.hr_ticket.number not in listing
    refused = client.get(reverse("insights:tickets"), {**OCTOBER, "desk": "hr"})
    assert refused.status_code == 400 and "no desk" in refused.content.decode()
    hana = client_for(world.hana).get(reverse("insights:tickets"), {**OCTOBER, "figure": "mttr"}).content.decode()
    assert history.hr_ticket.number in hana and history.vpn_ticket.number in hana  # HR staff see IT too
    exported = client.get(reverse("insights:export_csv"), {**OCTOBER, "by": "desk"}).content.decode()
    assert {row[0] for row in csv.reader(io.StringIO(exported))} == {"scope", "all", "desk=IT"}


def test_requesters_see_no_insights(world: World, history: History) -> None:
    client = client_for(world.alice)
    for name in ("manager", "owner", "executive", "tickets", "export_csv", "monthly"):
        assert client.get(reverse(f"insights:{name}")).status_code == 403, name


def test_bad_periods_and_scopes_are_errors_beside_the_field(world: World, history: History) -> None:
    client = client_for(world.dave)
    response = client.get(reverse("insights:manager"), {"from": "2026-10-31", "to": "2026-10-01"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="e-to"' in html and "before" in html
    assert client.get(reverse("insights:manager"), {"from": "31/10/2026"}).status_code == 400
    unknown = client.get(reverse("insights:manager"), {**OCTOBER, "service": "no-such"})
    assert unknown.status_code == 400 and "no service" in unknown.content.decode()
    bad_figure = client.get(reverse("insights:tickets"), {**OCTOBER, "figure": "nonsense"})
    assert bad_figure.status_code == 400 and "figure" in bad_figure.content.decode()
    bad_by = client.get(reverse("insights:export_csv"), {**OCTOBER, "by": "colour"})
    assert bad_by.status_code == 400 and b"by: must be one of" in bad_by.content
    assert client.get(reverse("insights:monthly"), {"month": "2026-13"}).status_code == 400


def test_csv_export_holds_the_figures_of_the_period_and_the_previous_one(world: World, history: History) -> None:
    response = client_for(world.dave).get(reverse("insights:export_csv"), {**OCTOBER, "by": "service"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    found = {(r[header.index("scope")], r[header.index("figure")]): r for r in rows[1:]}
    assert found[("service=Mail", "ticket_volume")][header.index("value")] == "5"
    assert found[("service=Mail", "csat")][header.index("value")] == "2.0"
    assert found[("all", "ticket_volume")][header.index("value")] == "8"
    assert found[("all", "ticket_volume")][header.index("previous")] == "0"


def test_the_monthly_report_is_printable_and_complete(world: World, history: History,
                                                      django_assert_max_num_queries: Any) -> None:
    client = client_for(world.dave)
    with django_assert_max_num_queries(70):
        response = client.get(reverse("insights:monthly"), {"month": "2026-10"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Service report, October 2026" in html
    assert "@media print" not in html  # print rules live in the stylesheet, nothing loads from outside
    assert "<code>mttr.median_hours</code>" in html and _svg_count(html) >= 4
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_the_service_owner_sees_the_value_of_their_service(world: World, history: History,
                                                          django_assert_max_num_queries: Any) -> None:
    client = client_for(world.dave)
    with django_assert_max_num_queries(65):
        response = client.get(reverse("insights:owner"), {**OCTOBER, "service": history.mail.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "What Mail cost the business" in html
    assert "Watermelon services" in html and "CSAT 2.00" in html


# --- API ------------------------------------------------------------------------------------------------------

def _api(username: str, path: str, **params: Any) -> Any:
    from django.test import Client

    from outcomedesk.accounts.services import create_token

    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(username).key}"}
    return Client().get(f"/api/v1/insights/{path}", params, **headers)


def test_the_api_lists_watermelons_with_their_reasons_and_tickets(world: World, history: History) -> None:
    response = _api("dave", "watermelons", **OCTOBER)
    assert response.status_code == 200
    [mail] = response.json()
    assert mail["service"] == history.mail.slug and mail["sla_target"] == 0.9
    cause = next(r for r in mail["reasons"] if r["code"] == "repeated_cause")
    assert sorted(cause["ticket_numbers"]) == sorted(t.number for t in history.mail_tickets)
    csat = next(r for r in mail["reasons"] if r["code"] == "csat")
    assert csat["tickets"] == {"figure": "csat_low", "service": history.mail.pk}


def test_the_api_drills_down_and_suggests(world: World, history: History) -> None:
    listing = _api("bob", "tickets", figure="csat_low", **OCTOBER).json()
    assert listing["count"] == 6  # five Mail incidents rated 2, the VPN incident rated 1
    assert {t["number"] for t in listing["tickets"]} == {t.number for t in [*history.mail_tickets, history.vpn_ticket]}
    kinds = [s["kind"] for s in _api("bob", "suggestions", **OCTOBER).json()]
    assert kinds == ["repeated_incidents"]


def test_the_api_names_the_bad_parameter(world: World, history: History) -> None:
    assert _api("alice", "watermelons", **OCTOBER).status_code == 403
    backwards = _api("dave", "watermelons", **{"from": "2026-10-31", "to": "2026-10-01"})
    assert backwards.status_code == 400 and _fields(backwards) == ["to"]
    figure = _api("dave", "tickets", figure="nope", **OCTOBER)
    assert figure.status_code == 400 and _fields(figure) == ["figure"]
    limit = _api("dave", "tickets", limit=0, **OCTOBER)
    assert limit.status_code == 400 and _fields(limit) == ["limit"]


def _fields(response: Any) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


# --- the delivery figures' plug-in point ---------------------------------------------------------------------

class TwoChangesAWeek:
    """A delivery source as change enablement will give one: per scope, its implemented changes."""

    def rows(self, scope: Scope, period: periods.Period, by: str | None) -> dict[Any, dict[str, Any]]:
        weeks = period.days / 7
        return {figures.TOTAL: {"changes_implemented": round(2 * weeks), "changes_failed": 1,
                                "change_lead_median_s": 36 * 3600.0, "change_recovery_median_s": 5400.0}}


def test_delivery_figures_are_none_until_a_source_gives_them(world: World, history: History, settings: Any) -> None:
    total = figures.compute(it_scope(world), october(), None, NOW)[figures.TOTAL]
    assert total["change_frequency"] is None and total["change_failure_rate"] is None
    assert total["change_lead_time"] == {"median_hours": None, "changes": None}
    settings.OUTCOMEDESK_DELIVERY_SOURCE = "tests.test_insights_dashboard.TwoChangesAWeek"
    total = figures.compute(it_scope(world), october(), None, NOW)[figures.TOTAL]
    assert total["change_frequency"] == pytest.approx(9 / (31 / 7))
    assert total["change_failure_rate"] == pytest.approx(1 / 9)
    assert total["change_lead_time"]["median_hours"] == 36.0
    assert total["failed_change_recovery_time"]["median_hours"] == 1.5


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_reads_the_same_in_two_lanes_as_in_one(world: World, history: History, settings: Any) -> None:
    """On PostgreSQL outside a transaction the second lane runs on its own connection (insights/parallel.py);
    the figures must not depend on it. On SQLite both runs take one lane."""
    from django.db import connection

    from outcomedesk.insights import dashboard

    assert not connection.in_atomic_block
    settings.OUTCOMEDESK_INSIGHTS_PARALLEL = True
    with clock.at(NOW):
        two = dashboard.service_manager(it_scope(world), october())
    settings.OUTCOMEDESK_INSIGHTS_PARALLEL = False
    with clock.at(NOW):
        one = dashboard.service_manager(it_scope(world), october())
    assert (two.figures, two.previous, two.resolution_bands, two.priorities) == (
        one.figures, one.previous, one.resolution_bands, one.priorities)
    assert [f.service.pk for f in two.watermelons] == [f.service.pk for f in one.watermelons] == [history.mail.pk]
    assert [s.title for s in two.suggestions] == [s.title for s in one.suggestions]
    assert two.trend.opened == one.trend.opened and two.trend.backlog == one.trend.backlog


def test_an_error_in_the_second_lane_reaches_the_caller() -> None:
    from outcomedesk.insights.parallel import lanes

    def broken() -> None:
        raise ValueError("lane two failed")

    with pytest.raises(ValueError, match="lane two failed"):
        lanes({"one": lambda: 1}, {"two": broken})
    assert lanes({"one": lambda: 1}, {"two": lambda: 2}, {"three": lambda: 3}) == {"one": 1, "two": 2, "three": 3}


def test_the_executive_view_and_the_drill_down_keep_to_their_query_budget(
    world: World, history: History, django_assert_max_num_queries: Any
) -> None:
    f.make_user("erin", is_executive=True)
    from outcomedesk.accounts.models import User

    executive = client_for(User.objects.get(username="erin"))
    with django_assert_max_num_queries(80):
        response = executive.get(reverse("insights:executive"), OCTOBER)
    assert response.status_code == 200 and "Business outcome by service" in response.content.decode()
    assert "HR" not in re.findall(r'<th scope="row">([^<]+)</th>', response.content.decode())
    dave = client_for(world.dave)
    with django_assert_max_num_queries(8):
        listing = dave.get(reverse("insights:tickets"), {**OCTOBER, "figure": "mttr"})
    assert listing.status_code == 200


def test_a_confidential_desks_services_and_categories_are_unknown_to_outsiders(world: World, history: History) -> None:
    advice = f.make_service(world.hr, "Payroll advice")
    f.make_category(world.hr, "Parental leave")
    bob = client_for(world.bob)
    for name, value in (("service", advice.slug), ("service", str(advice.pk)), ("category", "Parental leave")):
        response = bob.get(reverse("insights:manager"), {**OCTOBER, name: value})
        assert response.status_code == 400 and f"no {name}" in response.content.decode(), name
    hana = client_for(world.hana)
    assert hana.get(reverse("insights:manager"), {**OCTOBER, "category": "Parental leave"}).status_code == 200
