"""Service levels in the agent workspace: the queue's SLA column and filter, the ticket page's SLA panel."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from outcomedesk.core import clock
from outcomedesk.sla.models import SlaPolicy, TicketTarget
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket
from outcomedesk.web.service_levels import duration
from tests import factories as f
from tests.conftest import World, client_for
from tests.test_web import _queries, agent_ticket, queue_url, ticket_url

TZ = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def it_policy(world: World) -> SlaPolicy:
    return f.make_policy("IT standard", desk=world.it, calendar=f.make_calendar("Munich office"),
                         targets={"response": 60, "resolution": 16 * 60})


def row_of(html: str, ticket: Ticket) -> str:
    start = html.index(f'data-href="{ticket_url(ticket)}"')
    return html[start : html.index("</tr>", start)]


def test_durations_read_as_people_say_them() -> None:
    assert duration(timedelta(minutes=35)) == "35 min"
    assert duration(timedelta(hours=2, minutes=10)) == "2 h 10 min"
    assert duration(timedelta(hours=3)) == "3 h"
    assert duration(timedelta(days=3, hours=4, minutes=5)) == "3 d 4 h"
    assert duration(timedelta(seconds=-5)) == "0 min"


def test_the_queue_shows_the_most_urgent_target_of_each_ticket(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        late = f.make_ticket(world.alice, world.it, title="Late one")
    with clock.at(at("2026-06-09T10:00")):
        risky = f.make_ticket(world.alice, world.it, title="Risky one")
    with clock.at(at("2026-06-09T10:20")):
        fresh = f.make_ticket(world.alice, world.it, title="Fresh one")
        waiting = f.make_ticket(world.alice, world.it, title="Waiting one")
        tickets.change_state(world.bob, waiting, "pending", pending_reason="requester")
    unmanaged = f.make_ticket(world.alice, world.hr, title="No policy")  # Hana's desk: Bob does not see it
    with clock.at(at("2026-06-09T10:50")):
        html = client_for(world.bob).get(queue_url("sort=opened")).content.decode()
    assert "<th>SLA</th>" in html
    assert 'class="sla sla-breached">breached 50 min ago<' in row_of(html, late)  # its response was due at 10:00
    assert 'class="sla sla-at-risk">10 min left<' in row_of(html, risky)  # 75 % of its hour used at 10:45
    assert 'class="sla sla-ok">30 min left<' in row_of(html, fresh)
    assert 'class="sla sla-paused">paused, 16 h left<' in row_of(html, waiting)  # putting it on hold answered
    assert unmanaged.number not in html
    with clock.at(at("2026-06-09T10:35")):
        html = client_for(world.hana).get(queue_url("desk=hr")).content.decode()
    assert '<span class="muted">—</span>' in row_of(html, unmanaged)


def test_the_breaching_soon_and_breached_filters(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        late = f.make_ticket(world.alice, world.it, title="Late one")
    with clock.at(at("2026-06-09T10:00")):
        soon = f.make_ticket(world.alice, world.it, title="Soon one")
        later = f.make_ticket(world.alice, world.it, title="Answered one")
    with clock.at(at("2026-06-09T10:05")):
        tickets.add_comment(world.bob, later, "On it")  # its response is met; its resolution is days away
    client = client_for(world.bob)
    with clock.at(at("2026-06-09T10:55")):
        breaching = client.get(queue_url("sla=soon")).content.decode()
        breached = client.get(queue_url("sla=breached")).content.decode()
        everything = client.get(queue_url()).content.decode()
        table = client.get(queue_url("sla=soon"), HTTP_HX_REQUEST="true").content.decode()
        bad = client.get(queue_url("sla=whenever"))
        csv = b"".join(client.get("/desk/export.csv", {"sla": "soon"}).streaming_content).decode()
    assert soon.number in breaching and late.number not in breaching and later.number not in breaching
    assert late.number in breached and soon.number not in breached and later.number not in breached
    assert all(t.number in everything for t in (late, soon, later))
    assert soon.number in table and later.number not in table and "<aside" not in table
    assert '<option value="soon" selected>' in breaching
    assert bad.status_code == 400 and "sla: use soon or breached" in bad.content.decode()
    assert soon.number in csv and later.number not in csv


def test_a_saved_view_keeps_the_sla_filter(world: World, it_policy: SlaPolicy) -> None:
    client = client_for(world.bob)
    response = client.post(reverse("web:save_view"), {"name": "Breaching", "query": "sla=soon&desk=it"})
    assert response.status_code == 302 and response.url == queue_url("sla=soon&desk=it")


def test_breaching_soon_keeps_confidential_desks_confidential(world: World, it_policy: SlaPolicy) -> None:
    f.make_policy("HR standard", desk=world.hr, targets={"response": 30})
    with clock.at(at("2026-06-09T10:00")):
        hr_ticket = f.make_ticket(world.alice, world.hr, title="Contract change")
    with clock.at(at("2026-06-09T10:10")):
        assert hr_ticket.number not in client_for(world.bob).get(queue_url("sla=soon")).content.decode()
        assert hr_ticket.number not in client_for(world.root).get(queue_url("sla=soon")).content.decode()
        assert hr_ticket.number in client_for(world.hana).get(queue_url("sla=soon")).content.decode()


def test_the_ticket_page_explains_each_target(world: World, it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-05-22T16:30")):  # the Friday before Whit Monday
        ticket = f.make_ticket(world.alice, world.it)
    with clock.at(at("2026-05-22T16:45")):
        html = client_for(world.bob).get(ticket_url(ticket)).content.decode()
    panel = html[html.index('id="sla-panel"') :]
    panel = panel[: panel.index("</section>")]
    assert panel.index("First response") < panel.index("Resolution")  # the most urgent first
    assert "IT standard" in panel
    assert "Wed 27 May 2026 17:30 CEST" in panel  # in the calendar's time zone
    assert "Resolution target 16 h (IT standard)" in panel
    assert "Mon 25 May: holiday" in panel
    assert 'class="sla sla-ok">Running<' in panel
    assert "<details>" in panel


def test_the_ticket_page_shows_a_breached_target_as_breached_before_the_sweep(world: World,
                                                                              it_policy: SlaPolicy) -> None:
    with clock.at(at("2026-06-09T09:00")):
        ticket = f.make_ticket(world.alice, world.it)
    assert TicketTarget.objects.get(ticket=ticket, metric="response").state == "running"
    with clock.at(at("2026-06-09T10:30")):
        html = client_for(world.bob).get(ticket_url(ticket)).content.decode()
    assert 'class="sla sla-breached">Breached<' in html and "breached 30 min ago" in html


def test_a_ticket_without_targets_says_so(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    assert "No service level applies to this ticket." in client_for(world.bob).get(ticket_url(ticket)).content.decode()


def test_the_sla_column_is_one_query_for_the_page(world: World, it_policy: SlaPolicy,
                                                   django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    with clock.at(at("2026-06-09T10:00")):
        for i in range(5):
            agent_ticket(world.bob, world.it, requester=world.alice, title=f"few {i}", assignee=world.bob,
                         group=world.it_group)
        client = client_for(world.bob)
        few = len(_queries(client, queue_url()))
        for i in range(55):
            agent_ticket(world.dave, world.it, requester=world.carol, title=f"many {i}", assignee=world.dave,
                         group=world.it_group)
    with clock.at(at("2026-06-09T10:05")):
        with django_assert_max_num_queries(12):  # the queue's budget (tests/test_web.py), the SLA column within it
            response = client.get(queue_url("sla=soon"))
        assert response.content.decode().count('class="sla sla-ok">55 min left<') == 50
        assert len(_queries(client, queue_url())) == few
        assert sum("sla_tickettarget" in q["sql"] for q in _queries(client, queue_url())) == 1


def test_the_sla_panel_is_one_query(world: World, it_policy: SlaPolicy,
                                    django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    ticket = agent_ticket(world.bob, world.it, requester=world.alice, group=world.it_group, assignee=world.bob)
    f.make_policy("Service desk OLA", kind="ola", group=world.it_group, targets={"group_hold": 120})
    tickets.add_comment(world.bob, ticket, "first")
    client = client_for(world.bob)
    with django_assert_max_num_queries(16):  # the ticket page's budget (tests/test_web.py)
        html = client.get(ticket_url(ticket)).content.decode()
    assert html.count('class="sla-target"') == 3  # response, resolution, the group's hold
    assert sum("sla_tickettarget" in q["sql"] for q in _queries(client, ticket_url(ticket))) == 1
