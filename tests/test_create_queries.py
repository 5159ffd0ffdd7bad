"""Opening a ticket costs a fixed, small number of queries, whatever the desk holds: the API's `POST /tickets` and
the portal's form, with the AI on, service levels and escalation rules applying and routing rules to match. What
happens after the response (the AI's triage and duplicate search, the e-mails, webhooks) is queued, never run in
the request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from celery import current_app
from celery.signals import before_task_publish, task_prerun
from django.core import mail
from django.test import Client

from outcomedesk.accounts.policy import OPERATOR
from outcomedesk.accounts.services import create_token
from outcomedesk.assist.models import Feature, Suggestion
from outcomedesk.assist.switches import set_switch
from outcomedesk.intake.models import WebhookDelivery
from outcomedesk.intake.webhooks.outbound import save_subscription
from outcomedesk.sla import services as sla
from outcomedesk.sla.models import TicketTarget
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World, client_for

pytestmark = pytest.mark.django_db

# The budget of issue 13: the transaction (2), the lockout check and the token (2), the access policy (1), the
# configuration stamps (1), the number (1), the ticket, its audit events, its search document and its SLA targets
# (4), and the requester an agent names (1).
BUDGET = 12
TRIAGE = "outcomedesk.assist.tasks.triage_new_ticket"
NOTIFY = "outcomedesk.tickets.tasks.send_ticket_notifications"


@dataclass
class Tasks:
    """The tasks sent to the broker, and those that ran in this process (none should)."""

    sent: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)


@pytest.fixture
def tasks() -> Iterator[Tasks]:
    """Tasks go to the broker (the queue folder of the test data folder) as in production, instead of running in
    the caller's thread (the test settings' default); the folder is emptied afterwards."""
    found = Tasks()

    def sent(sender: Any = None, **_: Any) -> None:
        found.sent.append(str(sender))

    def ran(sender: Any = None, **_: Any) -> None:
        found.ran.append(str(getattr(sender, "name", sender)))

    app = current_app._get_current_object()
    app.control.purge()
    before_task_publish.connect(sent, weak=False, dispatch_uid="test-create-queries-sent")
    task_prerun.connect(ran, weak=False, dispatch_uid="test-create-queries-ran")
    app.conf.task_always_eager = False
    try:
        yield found
    finally:
        app.conf.task_always_eager = True
        before_task_publish.disconnect(dispatch_uid="test-create-queries-sent")
        task_prerun.disconnect(dispatch_uid="test-create-queries-ran")
        app.control.purge()


@pytest.fixture
def configured(world: World) -> World:
    """Every AI feature on; the desk's default policy in a business calendar, an OLA for every group, escalation
    rules at 75 % and 100 %; routing rules (the groups assign by hand, the default)."""
    for feature in Feature.values:
        set_switch(OPERATOR, feature, True)
    office = f.make_calendar("Office")
    default = f.make_policy("IT default", desk=world.it, calendar=office,
                            targets=[{"metric": "response", "priority": None, "minutes": 60},
                                     {"metric": "resolution", "priority": None, "minutes": 8 * 60},
                                     {"metric": "resolution", "priority": 1, "minutes": 2 * 60}])
    f.make_policy("Groups", kind="ola", targets={"group_hold": 4 * 60})
    for at_percent, action in ((75, "notify_assignee"), (100, "notify_managers")):
        sla.save_escalation_rule(OPERATOR, {"name": f"At {at_percent} %", "policy": default.pk, "metric": "",
                                            "at_percent": at_percent, "action": action})
    network = f.make_group(world.it, "Network")
    tickets.create_assignment_rule(world.it, "Network", network, order=10, keywords="vpn,wifi")
    tickets.create_assignment_rule(world.it, "Everything else", world.it_group, order=100)
    return world


def _create(client: Client, headers: dict[str, str], **fields: Any) -> Any:
    body = {"desk": "it", "title": "Printer jams", "description": "Toner smear on page two", **fields}
    response = client.post("/api/v1/tickets", json.dumps(body), content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    return response.json()


def _counted(client: Client, headers: dict[str, str], django_assert_max_num_queries: Any,
             django_capture_on_commit_callbacks: Any, budget: int = BUDGET, **fields: Any) -> Any:
    """One creation after a first one (which fills the process's caches; its commit hooks never run: the test's
    transaction never commits), with its commit hooks run inside the count, as at the end of a real request's
    transaction: they queue the tasks."""
    _create(client, headers, **fields)
    with django_assert_max_num_queries(budget), django_capture_on_commit_callbacks(execute=True):
        return _create(client, headers, **fields)


def test_an_agent_opening_a_ticket_for_someone_through_the_api_makes_at_most_12_queries(
    configured: World, tasks: Tasks, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    body = _counted(Client(), headers, django_assert_max_num_queries, django_capture_on_commit_callbacks,
                    requester=configured.alice.pk, impact=2)
    ticket = Ticket.objects.get(number=body["number"])
    assert body["group"]["name"] == "Service Desk" and body["requester"]["username"] == "alice"
    assert body["priority"] == ticket.priority and body["tags"] == [] and body["children"] == []
    targets = {(t.metric, t.policy.name) for t in TicketTarget.objects.filter(ticket=ticket)}
    assert targets == {("response", "IT default"), ("resolution", "IT default"), ("group_hold", "Groups")}
    # Queued for a worker, run by none in the request: the AI's triage and duplicate search, the e-mails.
    assert tasks.sent.count(TRIAGE) == 1 and tasks.sent.count(NOTIFY) == 1
    assert tasks.ran == []
    assert not Suggestion.objects.exists() and mail.outbox == []


def test_a_requester_opening_a_ticket_through_the_api_makes_at_most_12_queries(
    configured: World, tasks: Tasks, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('alice').key}"}
    body = _counted(Client(), headers, django_assert_max_num_queries, django_capture_on_commit_callbacks,
                    budget=BUDGET - 1, title="VPN drops", urgency=1)
    assert body["group"]["name"] == "Network" and body["channel"] == "api"
    assert tasks.sent.count(TRIAGE) == 1 and tasks.ran == []


def test_a_webhook_subscription_costs_one_insert_of_its_delivery(
    configured: World, tasks: Tasks, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", "s3cret")
    save_subscription(configured.dave, {"name": "CMDB", "desk": configured.it.pk, "url": "https://cmdb.example.org/in",
                                        "events": ["created"], "secret_env": "TEST_HOOK_SECRET", "is_active": True})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    body = _counted(Client(), headers, django_assert_max_num_queries, django_capture_on_commit_callbacks,
                    budget=BUDGET + 1, requester=configured.alice.pk)
    assert WebhookDelivery.objects.filter(ticket__number=body["number"], event="created").count() == 1
    assert "outcomedesk.intake.tasks.send_webhook" in tasks.sent and tasks.ran == []


def test_the_portal_form_opens_a_ticket_in_at_most_12_queries(
    configured: World, tasks: Tasks, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The same write as the API's; the session and its person instead of the lockout check and the token, the
    desk the address names instead of the requester."""
    client = client_for(configured.alice)
    form = {"title": "Printer jams", "description": "Toner smear on page two", "urgency": "2", "type": "incident"}
    assert client.post("/portal/new/it/", form).status_code == 302
    with django_assert_max_num_queries(BUDGET), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/new/it/", form)
    assert response.status_code == 302
    ticket = Ticket.objects.order_by("-pk").first()
    assert ticket is not None and response["Location"].endswith(f"/{ticket.number}/")
    assert ticket.channel == "portal" and TicketTarget.objects.filter(ticket=ticket).count() == 3
    assert tasks.sent.count(TRIAGE) == 1 and tasks.ran == []


def test_the_answer_to_a_creation_is_what_reading_the_ticket_gives(
    world: World, django_assert_max_num_queries: Any
) -> None:
    """Its tags, watchers, children and links are answered from what the opening knew, without reading them; reading
    the ticket still reads them all (8 queries, as before)."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    client = Client()
    for extra in ({}, {"tags": ["printer", "floor-2"], "watchers": [world.dave.pk, world.carol.pk]}):
        created = _create(client, headers, requester=world.alice.pk, **extra)
        with django_assert_max_num_queries(8):
            read = client.get(f"/api/v1/tickets/{created['number']}", **headers).json()
        assert created == read
    assert read["tags"] == ["floor-2", "printer"] and [w["username"] for w in read["watchers"]] == ["carol", "dave"]
