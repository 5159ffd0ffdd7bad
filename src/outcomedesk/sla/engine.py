"""The SLA engine: every target of a ticket, derived from the ticket's history. Pure functions; `now` is given.

A ticket's history is a sequence of phases (state, pending reason, group, each from an instant on) plus the
instants of the agents' public replies. The live path and the replay after a policy or calendar fix both call
`measure_ticket` on a history, so a repaired target is exactly what the live engine would have computed.

Metrics:
- response: from opening to the first agent reply (resolving also answers; cancelling cancels it);
- resolution: from opening to resolution; a reopen resumes it, the resolved time counting as a pause;
- next_update: from each agent reply to the next one (or to resolution);
- group_hold (OLA): each stretch one assignment group holds the open ticket;
- vendor_pending (underpinning contract): each stretch the ticket is pending on a vendor.
Pauses are the phases pending with a reason the policy pauses on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from outcomedesk.sla.calendar import Calendar, Span, add_business_time, business_time_between, explain_deadline

OPEN_STATES = frozenset({"new", "assigned", "in_progress", "pending"})
MET_STATES = frozenset({"resolved", "closed"})
TAKEN_STATES = frozenset({"assigned", "in_progress", "pending"})
CANCELLED = "cancelled"

RESPONSE, RESOLUTION, NEXT_UPDATE, GROUP_HOLD, VENDOR_PENDING = (
    "response", "resolution", "next_update", "group_hold", "vendor_pending",
)
METRICS = (RESPONSE, RESOLUTION, NEXT_UPDATE, GROUP_HOLD, VENDOR_PENDING)
METRIC_LABELS = {
    RESPONSE: "First response",
    RESOLUTION: "Resolution",
    NEXT_UPDATE: "Next update",
    GROUP_HOLD: "Group hold (OLA)",
    VENDOR_PENDING: "Vendor (underpinning contract)",
}

RUNNING, PAUSED, AT_RISK, BREACHED, MET, CANCELLED_TARGET = (
    "running", "paused", "at_risk", "breached", "met", "cancelled",
)
ACTIVE_STATES = (RUNNING, PAUSED, AT_RISK, BREACHED)  # with no stop yet, a breached target still runs
TARGET_STATES = (RUNNING, PAUSED, AT_RISK, BREACHED, MET, CANCELLED_TARGET)


@dataclass(frozen=True)
class Phase:
    """The ticket from `at` until the next phase."""

    at: datetime
    state: str
    pending_reason: str = ""
    group_id: int | None = None


@dataclass(frozen=True)
class History:
    """What the SLA engine needs to know of a ticket: its phases in order and the agents' public replies."""

    phases: tuple[Phase, ...]
    responses: tuple[datetime, ...] = ()

    @property
    def opened_at(self) -> datetime:
        return self.phases[0].at


@dataclass(frozen=True)
class Rule:
    """How one metric of one ticket is measured: the target and the clock it runs on."""

    minutes: int
    calendar: Calendar
    pause_reasons: frozenset[str] = frozenset()
    at_risk_percent: int = 75
    policy_id: int | None = None
    label: str = ""
    starts: str = "opened"  # SLA clocks: "opened", or "assigned" (when the ticket first leaves New)
    stops: str = ""  # response: "reply" (default) or "assigned"; resolution: "resolved" (default) or "closed"


Pause = tuple[datetime, datetime, str]  # begin, end, why


