"""The targets of one ticket: the active policies matched against it (`PolicyBook`), its targets recomputed from
its history on every change (`on_ticket_changed`, connected in `SlaConfig.ready`; a ticket just opened from the
ticket in memory) and stored with their next check, and the engine's view of a stored target (`measure_from_row`)
that the sweep and bulk recomputes share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from outcomedesk.core import clock
from outcomedesk.core.config_cache import ConfigCache
from outcomedesk.sla import engine
from outcomedesk.sla.calendar import Calendar
from outcomedesk.sla.history import build_history, history_of
from outcomedesk.sla.models import (
    KIND_METRICS,
    BusinessCalendar,
    EscalationFiring,
    EscalationRule,
    PolicyKind,
    PolicyTarget,
    SlaPolicy,
    TicketTarget,
    pauses_to_json,
)
from outcomedesk.sla.services.configuration import UTC_24X7, calendar_of
from outcomedesk.tickets.models import Ticket

# --- matching ----------------------------------------------------------------------------------------------

@dataclass
class PolicyBook:
    """The active policies with their targets and rules, loaded once per refresh or per bulk run."""

    policies: list[SlaPolicy]
    targets: dict[int, list[PolicyTarget]]
    rules: list[EscalationRule]

    @classmethod
    def load(cls) -> PolicyBook:
        policies = list(SlaPolicy.objects.filter(is_active=True).select_related("calendar").order_by("order", "pk"))
        targets: dict[int, list[PolicyTarget]] = {}
        for t in PolicyTarget.objects.filter(policy__is_active=True):
            targets.setdefault(t.policy_id, []).append(t)
        rules = list(EscalationRule.objects.filter(is_active=True).order_by("at_percent", "pk"))
        return cls(policies, targets, rules)

    def matching(self, ticket: Ticket, kind: str, group_id: int | None = None) -> SlaPolicy | None:
        vip = ticket.requester.is_vip
        for p in self.policies:
            if p.kind != kind:
                continue
            if p.desk_id and p.desk_id != ticket.desk_id:
                continue
            if p.service_id and p.service_id != ticket.service_id:
                continue
            if p.ticket_type and p.ticket_type != ticket.type:
                continue
            if p.priorities and ticket.priority not in p.priorities:
                continue
            if p.vip is not None and p.vip != vip:
                continue
            if p.channel and p.channel != ticket.channel:
                continue
            if kind == PolicyKind.OLA and p.group_id and p.group_id != group_id:
                continue
            return p
        return None

    def minutes(self, policy: SlaPolicy, metric: str, priority: int) -> int | None:
        default = None
        for t in self.targets.get(policy.pk, ()):
            if t.metric != metric:
                continue
            if t.priority == priority:
                return t.minutes
            if t.priority is None:
                default = t.minutes
        return default

    def rule(self, policy: SlaPolicy, metric: str, priority: int) -> engine.Rule | None:
        minutes = self.minutes(policy, metric, priority)
        if minutes is None:
            return None
        stops = {engine.RESPONSE: policy.response_stops_on, engine.RESOLUTION: policy.resolution_stops_on}
        return engine.Rule(minutes, calendar_of(policy.calendar), frozenset(policy.pause_reasons),
                           policy.at_risk_percent, policy.pk, f"{policy.name}, P{priority}",
                           starts=policy.starts_on, stops=stops.get(metric, ""))

    def rule_for(self, ticket: Ticket) -> Callable[[str, int | None], engine.Rule | None]:
        kinds = {m: k for k, metrics in KIND_METRICS.items() for m in metrics}
        found: dict[tuple[str, int | None], SlaPolicy | None] = {}

        def lookup(metric: str, group_id: int | None) -> engine.Rule | None:
            kind = kinds[metric]
            key = (kind, group_id if kind == PolicyKind.OLA else None)
            if key not in found:
                found[key] = self.matching(ticket, kind, group_id)
            policy = found[key]
            return self.rule(policy, metric, ticket.priority) if policy else None

        return lookup

    def escalations(self, policy_id: int | None, metric: str) -> list[EscalationRule]:
        return [r for r in self.rules if (r.policy_id in (None, policy_id)) and r.metric in ("", metric)]


# The book every ticket change reads: kept per process until a policy, target, rule or calendar changes
# (core.config_cache). Shared by the process's threads: read it, never change it. Bulk jobs load their own.
BOOK = ConfigCache("sla_policies", PolicyBook.load, [SlaPolicy, PolicyTarget, EscalationRule, BusinessCalendar])


# --- targets of one ticket ---------------------------------------------------------------------------------

_deferred: ContextVar[set[int] | None] = ContextVar("outcomedesk_sla_deferred", default=None)


@contextmanager
def deferred(now: datetime | None = None) -> Iterator[set[int]]:
    """Inside the block, ticket changes only note the ticket; its targets are refreshed once at the end (the demo
    and history imports replay many changes of one ticket, and the result is the same)."""
    pending: set[int] = set()
    token = _deferred.set(pending)
    try:
        yield pending
    finally:
        _deferred.reset(token)
    ids = sorted(pending)
    book = PolicyBook.load()
    for start in range(0, len(ids), 500):
        with transaction.atomic():  # one commit per batch, not per ticket
            for pk in ids[start:start + 500]:
                refresh_ticket(pk, now=now, book=book)


def on_ticket_changed(ticket: Ticket, now: datetime, created: bool = False, **_: Any) -> None:
    pending = _deferred.get()
    if pending is not None:
        pending.add(ticket.pk)
        return
    if created:
        start_targets(ticket, now)
        return
    refresh_ticket(ticket.pk, now=now)


def refresh_ticket(ticket: Ticket | int, *, now: datetime | None = None, book: PolicyBook | None = None
                   ) -> list[TicketTarget]:
    """Recompute every target of a ticket from its history (the same maths as a replay) and store them."""
    now = now or clock.now()
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    row = Ticket.objects.select_related("requester").get(pk=pk)
    book = book or BOOK.get()
    measures = engine.measure_ticket(history_of(row), book.rule_for(row), now)
    return _store(row, measures, book, now)


def start_targets(ticket: Ticket, now: datetime) -> list[TicketTarget]:
    """The targets of a ticket just opened (saved in this transaction, its requester loaded), from the ticket in
    memory: its history is one phase from its opening, and it has no stored targets or firings yet, so nothing is
    read back or replayed. The same targets as `refresh_ticket`, written in one INSERT."""
    book = BOOK.get()
    current = {"state": ticket.state, "pending_reason": ticket.pending_reason, "group": ticket.group_id}
    responses = [ticket.first_response_at] if ticket.first_response_at else []
    history = build_history(ticket.opened_at, current, [], responses, {})
    rows = []
    for m in engine.measure_ticket(history, book.rule_for(ticket), now):
        row = TicketTarget(ticket=ticket, metric=m.metric, cycle=m.cycle)
        _fill(row, m, now)
        row.next_check_at = _next_check(m, book.escalations(m.rule.policy_id, m.metric), set(), now)
        rows.append(row)
    if rows:
        TicketTarget.objects.bulk_create(rows)
    return rows


def _store(ticket: Ticket, measures: list[engine.Measure], book: PolicyBook, now: datetime) -> list[TicketTarget]:
    with transaction.atomic():
        existing = {(t.metric, t.cycle): t for t in TicketTarget.objects.filter(ticket=ticket)}
        fired: dict[int, set[int]] = {}
        for target_id, rule_id in EscalationFiring.objects.filter(target__ticket=ticket).values_list(
                "target_id", "rule_id"):
            fired.setdefault(target_id, set()).add(rule_id)
        kept: list[TicketTarget] = []
        created: list[TicketTarget] = []
        for m in measures:
            row = existing.pop((m.metric, m.cycle), None) or TicketTarget(ticket=ticket, metric=m.metric, cycle=m.cycle)
            _fill(row, m, now)
            row.next_check_at = _next_check(m, book.escalations(m.rule.policy_id, m.metric),
                                            fired.get(row.pk or 0, set()), now)
            (kept if row.pk else created).append(row)
        if existing:
            TicketTarget.objects.filter(pk__in=[t.pk for t in existing.values()]).delete()
        if kept:
            TicketTarget.objects.bulk_update(kept, STORED_FIELDS)
        if created:
            TicketTarget.objects.bulk_create(created)
    return kept + created


STORED_FIELDS = ["policy", "group", "minutes", "state", "started_at", "stopped_at", "is_active", "deadline",
                 "at_risk_at", "breached_at", "paused_since", "pauses", "elapsed_seconds", "next_check_at",
                 "computed_at"]


def _fill(row: TicketTarget, m: engine.Measure, now: datetime) -> None:
    row.policy_id = m.rule.policy_id
    row.group_id = m.group_id
    row.minutes = m.rule.minutes
    row.state = m.state
    row.started_at, row.stopped_at = m.started_at, m.stopped_at
    row.is_active = m.is_active
    row.deadline, row.at_risk_at, row.breached_at = m.deadline, m.at_risk_at, m.breached_at
    row.paused_since = m.paused_since if m.is_active else None
    row.pauses = pauses_to_json(m.pauses) + (
        [[m.paused_since.isoformat(), None, m.paused_reason]] if m.paused_since and m.is_active else [])
    row.elapsed_seconds = int(m.elapsed.total_seconds())
    row.computed_at = now


def _next_check(m: engine.Measure, rules: list[EscalationRule], fired: set[int], now: datetime) -> datetime | None:
    """The next instant at which time alone changes something: at risk, breach, or an escalation due."""
    if not m.is_active:
        return None
    moments = []
    if m.state == engine.RUNNING and m.at_risk_at is not None:
        moments.append(m.at_risk_at)
    if m.state != engine.BREACHED and m.deadline is not None:
        moments.append(m.deadline)
    for rule in rules:
        if rule.pk in fired:
            continue
        instant = m.instant_at(rule.at_percent)
        if instant is not None:
            moments.append(instant)
    return min(moments) if moments else None


class StoredTarget(Protocol):
    """What the engine reads of a stored target: a TicketTarget, or a lighter row in bulk jobs."""

    metric: str
    cycle: int
    minutes: int
    policy_id: int | None
    group_id: int | None
    state: str
    started_at: datetime
    stopped_at: datetime | None
    pauses: list[list[Any]]


@dataclass
class _Row:
    pk: int
    ticket_id: int
    ticket__priority: int
    metric: str
    cycle: int
    policy_id: int | None
    group_id: int | None
    minutes: int
    state: str
    started_at: datetime
    stopped_at: datetime | None
    pauses: list[list[Any]]


def _sql_instant() -> Callable[[datetime | None], Any]:
    """Instants for raw SQL, in the ORM's own format: SQLite compares them as text."""
    if connection.vendor != "sqlite":
        return lambda value: value
    utc = ZoneInfo("UTC")

    def text(value: datetime | None) -> str | None:
        return None if value is None else str(value.astimezone(utc).replace(tzinfo=None))

    return text


