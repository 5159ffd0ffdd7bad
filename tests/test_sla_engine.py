"""The SLA engine on histories, without a database: golden cases and properties against a minute-walking reference."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from outcomedesk.sla import engine
from outcomedesk.sla.calendar import Calendar, calendar_from_json
from outcomedesk.sla.engine import History, Phase, Rule

BERLIN = calendar_from_json({
    "timezone": "Europe/Berlin",
    "hours": {d: [["09:00", "12:00"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE", "subdiv": "BY"},
})
TZ = ZoneInfo("Europe/Berlin")
PAUSING = frozenset({"requester", "vendor"})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def rules(**minutes: int) -> engine.Callable[[str, int | None], Rule | None]:  # type: ignore[name-defined]
    def lookup(metric: str, group_id: int | None) -> Rule | None:
        value = minutes.get(metric)
        return Rule(value, BERLIN, PAUSING, 75, 1, "test") if value else None

    return lookup


def only(measures: list[engine.Measure], metric: str) -> engine.Measure:
    found = [m for m in measures if m.metric == metric]
    assert len(found) == 1, found
    return found[0]


def test_the_explained_example_due_tuesday_because_of_friday_weekend_holiday_and_a_pause() -> None:
    # Opened Fri 22 May 16:30; 1 h of Friday left; weekend; Whit Monday; paused Tue 09:00-11:00 on the requester.
    history = History((
        Phase(at("2026-05-22T16:30"), "new"),
        Phase(at("2026-05-26T09:00"), "pending", "requester"),
        Phase(at("2026-05-26T11:00"), "in_progress"),
    ))
    m = only(engine.measure_ticket(history, rules(resolution=180), at("2026-05-26T11:30")), "resolution")
    assert m.deadline == at("2026-05-26T14:00")  # 1 h Fri + 11:00-12:00 + 13:00-14:00
    assert m.state == engine.RUNNING
    text = "\n".join(engine.explain(m, at("2026-05-26T11:30")))
    assert "started Fri 22 May 2026 16:30" in text
    assert "Mon 25 May: holiday" in text
    assert "Sat 23 May: not a working day" in text
    assert "paused Tue 26 May 09:00 to Tue 26 May 11:00 (pending on requester)" in text


def test_a_pause_that_spans_a_weekend_counts_nothing_of_it() -> None:
    history = History((
        Phase(at("2026-06-05T10:00"), "new"),  # Friday
        Phase(at("2026-06-05T15:00"), "pending", "vendor"),
        Phase(at("2026-06-08T10:00"), "in_progress"),  # Monday
    ))
    m = only(engine.measure_ticket(history, rules(resolution=8 * 60), at("2026-06-08T10:00")), "resolution")
    # Fri 10-12, 13-15 = 4 h; then Mon from 10:00: 10-12, 13-15 = 4 h.
    assert m.deadline == at("2026-06-08T15:00")
    assert m.pauses == [(at("2026-06-05T15:00"), at("2026-06-08T10:00"), "pending on vendor")]


def test_pending_on_a_reason_the_policy_does_not_pause_on_keeps_the_clock_running() -> None:
    history = History((Phase(at("2026-06-03T09:00"), "new"), Phase(at("2026-06-03T10:00"), "pending", "change")))
    m = only(engine.measure_ticket(history, rules(resolution=120), at("2026-06-03T10:30")), "resolution")
    assert m.pauses == [] and m.paused_since is None
    assert m.deadline == at("2026-06-03T11:00")


def test_a_priority_change_mid_flight_recomputes_from_the_original_start_keeping_every_pause() -> None:
    history = History((
        Phase(at("2026-06-03T09:00"), "new"),
        Phase(at("2026-06-03T10:00"), "pending", "requester"),
        Phase(at("2026-06-03T14:00"), "in_progress"),
    ))
    before = only(engine.measure_ticket(history, rules(resolution=16 * 60), at("2026-06-03T15:00")), "resolution")
    # The priority rises: the policy's target for the new priority is 4 h, counted from 09:00 with the pause.
    after = only(engine.measure_ticket(history, rules(resolution=4 * 60), at("2026-06-03T15:00")), "resolution")
    assert before.pauses == after.pauses == [(at("2026-06-03T10:00"), at("2026-06-03T14:00"), "pending on requester")]
    assert after.elapsed == before.elapsed == timedelta(hours=2)  # 09-10 and 14-15
    assert after.deadline == at("2026-06-03T17:00")  # 2 h used, 2 h left from 15:00
    assert after.state == engine.RUNNING


def test_a_policy_change_after_a_pause_keeps_the_pause() -> None:
    history = History((
        Phase(at("2026-06-01T09:00"), "new"),
        Phase(at("2026-06-01T10:00"), "pending", "requester"),
        Phase(at("2026-06-02T09:00"), "in_progress"),
    ))
    other_calendar = Calendar("Europe/Berlin")  # the new policy runs 24x7

    def new_policy(metric: str, group_id: int | None) -> Rule | None:
        return Rule(180, other_calendar, PAUSING, 75, 2) if metric == "resolution" else None

    m = only(engine.measure_ticket(history, new_policy, at("2026-06-02T09:30")), "resolution")
    # 1 h before the pause, 2 h after it: the night of the pause is not counted even on 24x7.
    assert m.deadline == at("2026-06-02T11:00")


def test_reopen_after_resolution_resumes_the_target_without_counting_the_resolved_time() -> None:
    history = History((
        Phase(at("2026-06-09T09:00"), "in_progress"),
        Phase(at("2026-06-09T10:00"), "resolved"),
        Phase(at("2026-06-10T09:00"), "in_progress"),
    ))
    m = only(engine.measure_ticket(history, rules(resolution=120), at("2026-06-10T09:10")), "resolution")
    assert m.is_active and m.state == engine.RUNNING
    assert m.pauses == [(at("2026-06-09T10:00"), at("2026-06-10T09:00"), "resolved")]
    assert m.deadline == at("2026-06-10T10:00")


def test_corpus_christi_is_a_holiday_in_bavaria() -> None:
    history = History((Phase(at("2026-06-03T17:00"), "new"),))
    m = only(engine.measure_ticket(history, rules(resolution=60), at("2026-06-03T17:00")), "resolution")
    assert m.deadline == at("2026-06-05T09:30")  # Wed 17:00-17:30, Thu 4 June off, Fri 09:00-09:30


def test_resolution_after_the_deadline_is_breached_and_before_it_met() -> None:
    base = (Phase(at("2026-06-03T09:00"), "new"),)
    late = History((*base, Phase(at("2026-06-03T12:30"), "resolved"), Phase(at("2026-06-06T12:30"), "closed")))
    early = History((*base, Phase(at("2026-06-03T10:30"), "resolved")))
    now = at("2026-06-08T09:00")
    assert only(engine.measure_ticket(late, rules(resolution=120), now), "resolution").state == engine.BREACHED
    met = only(engine.measure_ticket(early, rules(resolution=120), now), "resolution")
    assert met.state == engine.MET and met.stopped_at == at("2026-06-03T10:30")


def test_cancelling_cancels_the_targets() -> None:
    history = History((Phase(at("2026-06-03T09:00"), "new"), Phase(at("2026-06-03T09:10"), "cancelled")))
    measures = engine.measure_ticket(history, rules(response=60, resolution=120), at("2026-06-03T12:00"))
    assert {m.state for m in measures} == {engine.CANCELLED_TARGET}


def test_response_stops_at_the_first_agent_reply_and_next_update_runs_between_replies() -> None:
    history = History(
        (Phase(at("2026-06-03T09:00"), "new"), Phase(at("2026-06-03T09:20"), "in_progress")),
        responses=(at("2026-06-03T09:20"), at("2026-06-03T11:00"), at("2026-06-03T16:00")),
    )
    measures = engine.measure_ticket(history, rules(response=30, next_update=120), at("2026-06-03T16:30"))
    response = only(measures, "response")
    assert response.state == engine.MET and response.stopped_at == at("2026-06-03T09:20")
    updates = [m for m in measures if m.metric == "next_update"]
    assert [(m.cycle, m.state) for m in updates] == [(0, "met"), (1, "breached"), (2, "running")]
    assert updates[1].deadline == at("2026-06-03T14:00")  # 11-12 and 13-14


def test_at_risk_after_the_configured_share_and_breached_after_the_deadline() -> None:
    history = History((Phase(at("2026-06-03T09:00"), "new"),))
    m = only(engine.measure_ticket(history, rules(resolution=120), at("2026-06-03T10:29")), "resolution")
    assert m.state == engine.RUNNING and m.at_risk_at == at("2026-06-03T10:30")
    assert engine.evaluate(m, at("2026-06-03T10:30")).state == engine.AT_RISK
    assert engine.evaluate(m, at("2026-06-03T11:00")).state == engine.BREACHED


def test_paused_short_of_the_target_has_no_deadline_until_it_resumes() -> None:
    history = History((Phase(at("2026-06-03T09:00"), "new"), Phase(at("2026-06-03T10:00"), "pending", "requester")))
    m = only(engine.measure_ticket(history, rules(resolution=120), at("2026-06-04T10:00")), "resolution")
    assert m.state == engine.PAUSED and m.deadline is None
    assert m.elapsed == timedelta(hours=1)
    assert m.instant_at(50) == at("2026-06-03T10:00")
    assert m.instant_at(100) is None


def test_each_hold_of_a_group_is_an_ola_cycle_and_vendor_pending_an_underpinning_contract() -> None:
    history = History((
        Phase(at("2026-06-09T09:00"), "assigned", group_id=1),
        Phase(at("2026-06-09T11:00"), "assigned", group_id=2),
        Phase(at("2026-06-09T11:30"), "pending", "vendor", group_id=2),
        Phase(at("2026-06-10T13:00"), "in_progress", group_id=2),
        Phase(at("2026-06-10T13:15"), "resolved", group_id=2),
    ))
    measures = engine.measure_ticket(history, rules(group_hold=60, vendor_pending=600), at("2026-06-11T09:00"))
    holds = [m for m in measures if m.metric == "group_hold"]
    assert [(m.group_id, m.state) for m in holds] == [(1, "breached"), (2, "met")]
    assert holds[1].elapsed == timedelta(minutes=45)  # the vendor wait paused group 2's OLA
    vendor = only(measures, "vendor_pending")
    assert vendor.elapsed == timedelta(hours=8) and vendor.state == engine.MET


def test_intervals_show_running_paused_and_breached_stretches() -> None:
    history = History((
        Phase(at("2026-06-03T09:00"), "new"),
        Phase(at("2026-06-03T09:30"), "pending", "requester"),
        Phase(at("2026-06-03T10:00"), "in_progress"),
    ))
    m = only(engine.measure_ticket(history, rules(resolution=60), at("2026-06-03T11:00")), "resolution")
    assert engine.intervals(m, at("2026-06-03T11:00")) == [
        (at("2026-06-03T09:00"), at("2026-06-03T09:30"), "running"),
        (at("2026-06-03T09:30"), at("2026-06-03T10:00"), "paused"),
        (at("2026-06-03T10:00"), at("2026-06-03T10:30"), "running"),
        (at("2026-06-03T10:30"), at("2026-06-03T11:00"), "breached"),
    ]


# --- properties ------------------------------------------------------------------------------------------

STATES = ["new", "in_progress", "pending:requester", "pending:vendor", "pending:change", "resolved"]


def _minutes_counted(cal: Calendar, history: History, now: datetime) -> int:
    """Reference: walk minute by minute, counting working minutes in which the ticket was open and not pausing."""
    phases = list(history.phases)
    count, moment = 0, phases[0].at
    stop = now
    if phases[-1].state == "resolved":
        stop = phases[-1].at
    while moment < stop:
        phase = [p for p in phases if p.at <= moment][-1]
        pausing = phase.state == "resolved" or (phase.state == "pending" and phase.pending_reason in PAUSING)
        local = moment.astimezone(cal.tz)
        minute = local.hour * 60 + local.minute
        working = any(a.hour * 60 + a.minute <= minute < (1440 if b.hour == 0 and b.minute == 0 else
                                                           b.hour * 60 + b.minute)
                      for a, b in cal.intervals_on(local.date()))
        if working and not pausing:
            count += 1
        moment += timedelta(minutes=1)
    return count


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 3, 20), max_value=datetime(2026, 11, 10)),
    steps=st.lists(st.tuples(st.integers(min_value=1, max_value=60 * 30), st.sampled_from(STATES)), max_size=6),
    target=st.integers(min_value=1, max_value=60 * 20),
)
def test_elapsed_and_deadline_agree_with_a_minute_walk(start: datetime, steps: list[tuple[int, str]],
                                                       target: int) -> None:
    moment = start.replace(second=0, microsecond=0, tzinfo=TZ).astimezone(ZoneInfo("UTC"))
    phases = [Phase(moment, "new")]
    for minutes, state in steps:
        moment += timedelta(minutes=minutes)
        name, _, reason = state.partition(":")
        if (name, reason) != (phases[-1].state, phases[-1].pending_reason):
            phases.append(Phase(moment, name, reason))
    history = History(tuple(phases))
    now = moment + timedelta(minutes=7)
    m = only(engine.measure_ticket(history, rules(resolution=target), now), "resolution")
    assert m.elapsed == timedelta(minutes=_minutes_counted(BERLIN, history, now))
    if m.deadline is not None:
        # The deadline is the instant when exactly `target` minutes were counted, for the history so far.
        if m.deadline <= (m.stopped_at or now) and m.paused_since is None:
            upto = History(tuple(p for p in phases if p.at < m.deadline))
            assert _minutes_counted(BERLIN, upto, m.deadline) == target
        assert m.state in (engine.BREACHED, engine.MET, engine.RUNNING, engine.AT_RISK, engine.PAUSED)
        assert (m.state == engine.BREACHED) == ((m.stopped_at or now) > m.deadline or
                                                (m.stopped_at is None and now >= m.deadline))


def test_a_clock_that_starts_at_assignment_and_a_response_that_stops_when_an_agent_takes_it() -> None:
    history = History((
        Phase(at("2026-06-09T09:00"), "new"),
        Phase(at("2026-06-09T10:00"), "assigned"),
        Phase(at("2026-06-09T10:20"), "in_progress"),
    ), responses=(at("2026-06-09T11:00"),))

    def rule_for(metric: str, group_id: int | None) -> Rule | None:
        stops = {"response": "assigned", "resolution": "resolved"}[metric] if metric in ("response", "resolution") \
            else ""
        return Rule(60, BERLIN, PAUSING, 75, 1, starts="assigned", stops=stops)

    measures = engine.measure_ticket(history, rule_for, at("2026-06-09T10:30"))
    response = only(measures, "response")
    assert response.started_at == at("2026-06-09T10:00") and response.stopped_at == at("2026-06-09T10:00")
    resolution = only(measures, "resolution")
    assert resolution.started_at == at("2026-06-09T10:00") and resolution.deadline == at("2026-06-09T11:00")
    waiting = History((Phase(at("2026-06-09T09:00"), "new"),))
    assert engine.measure_ticket(waiting, rule_for, at("2026-06-09T12:00")) == []  # not started yet


def test_a_resolution_that_stops_at_closing_counts_the_resolved_time() -> None:
    history = History((
        Phase(at("2026-06-09T09:00"), "in_progress"),
        Phase(at("2026-06-09T10:00"), "resolved"),
        Phase(at("2026-06-09T11:00"), "closed"),
    ))

    def rule_for(metric: str, group_id: int | None) -> Rule | None:
        return Rule(90, BERLIN, PAUSING, 75, 1, stops="closed") if metric == "resolution" else None

    m = only(engine.measure_ticket(history, rule_for, at("2026-06-09T12:00")), "resolution")
    assert m.stopped_at == at("2026-06-09T11:00") and m.state == engine.BREACHED
    default = only(engine.measure_ticket(history, rules(resolution=90), at("2026-06-09T12:00")), "resolution")
    assert default.stopped_at == at("2026-06-09T10:00") and default.state == engine.MET