@dataclass
class Measure:
    """One target of one ticket as of `now`: the facts, then what follows from them."""

    metric: str
    cycle: int
    rule: Rule
    started_at: datetime
    stopped_at: datetime | None = None
    cancelled: bool = False
    group_id: int | None = None
    pauses: list[Pause] = field(default_factory=list)
    paused_since: datetime | None = None
    paused_reason: str = ""
    # derived by evaluate()
    deadline: datetime | None = None
    at_risk_at: datetime | None = None
    elapsed: timedelta = timedelta(0)
    state: str = RUNNING
    _instants: dict[float, datetime | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def target(self) -> timedelta:
        return timedelta(minutes=self.rule.minutes)

    @property
    def spans(self) -> list[Span]:
        return [(begin, end) for begin, end, _ in self.pauses]

    @property
    def is_active(self) -> bool:
        return self.stopped_at is None and not self.cancelled

    @property
    def remaining(self) -> timedelta:
        return self.target - self.elapsed

    @property
    def breached_at(self) -> datetime | None:
        return self.deadline if self.state == BREACHED else None

    def instant_at(self, percent: float) -> datetime | None:
        """When `percent` of the target will have elapsed; None while paused short of it (it is not known yet)."""
        if percent in self._instants:
            return self._instants[percent]
        found = self._instant_at(percent)
        self._instants[percent] = found
        return found

    def _instant_at(self, percent: float) -> datetime | None:
        needed = timedelta(seconds=self.rule.minutes * 60 * percent / 100)
        spans = self.spans
        if self.paused_since is not None:
            counted = business_time_between(self.rule.calendar, self.started_at, self.paused_since, spans)
            if counted < needed:
                return None
        return add_business_time(self.rule.calendar, self.started_at, needed, spans)


# --- from a history to measures ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Segment:
    begin: datetime
    end: datetime | None  # None: still going on
    phase: Phase


def _segments(history: History) -> list[_Segment]:
    phases = sorted(history.phases, key=lambda p: p.at)
    out = []
    for i, phase in enumerate(phases):
        end = phases[i + 1].at if i + 1 < len(phases) else None
        if end is not None and end <= phase.at:
            continue  # a phase replaced at the same instant
        out.append(_Segment(phase.at, end, phase))
    return out


def _pause_reason(phase: Phase, rule: Rule) -> str:
    if phase.state == "pending" and phase.pending_reason in rule.pause_reasons:
        return f"pending on {phase.pending_reason}"
    return ""


def _collect_pauses(measure: Measure, segments: Sequence[_Segment], until: datetime | None,
                    extra: Callable[[Phase], str] | None = None) -> None:
    """Fill the measure's pauses with the pausing segments within [start, until)."""
    for seg in segments:
        if seg.end is not None and seg.end <= measure.started_at:
            continue
        if until is not None and seg.begin >= until:
            break
        why = _pause_reason(seg.phase, measure.rule) or (extra(seg.phase) if extra else "")
        if not why:
            continue
        begin = max(seg.begin, measure.started_at)
        end = seg.end if until is None or seg.end is None else min(seg.end, until)
        if end is None:
            measure.paused_since, measure.paused_reason = begin, why
        elif measure.pauses and measure.pauses[-1][1] == begin and measure.pauses[-1][2] == why:
            measure.pauses[-1] = (measure.pauses[-1][0], end, why)
        elif end > begin:
            measure.pauses.append((begin, end, why))


def _final_stop(segments: Sequence[_Segment], stop_states: frozenset[str] = MET_STATES
                ) -> tuple[datetime | None, bool]:
    """When the ticket's last stretch in a stopping state began (None if it is not in one) and whether it ended
    cancelled; `stop_states` is resolved and closed, or closed alone."""
    last = segments[-1].phase.state
    if last == CANCELLED:
        stopping = frozenset({CANCELLED}) | stop_states
    elif last in stop_states:
        stopping = stop_states
    else:
        return None, False
    index = len(segments) - 1
    while index > 0 and segments[index - 1].phase.state in stopping:
        index -= 1
    return segments[index].begin, last == CANCELLED


def _start(segments: Sequence[_Segment], rule: Rule) -> datetime | None:
    """When an SLA clock starts: at opening, or (`starts="assigned"`) when the ticket first leaves New."""
    if rule.starts != "assigned":
        return segments[0].begin
    return next((seg.begin for seg in segments if seg.phase.state != "new"), None)


def _first_done_after(segments: Sequence[_Segment], after: datetime) -> tuple[datetime | None, bool]:
    for seg in segments:
        if (seg.end is None or seg.end > after) and seg.phase.state not in OPEN_STATES:
            return max(seg.begin, after), seg.phase.state == CANCELLED
    return None, False


def measure_ticket(
    history: History, rule_for: Callable[[str, int | None], Rule | None], now: datetime
) -> list[Measure]:
    """Every target of a ticket as of `now`. `rule_for(metric, group_id)` gives the rule or None (no target)."""
    segments = _segments(history)
    if not segments:
        return []
    opened = segments[0].begin
    measures: list[Measure] = []
    responses = sorted({r for r in history.responses if r >= opened})

    rule = rule_for(RESPONSE, None)
    start = _start(segments, rule) if rule is not None else None
    if rule is not None and start is not None:
        m = Measure(RESPONSE, 0, rule, start)
        done_at, cancelled = _first_done_after(segments, start)
        first = next((r for r in responses if r >= start), None)
        if rule.stops == "assigned":
            taken = next((max(seg.begin, start) for seg in segments if seg.phase.state in TAKEN_STATES
                          and (seg.end is None or seg.end > start)), None)
            first = min(t for t in (first, taken) if t is not None) if (first or taken) else None
        if first is not None and (done_at is None or first <= done_at):
            m.stopped_at = first
        elif done_at is not None:
            m.stopped_at, m.cancelled = done_at, cancelled
        _collect_pauses(m, segments, m.stopped_at)
        measures.append(m)

    rule = rule_for(RESOLUTION, None)
    start = _start(segments, rule) if rule is not None else None
    if rule is not None and start is not None:
        m = Measure(RESOLUTION, 0, rule, start)
        until_closed = rule.stops == "closed"
        m.stopped_at, m.cancelled = _final_stop(segments, frozenset({"closed"}) if until_closed else MET_STATES)
        # Time resolved before a reopen does not count: the requester was not waiting on the desk. A policy that
        # stops at closing counts the time resolved, since closing is what it measures.
        _collect_pauses(m, segments, m.stopped_at,
                        lambda p: "resolved" if p.state in MET_STATES and not until_closed else "")
        measures.append(m)

    rule = rule_for(NEXT_UPDATE, None)
    if rule is not None:
        for cycle, reply in enumerate(responses):
            m = Measure(NEXT_UPDATE, cycle, rule, reply)
            done_at, cancelled = _first_done_after(segments, reply)
            following = responses[cycle + 1] if cycle + 1 < len(responses) else None
            if following is not None and (done_at is None or following <= done_at):
                m.stopped_at = following
            elif done_at is not None:
                if done_at == reply:
                    continue  # a reply while resolved starts nothing
                m.stopped_at, m.cancelled = done_at, cancelled
            _collect_pauses(m, segments, m.stopped_at)
            measures.append(m)

    cycle = 0
    for begin, end, group_id, last in _runs(segments, lambda p: p.group_id if p.state in OPEN_STATES else None):
        rule = rule_for(GROUP_HOLD, group_id)
        if rule is None:
            continue
        m = Measure(GROUP_HOLD, cycle, rule, begin, group_id=group_id)
        m.stopped_at = end
        m.cancelled = end is not None and last is not None and last.state == CANCELLED
        _collect_pauses(m, segments, end)
        measures.append(m)
        cycle += 1

    vendor_runs = _runs(segments, lambda p: 1 if p.state == "pending" and p.pending_reason == "vendor" else None)
    rule = rule_for(VENDOR_PENDING, None) if vendor_runs else None
    if rule is not None:
        for cycle, (begin, end, _, _) in enumerate(vendor_runs):
            measures.append(Measure(VENDOR_PENDING, cycle, rule, begin, stopped_at=end))

    for m in measures:
        evaluate(m, now)
    return measures


def _runs(
    segments: Sequence[_Segment], key: Callable[[Phase], int | None]
) -> list[tuple[datetime, datetime | None, int, Phase | None]]:
    """Maximal stretches of segments with the same non-None key: (begin, end, key, the phase that ended it)."""
    runs: list[tuple[datetime, datetime | None, int, Phase | None]] = []
    current: tuple[datetime, int] | None = None
    for seg in segments:
        value = key(seg.phase)
        if current is not None and value != current[1]:
            runs.append((current[0], seg.begin, current[1], seg.phase))
            current = None
        if current is None and value is not None:
            current = (seg.begin, value)
    if current is not None:
        runs.append((current[0], None, current[1], None))
    return runs


def evaluate(m: Measure, now: datetime) -> Measure:
    """Fill in the deadline, the elapsed business time and the state of a measure as of `now`."""
    calendar, spans = m.rule.calendar, m.spans
    m._instants.clear()  # the facts may have changed since the last evaluation
    end = m.stopped_at or now
    if m.paused_since is not None and m.stopped_at is None:
        counted = business_time_between(calendar, m.started_at, m.paused_since, spans)
        m.elapsed = counted
        m.deadline = add_business_time(calendar, m.started_at, m.target, spans) if counted >= m.target else None
    else:
        m.elapsed = business_time_between(calendar, m.started_at, max(end, m.started_at), spans)
        m.deadline = add_business_time(calendar, m.started_at, m.target, spans)
    if m.deadline is not None:
        m._instants[100] = m.deadline
    m.at_risk_at = m.instant_at(m.rule.at_risk_percent)
    if m.cancelled:
        m.state = CANCELLED_TARGET
    elif m.stopped_at is not None:
        m.state = MET if m.deadline is not None and m.stopped_at <= m.deadline else BREACHED
    elif m.deadline is not None and now >= m.deadline:
        m.state = BREACHED
    elif m.paused_since is not None:
        m.state = PAUSED
    elif m.at_risk_at is not None and now >= m.at_risk_at:
        m.state = AT_RISK
    else:
        m.state = RUNNING
    return m


def intervals(m: Measure, now: datetime) -> list[tuple[datetime, datetime, str]]:
    """The target's life as (begin, end, running|paused|breached) stretches, up to its stop or `now`."""
    end = m.stopped_at or now
    pauses = list(m.pauses)
    if m.paused_since is not None and m.stopped_at is None:
        pauses.append((m.paused_since, now, m.paused_reason))
    cuts: list[tuple[datetime, datetime, str]] = []
    cursor = m.started_at
    for begin, finish, _ in sorted(pauses):
        if begin > cursor:
            cuts.append((cursor, min(begin, end), "running"))
        cuts.append((max(begin, cursor), min(finish, end), "paused"))
        cursor = max(cursor, finish)
    if cursor < end:
        cuts.append((cursor, end, "running"))
    out: list[tuple[datetime, datetime, str]] = []
    for begin, finish, kind in cuts:
        if finish <= begin:
            continue
        if kind == "running" and m.deadline is not None and finish > m.deadline:
            if begin < m.deadline:
                out.append((begin, m.deadline, "running"))
            out.append((max(begin, m.deadline), finish, "breached"))
        else:
            out.append((begin, finish, kind))
    return out


# --- explanations ------------------------------------------------------------------------------------------

def _hours(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes < 0:
        return "-" + _hours(-value)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def explain(m: Measure, now: datetime) -> list[str]:
    """Why a target is due when it is, in words: the start, each day counted, every pause, the outcome."""
    tz = m.rule.calendar.tz
    label = METRIC_LABELS.get(m.metric, m.metric)
    lines = [f"{label} target {_hours(m.target)}" + (f" ({m.rule.label})" if m.rule.label else "")]
    lines.append(f"started {m.started_at.astimezone(tz):%a %d %b %Y %H:%M %Z}")
    for begin, end, why in m.pauses:
        lines.append(f"paused {begin.astimezone(tz):%a %d %b %H:%M} to {end.astimezone(tz):%a %d %b %H:%M} "
                     f"({why}): not counted")
    if m.paused_since is not None and m.stopped_at is None:
        lines.append(f"paused since {m.paused_since.astimezone(tz):%a %d %b %H:%M} ({m.paused_reason}); "
                     f"{_hours(m.elapsed)} used, {_hours(max(m.remaining, timedelta(0)))} left when it resumes")
    if m.deadline is not None:
        _, days = explain_deadline(m.rule.calendar, m.started_at, m.target, m.spans)
        lines.extend(line for line in days[1:] if not line.startswith("paused "))
    if m.state == MET and m.stopped_at is not None:
        lines.append(f"met at {m.stopped_at.astimezone(tz):%a %d %b %Y %H:%M %Z} with "
                     f"{_hours(m.remaining)} to spare")
    elif m.state == BREACHED:
        late = (m.stopped_at or now) if m.deadline is None else m.deadline
        lines.append(f"breached at {late.astimezone(tz):%a %d %b %Y %H:%M %Z}"
                     + (f"; stopped {m.stopped_at.astimezone(tz):%a %d %b %H:%M}" if m.stopped_at else ""))
    elif m.state == CANCELLED_TARGET:
        lines.append("cancelled: the ticket was cancelled")
    elif m.state == AT_RISK and m.at_risk_at is not None:
        lines.append(f"at risk since {m.at_risk_at.astimezone(tz):%a %d %b %H:%M} "
                     f"({m.rule.at_risk_percent} % of the target used)")
    return lines
