"""Done when: after importing the ServiceNow log, `insights report` gives the figures an independent computation
from the CSV gives (volume, MTTR mean/median/p90, SLA compliance, reopen and first-touch rates, by priority).

The independent computation below reads the CSV with the csv module and applies METRICS.md's rules for
imported history directly (one record per number, the latest event wins: highest sys_mod_count, then latest
sys_updated_at, then the later row), with the standard library's statistics for the median and the p90. It
shares no code with the importer or the figures."""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from outcomedesk.accounts.models import AssignmentGroup, User
from outcomedesk.accounts.services import create_desk
from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets.eventlog import import_events
from outcomedesk.tickets.eventlog_formats import SERVICENOW
from outcomedesk.tickets.models import Category, NumberSequence, Ticket

SHARED = Path(__file__).resolve().parents[2] / "shared"
LOG = SHARED / "data" / "servicenow_incident_event_log" / "incident_event_log.csv"
KNOWN_STATES = {"New", "Active", "Awaiting User Info", "Awaiting Evidence", "Awaiting Vendor", "Awaiting Problem",
                "Resolved", "Closed"}

pytestmark = [
    pytest.mark.skipif(not LOG.exists(), reason=f"{LOG} is absent (the shared data folder is not beside the clone)"),
    pytest.mark.django_db,
]


def _time(text: str) -> datetime | None:
    if text == "?":
        return None
    day, clock = text.split(" ")
    d, m, y = (int(x) for x in day.split("/"))
    hh, mm = (int(x) for x in clock.split(":"))
    return datetime(y, m, d, hh, mm)


def _latest_records() -> dict[str, dict[str, str]]:
    latest: dict[str, tuple[tuple[int, datetime, int], dict[str, str]]] = {}
    with LOG.open(newline="", encoding="utf-8-sig") as handle:
        for position, row in enumerate(csv.DictReader(handle)):
            if row["incident_state"] not in KNOWN_STATES:  # rows the importer rejects (state -100)
                continue
            updated = _time(row["sys_updated_at"])
            assert updated is not None
            key = (int(row["sys_mod_count"]), updated, position)
            if row["number"] not in latest or key > latest[row["number"]][0]:
                latest[row["number"]] = (key, row)
    return {number: row for number, (_, row) in latest.items()}


def _p90(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def expected(records: dict[str, dict[str, str]], start: datetime, end: datetime) -> dict[Any, dict[str, Any]]:
    """Figures per priority (and "all") over the period [start, end), from the raw rows."""
    groups: dict[Any, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for row in records.values():
        priority = int(row["priority"].split(" ")[0])
        opened, resolved, closed = _time(row["opened_at"]), _time(row["resolved_at"]), _time(row["closed_at"])
        assert opened is not None
        for key in ("all", priority):
            group = groups[key]
            if start <= opened < end:
                group["opened"].append(row["number"])
            if resolved is not None and start <= resolved < end:
                group["hours"].append((resolved - opened).total_seconds() / 3600)
                group["reopened"].append(int(row["reopen_count"]) > 0)
                group["first_touch"].append(int(row["reassignment_count"]) == 0)
            completed = resolved or closed
            if completed is not None and start <= completed < end:
                group["made_sla"].append(row["made_sla"] == "true")
    result = {}
    for key, group in groups.items():
        hours = group["hours"]
        result[key] = {
            "ticket_volume": len(group["opened"]),
            "mttr.mean_hours": statistics.fmean(hours) if hours else None,
            "mttr.median_hours": statistics.median(hours) if hours else None,
            "mttr.p90_hours": _p90(hours) if hours else None,
            "sla_compliance.overall": (sum(group["made_sla"]) / len(group["made_sla"])) if group["made_sla"] else None,
            "reopen_rate": (sum(group["reopened"]) / len(hours)) if hours else None,
            "first_touch_resolution_rate": (sum(group["first_touch"]) / len(hours)) if hours else None,
        }
    return result


def _figure(figures: dict[str, Any], dotted: str) -> Any:
    value: Any = figures
    for part in dotted.split("."):
        value = value[part]
    return value


def _compare(report: dict[str, Any], want: dict[Any, dict[str, Any]]) -> None:
    got = {"all": report["figures"], **{g["key"]: g["figures"] for g in report["by"]["groups"]}}
    assert set(got) == set(want), "the same priorities"
    for key, figures in want.items():
        for name, value in figures.items():
            actual = _figure(got[key], name)
            if value is None:
                assert actual is None, (key, name)
            else:
                assert actual == pytest.approx(value, rel=1e-6, abs=1e-6), (key, name, actual, value)


@pytest.fixture(scope="module")
def imported(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, dict[str, str]]]:
    with django_db_blocker.unblock():
        sequences = {s.prefix: s.last for s in NumberSequence.objects.all()}
        desk = create_desk("snow", "ServiceNow history")
        report = import_events(LOG, SERVICENOW, desk, time_zone="UTC")
        assert report.imported == 24918
        assert [r.reason for r in report.rejected] == ["unknown state '-100'"] * 5
        try:
            yield _latest_records()
        finally:
            ids = list(Ticket.objects.filter(desk=desk).values_list("pk", flat=True))
            AuditEvent.objects.filter(object_type="ticket", object_id__in=ids).delete()
            Ticket.objects.filter(desk=desk).delete()
            Category.objects.filter(desk=desk).delete()
            AssignmentGroup.objects.filter(desk=desk).delete()
            User.objects.filter(username__startswith="servicenow-").delete()
            desk.delete()
            NumberSequence.objects.exclude(prefix__in=sequences).delete()
            for prefix, last in sequences.items():
                NumberSequence.objects.filter(prefix=prefix).update(last=last)


def _report(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("insights", "report", *args, "--desk", "snow", "--by", "priority", "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_whole_log_matches_an_independent_computation(imported: dict[str, dict[str, str]]) -> None:
    report = _report("--from", "2016-01-01", "--to", "2017-12-31")
    want = expected(imported, datetime(2016, 1, 1), datetime(2018, 1, 1))
    assert want["all"]["ticket_volume"] == 24918
    _compare(report, want)


def test_a_month_matches_and_its_previous_month_too(imported: dict[str, dict[str, str]]) -> None:
    report = _report("--from", "2016-04")
    _compare(report, expected(imported, datetime(2016, 4, 1), datetime(2016, 5, 1)))
    assert report["previous_period"]["from"] == "2016-03-01"
    before = expected(imported, datetime(2016, 3, 1), datetime(2016, 4, 1))
    assert report["previous"]["ticket_volume"] == before["all"]["ticket_volume"]
    assert report["previous"]["mttr"]["median_hours"] == pytest.approx(before["all"]["mttr.median_hours"])


def test_the_import_keeps_the_state_history_and_reimport_changes_nothing(
    imported: dict[str, dict[str, str]],
) -> None:
    ticket = Ticket.objects.get(external_ref="servicenow:INC0000045")
    states = list(AuditEvent.objects.filter(object_type="ticket", object_id=ticket.pk, field="state")
                  .order_by("at", "pk").values_list("new_value", flat=True))
    assert states == ["resolved", "closed"]
    assert ticket.state == "closed" and ticket.imported_sla_met is True
    desk = ticket.desk
    count, events = Ticket.objects.count(), AuditEvent.objects.count()
    again = import_events(LOG, SERVICENOW, desk, time_zone="UTC")
    assert (again.imported, again.skipped) == (0, 24918)
    assert (Ticket.objects.count(), AuditEvent.objects.count()) == (count, events)
