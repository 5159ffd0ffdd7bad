"""The configuration each process keeps (core.config_cache): read again as soon as it changed, here or in another
process, and never kept from a change that was rolled back."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.queries import active_desk
from outcomedesk.core import config_cache
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.models import ConfigVersion
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import PriorityMatrixEntry, Ticket
from outcomedesk.tickets.priority import priority_for
from tests import factories as f
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _another_process_changed(name: str) -> None:
    """What `changed` leaves in the database when another process runs it: a new stamp, and nothing told here."""
    ConfigVersion.objects.update_or_create(name=name, defaults={"stamp": "made-elsewhere"})


def test_a_cache_answers_from_memory_until_its_configuration_changes(django_assert_num_queries: Any) -> None:
    assert priority_for(3, 3) == 5
    with django_assert_num_queries(1):  # the stamps, not the matrix
        assert priority_for(3, 3) == 5
    cell = PriorityMatrixEntry.objects.get(impact=3, urgency=3)
    cell.priority = 4
    cell.save()
    assert priority_for(3, 3) == 4
    PriorityMatrixEntry.objects.filter(impact=3, urgency=3).update(priority=3)  # no signal: the queryset tells
    assert priority_for(3, 3) == 3
    PriorityMatrixEntry.objects.filter(impact=3, urgency=3).delete()
    assert priority_for(3, 3) == 5  # the ITIL default for a missing cell


def test_inside_a_block_the_stamps_are_read_once(django_assert_num_queries: Any) -> None:
    priority_for(1, 1), active_desk(slug="none")  # fill both caches
    with config_cache.reading(), django_assert_num_queries(1):
        assert priority_for(1, 1) == 1 and priority_for(2, 2) == 3
        assert active_desk(slug="none") is None


def test_a_block_sees_the_changes_it_makes() -> None:
    with config_cache.reading():
        assert active_desk(slug="legal") is None
        desk = f.make_desk("legal")
        assert active_desk(slug="legal") == desk
        accounts.set_desk_active(desk, False)
        assert active_desk(slug="legal") is None


def test_a_change_made_by_another_process_is_read_once_its_stamp_changed() -> None:
    assert priority_for(2, 2) == 3
    with connection.cursor() as cursor:  # raw SQL, as another process's write looks from here: no signal
        cursor.execute("UPDATE tickets_prioritymatrixentry SET priority = 2 WHERE impact = 2 AND urgency = 2")
    assert priority_for(2, 2) == 3  # nobody said so: the copy stands (raw SQL writes must call `changed`)
    _another_process_changed("priority_matrix")
    assert priority_for(2, 2) == 2


def test_nothing_of_a_rolled_back_change_is_kept(world: World) -> None:
    network = f.make_group(world.it, "Network")
    ticket = f.make_ticket(world.alice, world.it, title="VPN drops")
    assert ticket.group is None
    with pytest.raises(RuntimeError), transaction.atomic():
        tickets.create_assignment_rule(world.it, "Network", network, keywords="vpn")
        assert f.make_ticket(world.alice, world.it, title="VPN drops").group == network
        raise RuntimeError("rolled back")
    assert f.make_ticket(world.alice, world.it, title="VPN drops").group is None


def test_the_group_a_rule_routes_to_is_a_copy_of_the_process_one(world: World) -> None:
    tickets.create_assignment_rule(world.it, "All", world.it_group)
    first = f.make_ticket(world.alice, world.it)
    first.group.name = "changed in memory"  # type: ignore[union-attr]
    second = f.make_ticket(world.alice, world.it)
    assert second.group is not None and second.group.name == "Service Desk"
    assert Ticket.objects.get(pk=second.pk).group == world.it_group


def test_a_closed_desk_takes_no_new_tickets_even_when_its_copy_was_read_before(world: World) -> None:
    assert active_desk(slug="it") == world.it
    accounts.set_desk_active(world.it, False)
    with pytest.raises(InvalidInput, match="no active desk"):
        tickets.open_ticket(world.alice, desk="it", title="Printer jams")