def measure_from_row(row: StoredTarget, calendar: Calendar, pause_reasons: frozenset[str] = frozenset(),
                     at_risk_percent: int = 75, label: str = "") -> engine.Measure:
    """The engine's view of a stored target, for time-only changes (the sweep, a calendar fix)."""
    rule = engine.Rule(row.minutes, calendar, pause_reasons, at_risk_percent, row.policy_id, label)
    m = engine.Measure(row.metric, row.cycle, rule, row.started_at, stopped_at=row.stopped_at,
                       cancelled=row.state == engine.CANCELLED_TARGET, group_id=row.group_id)
    for begin, end, why in row.pauses:
        if end is None:
            m.paused_since, m.paused_reason = datetime.fromisoformat(begin), why
        else:
            m.pauses.append((datetime.fromisoformat(begin), datetime.fromisoformat(end), why))
    return m


def explain_target(row: TicketTarget, now: datetime | None = None) -> list[str]:
    """The target's explanation, as the engine computes it now."""
    now = now or clock.now()
    policy = row.policy
    m = measure_from_row(row, calendar_of(policy.calendar) if policy else UTC_24X7,
                         frozenset(policy.pause_reasons) if policy else frozenset(),
                         policy.at_risk_percent if policy else 75, label=policy.name if policy else "")
    engine.evaluate(m, now)
    return engine.explain(m, now)


def timeline(ticket: Ticket, now: datetime | None = None) -> list[dict[str, Any]]:
    """Running, paused and breached intervals of each target of a ticket, replayed from its history."""
    now = now or clock.now()
    row = Ticket.objects.select_related("requester").get(pk=ticket.pk)
    book = PolicyBook.load()
    out = []
    for m in engine.measure_ticket(history_of(row), book.rule_for(row), now):
        out.append({"metric": m.metric, "cycle": m.cycle, "state": m.state, "deadline": m.deadline,
                    "intervals": engine.intervals(m, now), "explanation": engine.explain(m, now)})
    return out
