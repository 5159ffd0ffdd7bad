"""The ticket lifecycle, routing, audit trail and notifications, through the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from outcomedesk.accounts import services as accounts
from outcomedesk.core.audit import events_for
from outcomedesk.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from outcomedesk.tickets import services
from outcomedesk.tickets.models import Attachment, PriorityMatrixEntry, State, Ticket
from outcomedesk.tickets.queries import timeline
from tests import factories as f
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_numbers_are_per_type_and_readable(world: World) -> None:
    first = f.make_ticket(world.alice, world.it)
    request = f.make_ticket(world.alice, world.it, type="request")
    second = f.make_ticket(world.alice, world.it)
    assert first.number == "INC0000001"
    assert request.number == "REQ0000001"
    assert second.number == "INC0000002"


def test_priority_comes_from_the_configurable_matrix(world: World) -> None:
    assert f.make_ticket(world.alice, world.it, impact=1, urgency=1).priority == 1
    assert f.make_ticket(world.alice, world.it, impact=3, urgency=3).priority == 5
    PriorityMatrixEntry.objects.filter(impact=3, urgency=3).update(priority=4)
    assert f.make_ticket(world.alice, world.it, impact=3, urgency=3).priority == 4


def test_changing_impact_recomputes_priority_and_records_both(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, impact=3, urgency=3)
    ticket = services.update_ticket(world.bob, ticket, {"impact": 1})
    assert ticket.priority == 3
    changed = {e.field: (e.old_value, e.new_value) for e in events_for("ticket", ticket.pk)}
    assert changed["impact"] == ("3", "1")
    assert changed["priority"] == ("5", "3")


def test_lifecycle_sets_the_timestamps_metrics_need(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    assert ticket.state == State.NEW and ticket.first_response_at is None
    ticket = services.update_ticket(world.bob, ticket, {"assignee": world.bob.pk})
    assert ticket.state == State.ASSIGNED
    assert ticket.first_response_at is not None
    ticket = services.change_state(world.bob, ticket, State.IN_PROGRESS)
    ticket = services.change_state(world.bob, ticket, State.PENDING, pending_reason="vendor")
    assert ticket.pending_reason == "vendor"
    ticket = services.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="Replaced the cable")
    assert ticket.resolved_at is not None and ticket.pending_reason == ""
    ticket = services.change_state(world.bob, ticket, State.CLOSED)
    assert ticket.closed_at is not None
    with pytest.raises(InvalidInput) as err:
        services.change_state(world.bob, ticket, State.IN_PROGRESS)
    assert "state" in err.value.errors


def test_first_response_is_the_first_public_agent_reply(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.add_comment(world.bob, ticket, "Looking at it", public=False)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    services.add_comment(world.bob, ticket, "Could you send a screenshot?")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_pending_and_resolve_require_their_reasons(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    with pytest.raises(InvalidInput) as err:
        services.change_state(world.bob, ticket, State.PENDING)
    assert "pending_reason" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        services.change_state(world.bob, ticket, State.RESOLVED)
    assert "resolution_notes" in err.value.errors
    ticket.refresh_from_db()
    assert ticket.state == State.NEW and ticket.version == 1


def test_requester_reply_resumes_a_ticket_pending_on_them(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.change_state(world.bob, ticket, State.PENDING, pending_reason="requester")
    services.add_comment(world.alice, ticket, "Here is the screenshot")
    ticket.refresh_from_db()
    assert ticket.state == State.IN_PROGRESS


def test_requester_reopens_within_the_window_only(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="done")
    ticket = services.reopen_ticket(world.alice, ticket, reason="Still broken")
    assert ticket.state == State.IN_PROGRESS and ticket.reopen_count == 1 and ticket.resolved_at is None
    ticket = services.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="done again")
    late = ticket.resolved_at + timedelta(days=world.it.reopen_window_days, hours=1)
    with time_machine.travel(late), pytest.raises(InvalidInput) as err:
        services.reopen_ticket(world.alice, ticket)
    assert "window" in err.value.errors["state"]
    with pytest.raises(NotFound):
        services.reopen_ticket(world.carol, ticket)  # sees nothing of IT's desk to reopen
    assert Ticket.objects.get(pk=ticket.pk).reopen_count == 1


def test_stale_version_is_a_conflict_and_nothing_is_written(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.update_ticket(world.bob, ticket, {"title": "Printer on floor 3 jams"}, expected_version=1)
    with pytest.raises(Conflict):
        services.update_ticket(world.dave, ticket, {"title": "Overwrite"}, expected_version=1)
    ticket.refresh_from_db()
    assert ticket.title == "Printer on floor 3 jams" and ticket.version == 2


def test_reassignment_counts_changes_of_group_after_the_first(world: World) -> None:
    other = f.make_group(world.it, "Network")
    ticket = f.make_ticket(world.alice, world.it)
    ticket = services.update_ticket(world.bob, ticket, {"group": world.it_group.pk})
    assert ticket.reassignment_count == 0
    ticket = services.update_ticket(world.bob, ticket, {"group": other.pk})
    assert ticket.reassignment_count == 1


def test_bad_references_name_their_field_and_write_nothing(world: World) -> None:
    hr_category = f.make_category(world.hr, "Payroll")
    with pytest.raises(InvalidInput) as err:
        services.open_ticket(world.bob, desk=world.it, title="", category=hr_category.pk, impact=9,
                             group=world.hr_group.pk, assignee=world.hana.pk)
    assert set(err.value.errors) >= {"title", "category", "impact", "group", "assignee"}
    assert Ticket.objects.count() == 0


def test_requesters_cannot_route_or_file_for_others(world: World) -> None:
    with pytest.raises(InvalidInput) as err:
        services.open_ticket(world.alice, desk=world.it, title="x", assignee=world.bob.pk, requester=world.carol.pk)
    assert set(err.value.errors) == {"assignee", "requester"}


def test_assignment_rules_route_by_keyword_then_round_robin_skips_away_agents(world: World) -> None:
    network = f.make_group(world.it, "Network", assignment_method="round_robin")
    n1 = f.make_agent(world.it, "n1", group=network)
    n2 = f.make_agent(world.it, "n2", group=network)
    n3 = f.make_agent(world.it, "n3", group=network)
    services.create_assignment_rule(world.it, "network", network, keywords="vpn, wifi", order=1)
    accounts.set_away(n2, True)
    picks = [f.make_ticket(world.alice, world.it, title=f"VPN down {i}") for i in range(4)]
    assert {t.group_id for t in picks} == {network.pk}
    assert [t.assignee_id for t in picks] == [n1.pk, n3.pk, n1.pk, n3.pk]
    other = f.make_ticket(world.alice, world.it, title="Printer jam")
    assert other.group_id is None and other.assignee_id is None


def test_least_loaded_picks_the_agent_with_fewest_open_tickets(world: World) -> None:
    team = f.make_group(world.it, "Desktop", assignment_method="least_loaded")
    busy = f.make_agent(world.it, "busy", group=team)
    idle = f.make_agent(world.it, "idle", group=team)
    for _ in range(2):
        services.open_ticket(world.bob, desk=world.it, title="load", assignee=busy.pk)
    services.create_assignment_rule(world.it, "desktop", team)
    assert f.make_ticket(world.alice, world.it).assignee_id == idle.pk


def test_hr_tickets_stay_inside_hr(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.hr, title="Question about my salary")
    for outsider in (world.bob, world.root):
        with pytest.raises(NotFound):
            services.add_comment(outsider, ticket, "hi")
        with pytest.raises(NotFound):
            services.update_ticket(outsider, ticket, {"title": "x"})
    services.add_comment(world.hana, ticket, "We will look into it")


def test_agents_of_other_desks_read_but_do_not_change(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    with pytest.raises(NotAllowed):
        services.update_ticket(world.hana, ticket, {"title": "x"})
    with pytest.raises(NotAllowed):
        services.add_comment(world.hana, ticket, "note", public=False)


def test_audit_trail_records_who_what_and_channel(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.update_ticket(world.bob, ticket, {"title": "Better title", "tags": ["Laptop", "vip"]}, channel="api")
    events = list(events_for("ticket", ticket.pk))
    title = next(e for e in events if e.field == "title")
    assert (title.actor_id, title.channel, title.new_value) == (world.bob.pk, "api", "Better title")
    assert next(e for e in events if e.field == "tags").new_value == "laptop, vip"


def test_internal_notes_stay_out_of_the_requester_timeline(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.add_comment(world.bob, ticket, "Secret workaround", public=False)
    services.add_comment(world.bob, ticket, "Public answer")
    public = [e.comment.body for e in timeline(ticket, include_internal=False) if e.comment]
    assert public == ["<p>Public answer</p>"]
    with pytest.raises(NotAllowed):
        services.add_comment(world.alice, ticket, "sneaky", public=False)


def test_comment_html_is_sanitised(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    comment = services.add_comment(world.alice, ticket, '<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>')
    assert "script" not in comment.body and "onclick" not in comment.body and "<b>there</b>" in comment.body


def test_attachments_check_type_and_size(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ATTACHMENT_MAX_BYTES = 10
    ticket = f.make_ticket(world.alice, world.it)
    with pytest.raises(InvalidInput) as err:
        services.add_attachment(world.alice, ticket, SimpleUploadedFile("evil.exe", b"MZ"))
    assert ".exe" in err.value.errors["attachments"]
    with pytest.raises(InvalidInput) as err:
        services.add_comment(world.alice, ticket, "log", attachments=[SimpleUploadedFile("big.log", b"x" * 11)])
    assert "limit" in err.value.errors["attachments"]
    assert ticket.comments.count() == 0 and Attachment.objects.count() == 0
    attachment = services.add_attachment(world.alice, ticket, SimpleUploadedFile("shot.png", b"png"))
    assert attachment.file.read() == b"png" and attachment.content_type == "image/png"


def test_merge_cancels_the_duplicate_and_moves_its_people(world: World) -> None:
    original = f.make_ticket(world.alice, world.it, title="E-mail down")
    duplicate = f.make_ticket(world.carol, world.it, title="Outlook not working")
    survivor = services.merge_tickets(world.bob, duplicate, original.number)
    duplicate.refresh_from_db()
    assert duplicate.state == State.CANCELLED and duplicate.duplicate_of_id == original.pk
    assert world.carol in survivor.watchers.all()
    with pytest.raises(InvalidInput):
        services.merge_tickets(world.bob, original, original.number)


def test_a_merge_tells_the_duplicates_requester_where_the_work_continues(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    original = f.make_ticket(world.alice, world.it, title="E-mail down")
    duplicate = f.make_ticket(world.carol, world.it, title="Outlook not working")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.merge_tickets(world.bob, duplicate, original.number)
    [told] = [m for m in mail.outbox if m.to == ["carol@example.org"] and "Merged" in m.subject]
    assert "the work continues there" in told.body and original.number in told.body
    assert f"/portal/tickets/{original.number}/" in told.body
    assert told.extra_headers["Auto-Submitted"] == "auto-generated"  # auto-responders stay quiet


def test_links_and_parents(world: World) -> None:
    parent = f.make_ticket(world.alice, world.it)
    child = f.make_ticket(world.alice, world.it)
    services.link_tickets(world.bob, parent, child.number)
    with pytest.raises(InvalidInput):
        services.link_tickets(world.bob, child, parent.number)
    child = services.update_ticket(world.bob, child, {"parent": parent.number})
    assert child.parent_id == parent.pk
    with pytest.raises(InvalidInput):
        services.update_ticket(world.bob, parent, {"parent": parent.number})


def test_notifications_reach_requester_assignee_and_watchers_but_not_opted_out(
    world: World, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    watcher = f.make_user("watcher")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.open_ticket(world.bob, desk=world.it, title="Laptop", requester=world.alice.pk,
                                      assignee=world.bob.pk, watchers=[watcher.pk])
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "watcher@example.org"]
    mail.outbox.clear()
    accounts.set_notifications(watcher, False)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(world.bob, ticket, "On my way")
    assert [m.to[0] for m in mail.outbox] == ["alice@example.org"]
    assert "On my way" in mail.outbox[0].body and "/portal/tickets/" in mail.outbox[0].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(world.bob, ticket, "internal", public=False)
    assert mail.outbox == []


def test_bulk_update_is_all_or_nothing(world: World) -> None:
    a = f.make_ticket(world.alice, world.it)
    hr = f.make_ticket(world.alice, world.hr)
    with pytest.raises(InvalidInput):
        services.bulk_update(world.bob, [a.number, hr.number], changes={"assignee": world.bob.pk})
    a.refresh_from_db()
    assert a.assignee_id is None
    done = services.bulk_update(world.bob, [a.number], changes={"assignee": world.bob.pk})
    assert done[0].assignee_id == world.bob.pk


def test_auto_close_closes_old_resolved_tickets(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    ticket = services.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="ok")
    assert services.close_resolved(ticket.resolved_at + timedelta(days=4)) == 1
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED


def test_resolving_an_unassigned_ticket_assigns_it_to_the_resolver(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    ticket = services.change_state(world.bob, ticket, State.RESOLVED, resolution_notes="Reset password")
    assert ticket.assignee == world.bob
    assert services.reopen_ticket(world.alice, ticket).state == State.IN_PROGRESS


def test_replies_are_searchable_at_once(world: World) -> None:
    from outcomedesk.tickets.search import search_tickets

    ticket = f.make_ticket(world.alice, world.it, title="Screen flickers")
    services.add_comment(world.bob, ticket, "Swapped the DisplayPort cable")
    assert [t.number for t in search_tickets(world.bob, "displayport")] == [ticket.number]
    assert [t.number for t in search_tickets(world.alice, "swapped cable")] == [ticket.number]


def test_desk_configuration_is_validated(world: World) -> None:
    from outcomedesk.accounts import services as accounts_services
    from outcomedesk.cmdb.services import create_service

    with pytest.raises(InvalidInput) as err:
        accounts_services.create_desk("IT Desk!", "")
    assert set(err.value.errors) == {"slug", "name"}
    with pytest.raises(InvalidInput) as err:
        accounts_services.create_group(world.it, "Service Desk", assignment_method="random")
    assert set(err.value.errors) == {"name", "assignment_method"}
    with pytest.raises(InvalidInput) as err:
        services.create_assignment_rule(world.it, "hr group in it", world.hr_group)
    assert "group" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        create_service("Mail", world.it, experience_target=7, cost_of_downtime_per_hour="lots")
    assert set(err.value.errors) == {"experience_target", "cost_of_downtime_per_hour"}


def test_routing_decisions_are_recorded_as_the_systems(world: World) -> None:
    services.create_assignment_rule(world.it, "all", world.it_group)
    ticket = f.make_ticket(world.alice, world.it)
    routed = next(e for e in events_for("ticket", ticket.pk) if e.field == "group")
    assert routed.actor_id is None and routed.channel == "system"
    created = next(e for e in events_for("ticket", ticket.pk) if e.action == "created")
    assert created.actor_id == world.alice.pk
