"""SLA targets of real tickets: matched by policy, kept up to date by every ticket change, swept, escalated,
recomputed and repaired."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import TestCase

from outcomedesk.accounts.policy import OPERATOR
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.sla import queries
from outcomedesk.sla import services as sla
from outcomedesk.sla.models import BusinessCalendar, EscalationFiring, SlaPolicy, TicketTarget
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World

TZ = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def sweep(moment: datetime) -> sla.SweepResult:
    """The sweep at `moment`, with what it queues after commit (the e-mails) run as a worker would."""
    with clock.at(moment), TestCase.captureOnCommitCallbacks(execute=True):
        return sla.sweep(moment)


def target(ticket: Ticket, metric: str = "resolution", cycle: int = 0) -> TicketTarget:
    return TicketTarget.objects.get(ticket=ticket, metric=metric, cycle=cycle)


@pytest.fixture
def office(world: World) -> BusinessCalendar:
    return f.make_calendar("Munich office")


@pytest.fixture
def it_policy(world: World, office: BusinessCalendar) -> SlaPolicy:
    return f.make_policy(
        "IT standard", desk=world.it, calendar=office,
        targets=[{"metric": "response", "priority": None, "minutes": 60},
                 {"metric": "resolution", "priority": None, "minutes": 16 * 60},
                 {"metric": "resolution", "priority": 2, "minutes": 4 * 60}],
    )


def test_a_new_ticket_gets_the_targets_of_the_first_matching_policy(world: World, it_policy: SlaPolicy) -> None:
    f.make_policy("VIP first", order=1, desk=world.it, vip=True, targets={"resolution": 60})
    with clock.at(at("2026-06-09T10:00")):
        ticket = f.make_ticket(world.alice, world.it)
    assert {t.metric for t in TicketTarget.objects.filter(ticket=ticket)} == {"response", "resolution"}
    resolution = target(ticket)
    assert resolution.policy == it_policy
    assert resolution.deadline == at("2026-06-11T11:00")  # Tue 10-12,13-17:30 = 6.5 h; Wed 7.5 h; Thu 2 h
    assert resolution.state == "running"
    assert target(ticket, "response").deadline == at("2026-06-09T11:00")


def test_a_vip_requester_gets_the_vip_policy(world: World, it_policy: SlaPolicy) -> None:
    vip_policy = f.make_policy("VIP first", order=1, desk=world.it, vip=True, targets={"resolution": 60})
    boss = f.make_user("boss", is_vip=True)
    with clock.at(at("2026-06-09T10:00")):
        ticket = f.make_ticket(boss, world.it)
    assert target(ticket).policy == vip_policy
    assert target(ticket).deadline == at("2026-06-09T11:00")


def test_tickets_of_a_desk_without_a_policy_have_no_targets(world: World, it_policy: SlaPolicy) -> None:
    ticket = f.make_ticket(world.alice, world.hr)
    assert not TicketTarget.objects.filter(ticket=ticket).exists()


def test_pending_on_the_requester_pauses_and_their_reply_resumes_with_a_later_deadline(
        world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="requester")
    paused = target(ticket)
    assert paused.state == "paused" and paused.deadline is None and paused.next_check_at is None
    assert paused.elapsed_seconds == 3600
    with clock.at(at("2026-06-09T14:00")):
        tickets.add_comment(world.alice, ticket, "Here is the information")
    resumed = target(ticket)
    assert resumed.state == "running"
    [(begin, end, why)] = resumed.pauses
    assert (datetime.fromisoformat(begin), datetime.fromisoformat(end), why) == (
        at("2026-06-09T10:00"), at("2026-06-09T14:00"), "pending on requester")
    # 16 h in total: 1 h before the pause, from Tue 14:00: 3.5 h, Wed 7.5 h, Thu 09-12 and 13-14.
    assert resumed.deadline == at("2026-06-11T14:00")


def test_raising_the_priority_recomputes_from_the_original_start_and_keeps_the_pause(
        world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="requester")
    with clock.at(at("2026-06-09T14:00")):
        tickets.change_state(world.bob, ticket, "in_progress")
    with clock.at(at("2026-06-09T15:00")):
        tickets.update_ticket(world.bob, ticket, {"priority": 2})
    raised = target(ticket)
    assert raised.minutes == 240
    assert raised.deadline == at("2026-06-09T17:00")  # 1 h before the pause + 14:00-17:00
    assert len(raised.pauses) == 1


def test_resolving_meets_the_targets_and_reopening_resumes_the_resolution(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T09:30")):
        tickets.add_comment(world.bob, ticket, "Looking into it")
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "resolved", resolution_notes="Restarted")
    assert target(ticket).state == "met" and not target(ticket).is_active
    assert target(ticket, "response").state == "met"
    with clock.at(at("2026-06-10T09:00")):
        tickets.reopen_ticket(world.alice, ticket, reason="Still broken")
    reopened = target(ticket)
    assert reopened.state == "running" and reopened.is_active
    assert reopened.pauses[0][2] == "resolved"


def test_the_explanation_names_the_start_the_days_and_the_pauses(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-05-22T16:30")):  # Friday before Whit Monday
        ticket = f.make_ticket(world.alice, world.it)
    lines = sla.explain_target(target(ticket), now=at("2026-05-22T16:31"))
    text = "\n".join(lines)
    assert "Resolution target 16 h (IT standard)" in text
    assert "started Fri 22 May 2026 16:30" in text
    assert "Mon 25 May: holiday" in text


def test_the_sweep_marks_at_risk_and_breached_and_fires_each_escalation_once(world: World, it_policy: SlaPolicy
                                                                              ) -> None:
    sla.save_escalation_rule(OPERATOR, {"name": "Warn assignee", "policy": it_policy.pk, "metric": "resolution",
                                    "at_percent": 75, "action": "notify_assignee"})
    sla.save_escalation_rule(OPERATOR, {"name": "Tell manager", "policy": it_policy.pk, "metric": "resolution",
                                    "at_percent": 100, "action": "notify_managers"})
    with clock.at(at("2026-06-09T09:00")):
        ticket = tickets.open_ticket(world.bob, desk=world.it, title="Printer", requester=world.alice,
                                     assignee=world.bob.pk)
    mail.outbox.clear()
    sweep(at("2026-06-10T10:00"))  # 9.5 h of 16 used: nothing yet
    assert target(ticket).state == "running" and not EscalationFiring.objects.exists()
    result = sweep(at("2026-06-10T13:00"))  # 10.5 h of 16: 66 %; 12 h is reached at 14:30
    assert result.fired == []
    first = sweep(at("2026-06-10T14:31"))
    assert len(first.fired) == 1 and target(ticket).state == "at_risk"
    assert [m.to for m in mail.outbox] == [["bob@example.org"]]
    assert "SLA 75 % used" in mail.outbox[0].subject
    assert sweep(at("2026-06-10T14:32")).fired == []  # once only
    late = sweep(at("2026-06-11T12:00"))
    assert len(late.fired) == 1 and target(ticket).state == "breached"
    assert target(ticket).breached_at == at("2026-06-11T10:00")
    assert mail.outbox[-1].to == ["dave@example.org"]
    assert EscalationFiring.objects.filter(notified_at__isnull=False).count() == 2
    assert target(ticket).next_check_at is None  # nothing left to do until the ticket changes


def test_an_escalation_can_raise_the_priority_which_recomputes_the_target(world: World, it_policy: SlaPolicy
                                                                         ) -> None:
    sla.save_escalation_rule(OPERATOR, {"name": "Raise", "policy": it_policy.pk, "metric": "response",
                                    "at_percent": 100, "action": "raise_priority"})
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it, impact=2, urgency=2)  # P3
    with clock.at(at("2026-06-09T10:30")):
        sweep(at("2026-06-09T10:30"))
    ticket.refresh_from_db()
    assert ticket.priority == 2
    assert target(ticket).minutes == 240  # the resolution target follows the new priority
    assert any(e.action == "escalated" for e in ticket_events(ticket))
    with clock.at(at("2026-06-09T11:00")):
        sweep(at("2026-06-09T11:00"))
    ticket.refresh_from_db()
    assert ticket.priority == 2  # fired once


def ticket_events(ticket: Ticket) -> list:  # type: ignore[type-arg]
    from outcomedesk.core.audit import events_for

    return list(events_for("ticket", ticket.pk))


def test_business_hours_only_notifications_wait_for_the_calendar(world: World, it_policy: SlaPolicy) -> None:
    sla.save_escalation_rule(OPERATOR, {"name": "Polite", "policy": it_policy.pk, "metric": "response",
                                    "at_percent": 100, "action": "notify_managers", "business_hours_only": True})
    sla.save_escalation_rule(OPERATOR, {"name": "Urgent", "policy": it_policy.pk, "metric": "response",
                                    "at_percent": 101, "action": "notify_assignee"})
    with clock.at(at("2026-06-12T16:00")):  # Friday; the response is due at 17:00
        tickets.open_ticket(world.bob, desk=world.it, title="Printer", requester=world.alice,
                                     assignee=world.bob.pk)
    mail.outbox.clear()
    sweep(at("2026-06-13T10:05"))  # the sweep runs on Saturday: both rules fire
    polite = EscalationFiring.objects.get(rule__name="Polite")
    assert polite.notify_after == at("2026-06-15T09:00")
    assert [m.to for m in mail.outbox] == [["bob@example.org"]]  # only the rule without the calendar condition
    assert sla.deliver_escalations(at("2026-06-14T20:00")) == 0
    assert sla.deliver_escalations(at("2026-06-15T09:00")) == 1
    assert mail.outbox[-1].to == ["dave@example.org"]


def test_recompute_after_a_calendar_fix_moves_running_deadlines(world: World, it_policy: SlaPolicy,
                                                                office: BusinessCalendar) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    assert target(ticket).deadline == at("2026-06-11T10:00")
    definition = dict(office.definition, extra_holidays=["2026-06-10"])
    sla.save_calendar(OPERATOR, office.name, definition, calendar=office)
    assert sla.recompute_active(calendar=office, now=at("2026-06-09T09:05")) == 2
    assert target(ticket).deadline == at("2026-06-12T10:00")


def test_repair_replays_history_after_a_policy_change(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="vendor")
    with clock.at(at("2026-06-09T11:00")):
        tickets.change_state(world.bob, ticket, "in_progress")
    sla.save_policy(OPERATOR, {"pause_reasons": ["requester"]}, policy=it_policy)  # vendor waits now count
    assert len(target(ticket).pauses) == 1  # nothing changes until the repair
    assert sla.repair(sla.tickets_of_policy(it_policy), now=at("2026-06-09T11:00")) == 1
    assert target(ticket).pauses == []


def test_the_timeline_shows_running_paused_and_breached_stretches(world: World, it_policy: SlaPolicy,
                                                                  office: BusinessCalendar) -> None:
    f.make_policy("Quick", order=1, desk=world.it, calendar=office, targets={"resolution": 60})
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T09:30")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="requester")
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "in_progress")
    lines = sla.timeline(ticket, now=at("2026-06-09T11:00"))
    resolution = next(item for item in lines if item["metric"] == "resolution")
    assert [kind for _, _, kind in resolution["intervals"]] == ["running", "paused", "running", "breached"]


def test_bad_calendars_and_policies_are_refused_naming_the_field_and_nothing_is_stored(world: World) -> None:
    with pytest.raises(InvalidInput) as err:
        sla.save_calendar(OPERATOR, "Bad", {"timezone": "Mars/Olympus", "hours": "24x7"})
    assert "definition.timezone" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        sla.save_calendar(OPERATOR, "Bad", {"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}})
    assert "definition.hours.mon[1]" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        sla.save_calendar(OPERATOR, "Bad", {"holidays": {"country": "XX"}})
    assert "definition.holidays.country" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        f.make_policy("Bad", targets=[{"metric": "resolution", "priority": None, "minutes": -5}])
    assert "targets[0].minutes" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        f.make_policy("Bad", kind="ola", targets={"resolution": 60})
    assert "targets[0].metric" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        f.make_policy("Bad", pause_reasons=["lunch"])
    assert "pause_reasons" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        f.make_policy("Bad", starts_on="lunch", resolution_stops_on="never")
    assert set(err.value.errors) == {"starts_on", "resolution_stops_on"}
    assert not BusinessCalendar.objects.exists() and not SlaPolicy.objects.exists()


def test_only_service_managers_and_admins_change_service_levels(world: World) -> None:
    with pytest.raises(NotAllowed):
        sla.save_calendar(world.dave, "Mine", {"hours": "24x7"})
    assert sla.save_calendar(world.root, "Mine", {"hours": "24x7"}).name == "Mine"


def test_ola_targets_per_group_and_underpinning_contract_while_pending_on_a_vendor(
        world: World, office: BusinessCalendar) -> None:
    f.make_policy("Service desk OLA", kind="ola", group=world.it_group, calendar=office, targets={"group_hold": 120})
    f.make_policy("Vendor contract", kind="uc", desk=world.it, vendor="ACME", targets={"vendor_pending": 24 * 60})
    with clock.at(at("2026-06-09T09:00")):
        ticket = tickets.open_ticket(world.bob, desk=world.it, title="Printer", requester=world.alice,
                                     group=world.it_group.pk)
    assert target(ticket, "group_hold").group == world.it_group
    with clock.at(at("2026-06-09T10:00")):
        tickets.change_state(world.bob, ticket, "pending", pending_reason="vendor")
    assert target(ticket, "vendor_pending").deadline == at("2026-06-10T10:00")
    second = f.make_group(world.it, "Network")
    with clock.at(at("2026-06-09T12:00")):
        tickets.change_state(world.bob, ticket, "in_progress")
        tickets.update_ticket(world.bob, ticket, {"group": second.pk})
    assert target(ticket, "vendor_pending").state == "met"
    hold = target(ticket, "group_hold")
    assert hold.state == "met" and hold.stopped_at == at("2026-06-09T12:00")
    assert not TicketTarget.objects.filter(ticket=ticket, metric="group_hold", cycle=1).exists()  # no OLA for it


def test_the_targets_of_a_new_ticket_are_those_a_replay_of_its_history_gives(
        world: World, it_policy: SlaPolicy) -> None:
    """A ticket just opened gets its targets from the ticket in memory (no replay): the same rows as a replay."""
    f.make_policy("VIP first", order=1, desk=world.it, vip=True, targets={"resolution": 60})
    f.make_policy("Groups", kind="ola", calendar=it_policy.calendar, targets={"group_hold": 120})
    sla.save_escalation_rule(OPERATOR, {"name": "Late", "policy": it_policy.pk, "metric": "resolution",
                                        "at_percent": 50, "action": "notify_assignee"})
    boss = f.make_user("boss", is_vip=True)
    with clock.at(at("2026-06-09T16:50")):
        opened = [
            f.make_ticket(world.alice, world.it),
            f.make_ticket(boss, world.it),
            tickets.open_ticket(world.bob, desk=world.it, title="Phoned in", requester=world.alice, impact=1,
                                urgency=2, group=world.it_group, assignee=world.bob, channel="phone"),
        ]
    fields = ["metric", "cycle", *sla.STORED_FIELDS]
    for ticket in opened:
        written = sorted(TicketTarget.objects.filter(ticket=ticket).values_list(*fields))
        sla.refresh_ticket(ticket.pk, now=ticket.opened_at)
        assert written == sorted(TicketTarget.objects.filter(ticket=ticket).values_list(*fields))
    assert {m for (m,) in TicketTarget.objects.filter(ticket=opened[2]).values_list("metric")} == {
        "response", "resolution", "group_hold"}


def test_deferred_refresh_gives_the_same_targets_as_live_changes(world: World, it_policy: SlaPolicy) -> None:
    def script() -> Ticket:
        with clock.at(at("2026-06-09T09:00")):
            ticket = f.make_ticket(world.alice, world.it)
        with clock.at(at("2026-06-09T10:00")):
            tickets.change_state(world.bob, ticket, "pending", pending_reason="requester")
        with clock.at(at("2026-06-09T13:00")):
            tickets.change_state(world.bob, ticket, "in_progress")
        return ticket

    live = script()
    with sla.deferred(now=at("2026-06-09T13:00")):
        batched = script()
        assert not TicketTarget.objects.filter(ticket=batched).exists()
    fields = ("metric", "deadline", "state", "elapsed_seconds")
    assert [tuple(getattr(t, n) for n in fields) for t in TicketTarget.objects.filter(ticket=live)] == \
        [tuple(getattr(t, n) for n in fields) for t in TicketTarget.objects.filter(ticket=batched)]


def test_breaching_soon_is_one_indexed_query(world: World, it_policy: SlaPolicy,
                                            django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    with clock.at(at("2026-06-09T09:00")):
        soon = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-10T09:00")):
        f.make_ticket(world.alice, world.it)
    with django_assert_num_queries(1):
        found = list(queries.breaching_between(at("2026-06-11T09:30"), at("2026-06-11T10:30")).values_list(
            "ticket_id", flat=True))
    assert found == [soon.pk]
    assert timedelta(0) < target(soon).deadline - at("2026-06-11T09:30") <= timedelta(hours=1)  # type: ignore[operator]


def test_recompute_stores_instants_as_the_orm_does_so_range_queries_still_match(
        world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    sla.recompute_active(now=at("2026-06-09T09:05"))
    deadline = target(ticket).deadline
    assert deadline == at("2026-06-11T10:00")
    assert TicketTarget.objects.filter(deadline=deadline, ticket=ticket).exists()
    resolution = TicketTarget.objects.filter(ticket=ticket, metric="resolution")
    assert resolution.filter(deadline__lte=at("2026-06-11T09:59")).count() == 0
    assert resolution.filter(next_check_at__lte=at("2026-06-10T15:00")).count() == 1  # at risk Wed 14:30


def test_recompute_in_chunks_covers_every_running_target_once(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        made = [f.make_ticket(world.alice, world.it) for _ in range(5)]
    chunks = sla.recompute_chunks(size=3)
    assert len(chunks) == 4  # 10 targets (response + resolution of 5 tickets) in ranges of 3
    assert sum(sla.recompute_active(pk_from=low, pk_to=high, now=at("2026-06-09T09:05")) for low, high in chunks) == 10
    with TestCase.captureOnCommitCallbacks(execute=True) as queued:
        assert sla.schedule_recompute(size=3) == 4
    assert len(queued) == 4
    assert {target(t).deadline for t in made} == {at("2026-06-11T10:00")}


def test_a_repair_is_queued_only_by_service_managers(world: World, it_policy: SlaPolicy) -> None:
    f.make_ticket(world.alice, world.it)
    with pytest.raises(NotAllowed):
        sla.schedule_repair(world.bob, it_policy)
    with TestCase.captureOnCommitCallbacks(execute=True) as queued:
        assert sla.schedule_repair(world.root, it_policy, batch=1) == 1
    assert len(queued) == 1


def test_delivery_goes_on_batch_after_batch_and_sends_each_firing_once(world: World, it_policy: SlaPolicy) -> None:
    sla.save_escalation_rule(OPERATOR, {"name": "Managers", "policy": it_policy.pk, "metric": "response",
                                    "at_percent": 100, "action": "notify_managers"})
    with clock.at(at("2026-06-09T09:00")):
        for _ in range(5):
            f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T11:00")):
        assert len(sla.sweep(at("2026-06-09T11:00"), deliver=False).fired) == 5
    mail.outbox.clear()
    assert sla.deliver_all(at("2026-06-09T11:00"), batch=2) == 5  # three batches: 2, 2, 1
    assert len(mail.outbox) == 5
    assert sla.deliver_all(at("2026-06-09T11:30")) == 0


def test_a_policy_can_stop_the_response_when_an_agent_takes_the_ticket(world: World, office: BusinessCalendar
                                                                       ) -> None:
    f.make_policy("Taken", desk=world.it, calendar=office, response_stops_on="assigned", targets={"response": 30})
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-06-09T09:10")):
        tickets.update_ticket(world.bob, ticket, {"assignee": world.bob.pk})
    response = target(ticket, "response")
    assert response.state == "met" and response.stopped_at == at("2026-06-09T09:10")


def test_a_rule_added_later_fires_for_targets_already_past_its_share(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    assert target(ticket, "response").next_check_at == at("2026-06-09T09:45")  # at risk at 75 %
    with clock.at(at("2026-06-09T11:00")), TestCase.captureOnCommitCallbacks(execute=True):
        sla.save_escalation_rule(OPERATOR, {"name": "Late", "policy": it_policy.pk, "metric": "response",
                                        "at_percent": 50, "action": "notify_managers"})
    assert len(sweep(at("2026-06-09T11:00")).fired) == 1
