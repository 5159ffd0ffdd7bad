"""The engine on real history: the UCI ServiceNow incident event log (../shared/data), 24,918 incidents.

Each incident's events become phases; the time spent in "Awaiting ..." states is paused. The engine's business
time must agree with a plain sum over the same history, on a 24x7 clock and on office hours."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from outcomedesk.sla import engine
from outcomedesk.sla.calendar import Calendar, business_time_between, calendar_from_json
from outcomedesk.sla.engine import History, Phase, Rule

SHARED = Path(__file__).resolve().parents[2] / "shared"
LOG = SHARED / "data" / "servicenow_incident_event_log" / "incident_event_log.csv"
STATES = {
    "New": ("new", ""),
    "Active": ("in_progress", ""),
    "Awaiting User Info": ("pending", "requester"),
    "Awaiting Evidence": ("pending", "requester"),
    "Awaiting Vendor": ("pending", "vendor"),
    "Awaiting Problem": ("pending", "problem"),
    "Resolved": ("resolved", ""),
    "Closed": ("closed", ""),
}
PAUSING = frozenset({"requester", "vendor", "problem"})
ALWAYS = Calendar()
OFFICE = calendar_from_json({
    "timezone": "UTC",
    "hours": {d: [["08:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
})
NOW = datetime(2017, 1, 1, tzinfo=UTC)


def _when(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def histories() -> dict[str, History]:
    if not LOG.exists():
        pytest.skip(f"the shared dataset is not at {LOG}")
    events: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    opened: dict[str, datetime] = {}
    with LOG.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["incident_state"] not in STATES:
                continue  # "-100": five rows with no state
            number = row["number"]
            opened[number] = _when(row["opened_at"])
            events[number].append((_when(row["sys_updated_at"]), int(row["sys_mod_count"]), row["incident_state"]))
    out = {}
    for number, items in events.items():
        items.sort()
        start = opened[number]
        phases = [Phase(start, "new")]
        for at, _, state in items:
            name, reason = STATES[state]
            phases.append(Phase(max(at, start), name, reason))
        out[number] = History(tuple(phases))
    return out


def _reference(history: History, calendar: Calendar, pausing: frozenset[str]) -> tuple[timedelta, timedelta]:
    """(counted, paused) time of the resolution target by a plain walk over the phases: the last phase at an instant
    wins; awaiting and resolved-before-reopen pause; the final resolved or closed stretch stops the clock."""
    by_instant: dict[datetime, Phase] = {}
    for phase in history.phases:
        by_instant[phase.at] = phase
    phases = [by_instant[k] for k in sorted(by_instant)]
    stop = None
    for phase in reversed(phases):
        if phase.state in ("resolved", "closed"):
            stop = phase.at
        else:
            break
    end = stop or NOW
    counted = paused = timedelta(0)
    for i, phase in enumerate(phases):
        begin = phase.at
        finish = min(phases[i + 1].at if i + 1 < len(phases) else end, end)
        if finish <= begin:
            continue
        pauses = phase.state in ("resolved", "closed") or (phase.state == "pending" and phase.pending_reason in pausing)
        if pauses:
            paused += finish - begin
        else:
            counted += business_time_between(calendar, begin, finish)
    return counted, paused


def _resolution(history: History, calendar: Calendar, pausing: frozenset[str]) -> engine.Measure:
    def rule_for(metric: str, group_id: int | None) -> Rule | None:
        return Rule(8 * 60, calendar, pausing, 75) if metric == "resolution" else None

    [measure] = engine.measure_ticket(history, rule_for, NOW)
    return measure


def test_the_log_has_the_awaiting_states(histories: dict[str, History]) -> None:
    assert len(histories) > 24_000
    waiting = [h for h in histories.values() if any(p.state == "pending" for p in h.phases)]
    assert len(waiting) > 3_000


def test_time_awaiting_is_paused_and_the_rest_counted_on_a_24x7_clock(histories: dict[str, History]) -> None:
    mismatches = []
    for number, history in histories.items():
        m = _resolution(history, ALWAYS, PAUSING)
        counted, paused = _reference(history, ALWAYS, PAUSING)
        end = m.stopped_at or NOW
        if m.elapsed != counted or m.elapsed + paused != end - history.opened_at:
            mismatches.append((number, m.elapsed, counted, paused))
    assert mismatches == []


def test_pausing_never_adds_time_and_awaiting_incidents_count_less(histories: dict[str, History]) -> None:
    less = 0
    for history in histories.values():
        with_pauses = _resolution(history, ALWAYS, PAUSING).elapsed
        without = _resolution(history, ALWAYS, frozenset()).elapsed
        assert with_pauses <= without
        less += with_pauses < without
    assert less > 3_000  # every incident that waited on someone, unless it waited for zero minutes


@pytest.mark.parametrize("sample", [7])
def test_office_hours_agree_with_a_sum_over_the_running_stretches(histories: dict[str, History], sample: int) -> None:
    mismatches = []
    for number in sorted(histories)[::sample]:
        history = histories[number]
        m = _resolution(history, OFFICE, PAUSING)
        counted, _ = _reference(history, OFFICE, PAUSING)
        if m.elapsed != counted or m.elapsed > _resolution(history, ALWAYS, PAUSING).elapsed:
            mismatches.append((number, m.elapsed, counted))
        if m.state in (engine.MET, engine.BREACHED):
            assert (m.state == engine.BREACHED) == (m.elapsed > m.target or m.stopped_at > m.deadline)  # type: ignore[operator]
    assert mismatches == []
