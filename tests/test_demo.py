"""The demo seeder: a deterministic plan, replayed through the services into a believable organisation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import RequestFactory

from outcomedesk.accounts.models import AssignmentGroup, Desk, DeskMembership, User
from outcomedesk.assist.models import KnowledgeDraft, Policy, Suggestion, TrainedModel
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.demo import catalog
from outcomedesk.demo.management.commands import demo as demo_command
from outcomedesk.demo.plan import plan_demo
from outcomedesk.demo.seed import DemoAlreadySeeded, DemoSummary, seed_demo
from outcomedesk.tickets.models import AssignmentRule, Category, Comment, State, Ticket

NOW = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded_once(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoSummary]:
    """Seed once for the module (it takes seconds), inside a transaction rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed_demo(seed=7, tickets=300, months=2, progress=False, now=NOW)
        transaction.set_rollback(True)


@pytest.fixture
def seeded(seeded_once: DemoSummary, db: None) -> DemoSummary:
    return seeded_once


def test_the_plan_is_the_same_for_the_same_seed() -> None:
    assert plan_demo(7, 300, 2, NOW) == plan_demo(7, 300, 2, NOW)


def test_another_seed_gives_another_plan() -> None:
    assert [t.title for t in plan_demo(7, 300, 2, NOW)] != [t.title for t in plan_demo(8, 300, 2, NOW)]


def test_the_plan_has_the_requested_size_within_the_period() -> None:
    plan = plan_demo(1, 250, 3, NOW)
    assert len(plan) == 250
    assert all(t.opened_at < NOW for t in plan)
    assert all(step.at < NOW for t in plan for step in t.steps)
    assert all(a.at < b.at for t in plan for a, b in zip(t.steps, t.steps[1:], strict=False))


def test_tickets_arrive_mostly_on_weekdays_during_working_hours() -> None:
    plan = plan_demo(3, 1000, 3, NOW)
    weekdays = sum(t.opened_at.weekday() < 5 for t in plan)
    office = sum(8 <= t.opened_at.hour < 18 for t in plan)
    assert weekdays / len(plan) > 0.9
    assert office / len(plan) > 0.75


def test_it_creates_the_organisation(seeded: DemoSummary) -> None:
    assert Desk.objects.count() == 4
    assert Desk.objects.get(slug="hr").confidential
    assert not Desk.objects.get(slug="it").confidential
    for desk in Desk.objects.all():
        assert 4 <= Category.objects.filter(desk=desk).count() <= 8
        assert 2 <= AssignmentGroup.objects.filter(desk=desk).count() <= 3
        assert AssignmentRule.objects.filter(desk=desk).exists()
        assert DeskMembership.objects.filter(desk=desk, role="manager").exists()
    assert BusinessService.objects.count() == seeded.services >= 10
    people = User.objects.exclude(username=settings.OUTCOMEDESK_ASSIST_USERNAME)  # the AI's own account
    assert people.count() == seeded.people >= 45
    assert User.objects.filter(is_service_manager=True).exists()
    assert User.objects.filter(is_superuser=True).exists()


def test_it_replays_a_realistic_history(seeded: DemoSummary) -> None:
    assert Ticket.objects.count() == seeded.tickets == 300
    assert Ticket.objects.filter(reopen_count__gt=0).exists()
    assert Ticket.objects.filter(reassignment_count__gt=0).exists()
    assert Ticket.objects.filter(state=State.CLOSED).exists()
    assert Ticket.objects.filter(state=State.CANCELLED).exists()
    assert Ticket.objects.filter(state__in=["new", "assigned", "in_progress", "pending"]).count() == seeded.open_tickets
    assert seeded.open_tickets > 0
    assert Ticket.objects.filter(desk__slug="hr").exists()
    assert Ticket.objects.filter(type="incident").exists() and Ticket.objects.filter(type="request").exists()
    assert Comment.objects.filter(is_public=False).exists()
    assert not Ticket.objects.filter(opened_at__gte=NOW).exists()
    resolved = Ticket.objects.filter(resolved_at__isnull=False)
    assert all(t.opened_at <= t.first_response_at <= t.resolved_at for t in resolved if t.first_response_at)


def test_the_demo_logins_can_sign_in(seeded: DemoSummary) -> None:
    names = {username for username, _, _ in seeded.logins}
    assert {"admin", "manager", "it.agent", "hr.agent", "employee"} <= names
    for username, password, _ in seeded.logins:
        request = RequestFactory().post("/login/")  # the lockout backend counts attempts per request
        assert authenticate(request, username=username, password=password) is not None, username
    hr_agent = User.objects.get(username="hr.agent")
    assert DeskMembership.objects.filter(user=hr_agent, desk__slug="hr").exists()


def test_it_refuses_to_seed_twice(seeded: DemoSummary) -> None:
    with pytest.raises(DemoAlreadySeeded, match="already exists"):
        seed_demo(seed=7, tickets=10, months=1, progress=False, now=NOW)
    assert Desk.objects.count() == 4


def test_every_demo_person_is_in_the_catalog(seeded: DemoSummary) -> None:
    people = User.objects.exclude(username=settings.OUTCOMEDESK_ASSIST_USERNAME)
    assert set(people.values_list("username", flat=True)) == {p.username for p in catalog.PEOPLE}


