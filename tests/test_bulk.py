"""Bulk loads: numbers from the sequence, search documents, comments, events, and rows rejected by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from outcomedesk.accounts.models import AssignmentGroup, User
from outcomedesk.core.audit import events_for
from outcomedesk.core.errors import InvalidInput
from outcomedesk.tickets import bulk, search
from outcomedesk.tickets.bulk import CommentRow, EventRow, TicketRow
from outcomedesk.tickets.models import Comment, NumberSequence, SearchDocument, State, Ticket
from tests import factories as f
from tests.conftest import World

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def row(world: World, **fields: object) -> TicketRow:
    values: dict[str, object] = {
        "desk_id": world.it.pk, "requester_id": world.alice.pk, "title": "Printer jams on floor 3", "opened_at": T0,
    }
    values.update(fields)
    return TicketRow(**values)  # type: ignore[arg-type]


def test_it_numbers_tickets_from_the_sequence_after_those_opened_by_hand(world: World) -> None:
    first = f.make_ticket(world.alice, world.it)
    written = bulk.load_tickets([row(world), row(world, type="request"), row(world)], batch_size=2)
    assert written == 3
    numbers = list(Ticket.objects.exclude(pk=first.pk).order_by("pk").values_list("number", flat=True))
    assert numbers == ["INC0000002", "REQ0000001", "INC0000003"]
    assert NumberSequence.objects.get(prefix="INC").last == 3
    assert f.make_ticket(world.alice, world.it).number == "INC0000004"


def test_it_writes_fields_priority_and_defaults(world: World) -> None:
    bulk.load_tickets([
        row(world, group_id=world.it_group.pk, assignee_id=world.bob.pk, state=State.ASSIGNED, impact=1, urgency=2),
    ])
    ticket = Ticket.objects.get()
    assert (ticket.group, ticket.assignee, ticket.state) == (world.it_group, world.bob, State.ASSIGNED)
    assert ticket.priority == 2  # the matrix: impact 1 x urgency 2
    assert ticket.updated_at == T0 and ticket.channel == "import"


def test_loaded_tickets_are_found_by_search_with_their_comments(world: World) -> None:
    bulk.load_tickets([
        row(world, title="Projector flickers", comments=[
            CommentRow(body="<p>Swapped the <b>hdmi</b> cable</p><script>x()</script>", created_at=T0,
                       author_id=world.bob.pk),
        ]),
        row(world, title="Password reset"),
    ])
    projector = Ticket.objects.get(title="Projector flickers")
    assert "hdmi" in SearchDocument.objects.get(ticket=projector).body
    assert "<script>" not in Comment.objects.get().body
    assert [t.number for t in search.search_tickets(world.bob, "hdmi")] == [projector.number]
    assert [t.number for t in search.search_tickets(world.bob, "projector")] == [projector.number]


def test_it_writes_the_audit_events_of_each_ticket(world: World) -> None:
    bulk.load_tickets([
        row(world, events=[
            EventRow(action="created", at=T0, new_value="Incident"),
            EventRow(action="state", field="state", old_value="new", new_value="resolved",
                     at=T0 + timedelta(hours=2), actor_id=world.bob.pk),
        ]),
    ])
    events = list(events_for("ticket", Ticket.objects.get().pk))
    assert [(e.action, e.old_value, e.new_value, e.actor) for e in events] == [
        ("created", "", "Incident", None), ("state", "new", "resolved", world.bob),
    ]


def test_it_names_the_row_and_field_of_a_bad_group(world: World) -> None:
    rows = [row(world), row(world, group_id=world.hr_group.pk), row(world, state="open")]
    with pytest.raises(InvalidInput) as caught:
        bulk.load_tickets(rows)
    assert caught.value.errors == {
        "rows[2].group_id": f"no active assignment group {world.hr_group.pk} in the IT desk",
        "rows[3].state": "must be one of new, assigned, in_progress, pending, resolved, closed, cancelled, "
                         "not 'open'",
    }
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"desk_id": 999_999}, "desk_id"),
        ({"requester_id": 999_999}, "requester_id"),
        ({"assignee_id": 999_999}, "assignee_id"),
        ({"group_id": 999_999}, "group_id"),
        ({"title": "  "}, "title"),
        ({"type": "problem"}, "type"),
        ({"impact": 4}, "impact"),
        ({"priority": 0}, "priority"),
        ({"channel": "fax"}, "channel"),
        ({"comments": [CommentRow(body="hi", created_at=T0, author_id=999_999)]}, "comments[0].author_id"),
        ({"events": [EventRow(action="", at=T0)]}, "events[0].action"),
    ],
)
def test_it_rejects_references_and_values_that_do_not_exist(world: World, fields: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        bulk.load_tickets([row(world), row(world, **fields)])
    assert list(caught.value.errors) == [f"rows[2].{field}"]


def test_rows_meet_the_rules_of_every_ticket_opened(world: World, settings: Any) -> None:
    """The load checks each row with `services.check_ticket`: the limits of a ticket opened one at a time hold."""
    settings.TEXT_MAX_CHARS = 50
    with pytest.raises(InvalidInput) as caught:
        bulk.load_tickets([row(world, description="x" * 51), row(world, external_ref="R" * 101)])
    assert caught.value.errors == {
        "rows[1].description": "is 51 characters long; at most 50",
        "rows[2].external_ref": "is 101 characters long; at most 100",
    }
    assert not Ticket.objects.exists()


def test_history_names_people_and_groups_that_have_left_since(world: World) -> None:
    """Unlike a ticket opened today, a loaded one may name an inactive assignee, requester or group."""
    User.objects.filter(pk__in=[world.alice.pk, world.bob.pk]).update(is_active=False)
    AssignmentGroup.objects.filter(pk=world.it_group.pk).update(is_active=False)
    bulk.load_tickets([row(world, requester_id=world.alice.pk, assignee_id=world.bob.pk, group_id=world.it_group.pk)])
    loaded = Ticket.objects.get()
    assert (loaded.requester_id, loaded.assignee_id, loaded.group_id) == (world.alice.pk, world.bob.pk,
                                                                          world.it_group.pk)


def test_batches_before_a_bad_row_stay_written_unless_the_caller_wraps_the_load(world: World) -> None:
    rows = [row(world), row(world), row(world, requester_id=999_999)]
    with pytest.raises(InvalidInput, match=r"rows\[3\]\.requester_id"):
        bulk.load_tickets(rows, batch_size=2)
    assert Ticket.objects.count() == 2
    with pytest.raises(InvalidInput), transaction.atomic():
        bulk.load_tickets(rows, batch_size=2)
    assert Ticket.objects.count() == 2


def test_it_reports_progress_per_batch(world: World) -> None:
    seen: list[int] = []
    assert bulk.load_tickets((row(world) for _ in range(5)), batch_size=2, progress=seen.append) == 5
    assert seen == [2, 2, 1]


def test_a_deferred_index_is_built_once_and_finds_every_ticket(world: World) -> None:
    with bulk.search_index_deferred():
        bulk.load_tickets([row(world, title=f"Laptop battery {n}") for n in range(3)])
    assert len(search.search_tickets(world.bob, "battery")) == 3
    ticket = f.make_ticket(world.alice, world.it, title="Battery swollen")
    assert ticket.number in {t.number for t in search.search_tickets(world.bob, "swollen")}


def test_it_keeps_external_references_unique(world: World) -> None:
    bulk.load_tickets([row(world, external_ref="OLD-1")])
    assert Ticket.objects.get().external_ref == "OLD-1"
    with pytest.raises(InvalidInput) as caught:
        bulk.load_tickets([row(world, external_ref="OLD-2"), row(world, external_ref="OLD-1"),
                           row(world, external_ref="OLD-2")])
    assert caught.value.errors == {"rows[2].external_ref": "'OLD-1' is already loaded",
                                   "rows[3].external_ref": "'OLD-2' is already loaded"}


def test_deferred_secondary_indexes_come_back_after_the_load(world: World) -> None:
    from django.db import connection

    def ticket_indexes() -> dict[str, dict]:
        with connection.cursor() as cursor:
            return connection.introspection.get_constraints(cursor, Ticket._meta.db_table)

    before = ticket_indexes()
    with bulk.secondary_indexes_deferred(Ticket, Comment):
        assert "ticket_open_queue" not in ticket_indexes()
        assert any(c["unique"] and c["columns"] == ["number"] for c in ticket_indexes().values())  # stays
        bulk.load_tickets([row(world), row(world)])
    assert set(ticket_indexes()) == set(before)
    assert Ticket.objects.count() == 2
