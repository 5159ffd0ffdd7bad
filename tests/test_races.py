"""Races, each run with its two sides at once on PostgreSQL (two threads, each on its own connection, no test
transaction around them): one agent's acceptance of an AI suggestion wins; two merges in opposite directions
never deadlock; two imports of one `external_ref` import it once; a parent cycle is refused however it is made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from outcomedesk.assist import services as assist
from outcomedesk.assist.models import Outcome, Suggestion
from outcomedesk.core import clock
from outcomedesk.core.errors import Conflict, InvalidInput, ServiceError
from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.importer import import_tickets
from outcomedesk.tickets.models import State, Ticket
from tests import factories as f
from tests.conftest import World

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks and concurrent transactions need PostgreSQL (SQLite has one writer at a time); "
           "run with DATABASE_URL=postgres://...",
)


def both_at_once(*sides: Callable[[], Any]) -> list[Any]:
    """Run each side in its own thread and connection, released together; each result or the exception."""
    start = threading.Barrier(len(sides))
    results: list[Any] = [None] * len(sides)

    def run(i: int, side: Callable[[], Any]) -> None:
        try:
            start.wait(10)
            results[i] = side()
        except Exception as exc:  # the test looks at what each side got
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, side)) for i, side in enumerate(sides)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a side is still waiting: a lock is never released"
    return results


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_agents_accepting_one_suggestion_apply_it_once(world: World, attempt: int) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Payroll export fails for everyone")
    suggestion = Suggestion.objects.create(
        ticket=ticket, field="impact", value="1", display="High", confidence=0.93, model_name="triage",
        version="triage-test", input_hash="0" * 64, created_at=clock.now())
    results = both_at_once(lambda: assist.decide(world.bob, suggestion.pk, True),
                           lambda: assist.decide(world.dave, suggestion.pk, True))
    won = [r for r in results if isinstance(r, Suggestion)]
    lost = [r for r in results if not isinstance(r, Suggestion)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], Conflict) and "already accepted" in lost[0].message
    suggestion.refresh_from_db()
    assert suggestion.outcome == Outcome.ACCEPTED and suggestion.decided_by == won[0].decided_by
    assert AuditEvent.objects.filter(object_type="ticket", object_id=ticket.pk, field="impact").count() == 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_merges_in_opposite_directions_end_with_one_merge_and_no_deadlock(world: World, attempt: int) -> None:
    first = f.make_ticket(world.alice, world.it, title="Outlook crashes on start")
    second = f.make_ticket(world.carol, world.it, title="Outlook crashes when it starts")
    results = both_at_once(lambda: tickets.merge_tickets(world.bob, first.pk, second.number),
                           lambda: tickets.merge_tickets(world.dave, second.pk, first.number))
    merged = [r for r in results if isinstance(r, Ticket)]
    refused = [r for r in results if not isinstance(r, Ticket)]
    assert len(merged) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], InvalidInput), f"not a clean refusal: {refused[0]!r}"
    states = sorted(Ticket.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", flat=True))
    assert State.CANCELLED in states and states.count(State.CANCELLED) == 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_imports_of_one_external_ref_at_once_import_it_once_and_skip_it_once(
        world: World, tmp_path: Path, attempt: int) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text("title,desk,requester,external_ref\nVPN down,it,alice,SNOW-INC0012345\n", encoding="utf-8")
    reports = both_at_once(lambda: import_tickets(path, world.bob), lambda: import_tickets(path, world.dave))
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sorted(len(r.imported) for r in reports) == [0, 1]
    assert sorted(len(r.skipped) for r in reports) == [0, 1]
    assert all(not r.rejected for r in reports), [r.rejected for r in reports]
    assert Ticket.objects.filter(external_ref="SNOW-INC0012345").count() == 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_agents_making_two_tickets_each_others_parent_at_once_leave_no_cycle(world: World, attempt: int) -> None:
    a = f.make_ticket(world.alice, world.it, title="Network outage floor 3")
    b = f.make_ticket(world.carol, world.it, title="No wifi on floor 3")
    results = both_at_once(lambda: tickets.update_ticket(world.bob, a.pk, {"parent": b.number}),
                           lambda: tickets.update_ticket(world.dave, b.pk, {"parent": a.number}))
    changed = [r for r in results if isinstance(r, Ticket)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(changed) == 1 and len(refused) == 1, results
    assert "cycle" in refused[0].message
    a.refresh_from_db()
    b.refresh_from_db()
    assert not (a.parent_id == b.pk and b.parent_id == a.pk)


@pytest.mark.django_db
def test_a_parent_cycle_is_refused_however_far_up_the_chain_it_closes(world: World) -> None:
    chain = [f.make_ticket(world.alice, world.it, title=f"Level {i}") for i in range(5)]
    for child, parent in zip(chain[1:], chain, strict=False):
        tickets.update_ticket(world.bob, child, {"parent": parent.number})
    with pytest.raises(InvalidInput, match="cycle") as refused:
        tickets.update_ticket(world.bob, chain[0], {"parent": chain[-1].number})  # four levels below it
    assert list(refused.value.errors) == ["parent"]
    with pytest.raises(InvalidInput, match="cycle"):
        tickets.update_ticket(world.bob, chain[2], {"parent": chain[2].number})
    tickets.update_ticket(world.bob, chain[4], {"parent": chain[0].number})  # a shorter path is no cycle