def test_the_command_prints_the_logins(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = DemoSummary(desks=4, services=11, people=51, tickets=20, open_tickets=3, seconds=1.0,
                          logins=catalog.logins())
    monkeypatch.setattr(demo_command, "seed_demo", lambda **options: summary)
    out = StringIO()
    call_command(demo_command.Command(), "--tickets=20", "--months=1", "--quiet", stdout=out)
    assert "20 tickets (3 open)" in out.getvalue()
    assert "employee" in out.getvalue() and "password: demo" in out.getvalue()


def test_the_command_refuses_an_already_seeded_database(seeded: DemoSummary) -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command(demo_command.Command(), "--tickets=5", "--quiet", stdout=StringIO())


def test_the_demo_has_service_levels_and_every_ticket_their_targets(seeded: DemoSummary) -> None:
    from outcomedesk.sla.models import SlaPolicy, TicketTarget

    assert SlaPolicy.objects.filter(kind="sla").count() >= 5
    assert SlaPolicy.objects.filter(kind="ola").exists() and SlaPolicy.objects.filter(kind="uc").exists()
    with_targets = TicketTarget.objects.values("ticket").distinct().count()
    assert with_targets == Ticket.objects.count()  # every demo ticket falls under a policy
    states = set(TicketTarget.objects.values_list("state", flat=True))
    assert {"met", "breached"} <= states  # history is not all green
    assert TicketTarget.objects.filter(metric="group_hold").exists()


def test_the_demo_records_impact_windows_on_past_incidents(seeded: DemoSummary) -> None:
    from outcomedesk.core.models import AuditEvent
    from outcomedesk.tickets.models import ServiceImpact

    impacts = list(ServiceImpact.objects.select_related("ticket", "service"))
    assert len(impacts) >= 3  # the major incidents and a few more
    assert all(i.ticket.type == "incident" and i.service.cost_of_downtime_per_hour > 0 for i in impacts)
    assert all(i.impact_start < NOW and (i.impact_end is None or i.impact_start <= i.impact_end <= NOW)
               for i in impacts)
    assert any(i.impact_end is not None for i in impacts)
    recorded = AuditEvent.objects.filter(object_type="ticket", action="impact_recorded")
    assert recorded.count() == len(impacts)  # through impact.record_impact, which writes the trail


def test_a_share_of_resolutions_is_surveyed_and_answered(seeded: DemoSummary) -> None:
    from outcomedesk.experience.models import Survey

    resolved = Ticket.objects.filter(resolved_at__isnull=False).count()
    surveys = Survey.objects.all()
    assert surveys.count() >= resolved  # one per resolution, reopened ones more than once
    answered = surveys.filter(responded_at__isnull=False)
    assert 0.15 < answered.count() / surveys.count() < 0.6
    assert all(1 <= s.score <= 5 and s.responded_at >= s.sent_at for s in answered if s.score is not None)
    assert answered.exclude(comment="").exists()


def test_the_demo_has_an_executive_who_sees_the_figures(seeded: DemoSummary) -> None:
    from outcomedesk.accounts import policy

    erin = User.objects.get(username="erin")
    assert erin.is_executive and not erin.desk_memberships.exists()
    assert policy.can(erin, policy.VIEW, policy.Capability.INSIGHTS)
    assert "erin" in {username for username, _, _ in seeded.logins}
    assert list(User.objects.filter(is_executive=True)) == [erin]


def test_one_service_is_a_watermelon_over_the_last_30_days(seeded: DemoSummary) -> None:
    """Green SLA, unhappy users, and the same incident again and again (METRICS.md "Watermelon detection")."""
    from datetime import timedelta

    from django.db.models import Count

    from outcomedesk.insights import figures
    from outcomedesk.insights.periods import Period
    from outcomedesk.insights.scope import Scope

    service = BusinessService.objects.get(slug=catalog.WATERMELON_SERVICE)
    period = Period(NOW - timedelta(days=30), NOW)
    got = figures.compute(Scope(service=service.pk), period, now=NOW)[figures.TOTAL]
    assert got["sla_compliance"]["overall"] >= float(service.sla_target_percent) / 100
    assert got["surveys"]["responses"] >= 3
    assert got["csat"] < float(service.experience_target)
    shared = (Ticket.objects.filter(service=service, type="incident", opened_at__gte=period.start,
                                    opened_at__lt=period.end)
              .values("category").annotate(n=Count("pk")).order_by("-n").first())
    assert shared is not None and shared["n"] >= 3


def test_every_practice_has_two_maturity_assessments(seeded: DemoSummary) -> None:
    from outcomedesk.improvement.models import Assessment
    from outcomedesk.improvement.queries import practice_summaries

    assert Assessment.objects.count() == 12
    summaries = practice_summaries(None)
    assert all(s.latest is not None and s.previous is not None for s in summaries)
    assert all(s.change is not None and s.change >= 0 for s in summaries)


def test_the_improvement_register_has_initiatives_with_a_measured_benefit(seeded: DemoSummary) -> None:
    from outcomedesk.improvement.models import Initiative
    from outcomedesk.improvement.register.queries import benefit

    rows = list(Initiative.objects.order_by("title"))
    assert [r.status for r in rows] == ["in_progress", "in_progress"]
    for row in rows:
        assert row.baseline_value is not None
        assert benefit(row).current is not None


def test_the_demo_starts_the_ai_on_its_own_history(seeded: DemoSummary) -> None:
    it = Desk.objects.get(slug="it")
    models = TrainedModel.objects.filter(desk=it, is_active=True)
    assert {"group", "category"} <= set(models.values_list("field", flat=True))
    assert all(m.figures["test_rows"] > 0 for m in models)
    assert Policy.objects.get(desk=it, field="group").mode == "auto"
    assert Suggestion.objects.filter(ticket__desk=it).exists()
    assert KnowledgeDraft.objects.filter(status="in_review").count() == 1
