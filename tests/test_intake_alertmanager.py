"""Monitoring alerts: Prometheus Alertmanager's webhook opens one incident per alert group, counts repeats, notes
new and cleared alerts, and resolves the incident when every alert cleared (if the source says so). End to end
with a real Alertmanager (Debian's) sending to the running service; the rules through the service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from outcomedesk.accounts import services as accounts
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.core.models import Channel
from outcomedesk.intake.alertmanager import services as alerts
from outcomedesk.intake.models import Alert, AlertSource
from outcomedesk.tickets.models import Comment, State, Ticket
from tests import factories as f
from tests.alert_servers import AlertmanagerServer, instant
from tests.conftest import World

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def source(world: World, *, resolve: bool = True) -> AlertSource:
    account = f.make_agent(world.it, "prometheus")
    return alerts.save_alert_source(world.dave, {"name": "Prometheus", "desk": world.it, "account": account,
                                                 "resolve_when_cleared": resolve})


def alert(name: str = "HighLatency", *, fingerprint: str = "a1", status: str = "firing", start: datetime = T0,
          end: datetime | None = None, **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, **labels},
            "annotations": {"summary": f"{name} above its threshold"}, "startsAt": instant(start),
            "endsAt": instant(end) if end else "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph",
            "fingerprint": fingerprint}


def payload(*items: dict[str, Any], group: str = "{}:{alertname=\"HighLatency\"}") -> dict[str, Any]:
    return {"version": "4", "groupKey": group, "status": items[0]["status"], "receiver": "outcomedesk",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager",
            "alerts": list(items)}


@pytest.mark.django_db
def test_an_alert_group_is_one_incident_and_repeats_are_counted(world: World) -> None:
    src = source(world)
    payroll = f.make_service(world.it, "Payroll")
    first = alerts.receive_alerts(src.account, payload(alert(fingerprint="a1", instance="db1", severity="critical",
                                                             service="payroll")))
    assert len(first.opened) == 1
    incident = Ticket.objects.get(number=first.opened[0])
    assert (incident.type, incident.channel, incident.impact, incident.urgency, incident.service) == (
        "incident", Channel.MONITORING, 1, 1, payroll)
    assert incident.title == "HighLatency: HighLatency above its threshold"
    again = alerts.receive_alerts(src.account, payload(alert(fingerprint="a1", instance="db1"),
                                                       alert(fingerprint="b2", instance="db2")))
    assert (again.opened, again.repeated, again.added) == ([], 1, 1)
    assert Ticket.objects.count() == 1
    assert Alert.objects.get(fingerprint="a1").received == 2
    assert "Also firing: HighLatency (instance=db2)" in Comment.objects.get(ticket=incident).body


@pytest.mark.django_db
def test_the_incident_is_resolved_when_every_alert_cleared(world: World) -> None:
    src = source(world)
    opened = alerts.receive_alerts(src.account, payload(alert(fingerprint="a1"), alert(fingerprint="b2"))).opened
    one = alerts.receive_alerts(src.account, payload(alert(fingerprint="a1", status="resolved", end=T0 + timedelta(
        minutes=5))))
    assert (one.resolved, one.incidents_resolved) == (1, [])  # b2 still fires
    both = alerts.receive_alerts(src.account, payload(alert(fingerprint="b2", status="resolved", end=T0 + timedelta(
        minutes=6))))
    assert both.incidents_resolved == opened
    incident = Ticket.objects.get(number=opened[0])
    assert (incident.state, incident.resolution_code) == (State.RESOLVED, "cleared")
    # A new firing of the same alert after the incident was resolved opens a new incident.
    later = alerts.receive_alerts(src.account, payload(alert(fingerprint="a1", start=T0 + timedelta(hours=1))))
    assert len(later.opened) == 1 and later.opened != opened


@pytest.mark.django_db
def test_a_source_may_leave_resolving_to_people(world: World) -> None:
    src = source(world, resolve=False)
    opened = alerts.receive_alerts(src.account, payload(alert())).opened
    alerts.receive_alerts(src.account, payload(alert(status="resolved", end=T0 + timedelta(minutes=1))))
    incident = Ticket.objects.get(number=opened[0])
    assert incident.state != State.RESOLVED
    assert "Cleared: HighLatency" in Comment.objects.get(ticket=incident).body


@pytest.mark.django_db
def test_other_groups_are_other_incidents_and_unknown_clearings_are_ignored(world: World) -> None:
    src = source(world)
    a = alerts.receive_alerts(src.account, payload(alert(), group="g1")).opened
    b = alerts.receive_alerts(src.account, payload(alert("DiskFull", fingerprint="d1"), group="g2")).opened
    assert len(set(a + b)) == 2
    ignored = alerts.receive_alerts(src.account, payload(alert("Old", fingerprint="z9", status="resolved"),
                                                         group="g3"))
    assert ignored.ignored == 1 and Ticket.objects.count() == 2


@pytest.mark.django_db
def test_only_an_alert_sources_account_may_send(world: World) -> None:
    source(world)
    with pytest.raises(NotAllowed):
        alerts.receive_alerts(world.bob, payload(alert()))


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "field"), [
    ({"status": "burning"}, "alerts[1].status"),
    ({"startsAt": "yesterday"}, "alerts[1].startsAt"),
    ({"fingerprint": ""}, "alerts[1].fingerprint"),
])
def test_bad_alerts_are_named_and_nothing_is_written(world: World, change: dict[str, Any], field: str) -> None:
    src = source(world)
    with pytest.raises(InvalidInput) as caught:
        alerts.receive_alerts(src.account, payload(alert(fingerprint="ok1"), {**alert(fingerprint="x"), **change}))
    assert field in caught.value.errors
    assert not Ticket.objects.exists() and not Alert.objects.exists()


@pytest.mark.django_db
def test_the_endpoint_answers_401_without_a_token_and_400_naming_the_field(world: World) -> None:
    src = source(world)
    key = accounts.create_token(src.account.username, name="alertmanager").key
    client = Client()
    assert client.post("/api/v1/intake/alertmanager", payload(alert()), content_type="application/json"
                       ).status_code == 401
    bad = client.post("/api/v1/intake/alertmanager", {"groupKey": "g", "alerts": [{"labels": {}}]},
                      content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bad.status_code == 400 and "status" in bad.content.decode()
    good = client.post("/api/v1/intake/alertmanager", payload(alert()), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}")
    assert good.status_code == 200 and len(good.json()["opened"]) == 1


# --- end to end: a real Alertmanager sends to the running service ------------------------------------------------

@pytest.fixture
def alertmanager(live_server: Any, transactional_db: None, world: World) -> Iterator[AlertmanagerServer]:
    src = source(world)
    key = accounts.create_token(src.account.username, name="alertmanager").key
    server = AlertmanagerServer(f"{live_server.url}/api/v1/intake/alertmanager", key).start()
    yield server
    server.stop()


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 30, server: AlertmanagerServer | None = None
             ) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds} s for {what}" + (f"; Alertmanager said: {server.log()}" if server else ""))


def test_alertmanager_opens_an_incident_and_resolves_it_when_the_alerts_clear(alertmanager: AlertmanagerServer,
                                                                             world: World) -> None:
    f.make_service(world.it, "Payroll")
    start = datetime.now(UTC) - timedelta(minutes=1)
    labels = {"service": "payroll", "severity": "warning"}
    alertmanager.raise_alerts(
        {"labels": {"alertname": "PayrollSlow", "instance": "app1", **labels},
         "annotations": {"summary": "Payroll answers slowly"}, "startsAt": instant(start)},
        {"labels": {"alertname": "PayrollSlow", "instance": "app2", **labels},
         "annotations": {"summary": "Payroll answers slowly"}, "startsAt": instant(start)},
    )
    incident = wait_for(lambda: Ticket.objects.filter(channel=Channel.MONITORING).first(), "the incident",
                        server=alertmanager)
    wait_for(lambda: Alert.objects.filter(ticket=incident).count() == 2, "both alerts on the incident")
    assert incident.title == "PayrollSlow: Payroll answers slowly" and incident.service.name == "Payroll"
    assert Ticket.objects.count() == 1  # one group (alertname, service): one incident

    end = datetime.now(UTC)
    alertmanager.raise_alerts(*({"labels": {"alertname": "PayrollSlow", "instance": i, **labels},
                                 "annotations": {"summary": "Payroll answers slowly"}, "startsAt": instant(start),
                                 "endsAt": instant(end)} for i in ("app1", "app2")))
    wait_for(lambda: Ticket.objects.get(pk=incident.pk).state == State.RESOLVED, "the incident resolved")
    assert set(Alert.objects.values_list("status", flat=True)) == {"resolved"}


@pytest.mark.django_db
def test_a_storm_is_absorbed_in_batches_one_note_per_incident(world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    src = source(world)
    [number] = alerts.receive_alerts(src.account, payload(alert(fingerprint="first"))).opened

    def burst(count: int, offset: int) -> int:
        items = [alert(fingerprint=f"f{offset + n}", instance=f"node-{offset + n}") for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            outcome = alerts.receive_alerts(src.account, payload(*items, alert(fingerprint="first")))
        assert (outcome.added, outcome.repeated) == (count, 1)
        return len(queries)

    # Queries do not grow with the number of alerts in a notification: ten times the alerts, a few more inserts
    # (SQLite takes a bulk insert in chunks of its parameter limit) and nothing per alert.
    assert burst(200, 0) - burst(20, 1000) <= 3
    notes = list(Comment.objects.filter(ticket__number=number).order_by("pk").values_list("body", flat=True))
    assert len(notes) == 2  # one per notification, however many alerts joined
    assert "Also firing (200):" in notes[0] and "... and 180 more." in notes[0]
    assert Alert.objects.get(fingerprint="first").received == 3
