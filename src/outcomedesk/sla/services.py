"""Every change of service-level data goes through these functions: calendars, policies, escalation rules, and
the targets of tickets (refreshed on each ticket change, swept for escalations, recomputed, repaired)."""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.accounts.policy import Actor
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.core.parsing import as_id, as_int
from outcomedesk.sla import engine
from outcomedesk.sla.calendar import Calendar, CalendarError, calendar_from_json
from outcomedesk.sla.history import history_of
from outcomedesk.sla.models import (
    KIND_METRICS,
    BusinessCalendar,
    ClockStart,
    EscalationAction,
    EscalationFiring,
    EscalationRule,
    PolicyKind,
    PolicyTarget,
    ResolutionStop,
    ResponseStop,
    SlaPolicy,
    TicketTarget,
    pauses_to_json,
)
from outcomedesk.tickets.models import PendingReason, Priority, Ticket, TicketType

log = logging.getLogger(__name__)
UTC_24X7 = Calendar()


def _require_admin(actor: Actor) -> None:
    if not policy.can(actor, policy.ADMINISTER, policy.Capability.SERVICE_LEVELS):
        raise NotAllowed("only service managers and admins may change service levels")


# --- calendars ---------------------------------------------------------------------------------------------

def save_calendar(actor: Actor, name: str, definition: Any, *, calendar: BusinessCalendar | None = None
                  ) -> BusinessCalendar:
    """Create or replace a business calendar from its JSON form; nothing is stored if any part is wrong."""
    _require_admin(actor)
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "is required"
    elif BusinessCalendar.objects.filter(name=name).exclude(pk=calendar.pk if calendar else 0).exists():
        errors["name"] = f"a calendar named {name!r} exists"
    try:
        parsed = calendar_from_json(definition)
    except CalendarError as exc:
        errors[f"definition.{exc.field}" if exc.field != "calendar" else "definition"] = exc.message
    if errors:
        raise InvalidInput(errors)
    from outcomedesk.sla.calendar import calendar_to_json

    with transaction.atomic():
        row = calendar or BusinessCalendar()
        row.name, row.definition, row.updated_at = name, calendar_to_json(parsed), clock.now()
        row.save()
    _calendars.clear()
    return row


_calendars: dict[tuple[int, datetime], Calendar] = {}


def calendar_of(row: BusinessCalendar | None) -> Calendar:
    """The parsed calendar of a stored one, cached until it changes (parsing checks the holiday country)."""
    if row is None:
        return UTC_24X7
    key = (row.pk, row.updated_at)
    found = _calendars.get(key)
    if found is None:
        found = _calendars[key] = row.calendar()
    return found


# --- policies ----------------------------------------------------------------------------------------------

POLICY_FIELDS = ("name", "kind", "order", "is_active", "description", "desk", "service", "ticket_type", "priorities",
                 "vip", "channel", "group", "vendor", "calendar", "pause_reasons", "at_risk_percent", "starts_on",
                 "response_stops_on", "resolution_stops_on")
CLOCK_CHOICES = {"starts_on": ClockStart, "response_stops_on": ResponseStop, "resolution_stops_on": ResolutionStop}


def save_policy(actor: Actor, values: dict[str, Any], *, targets: list[dict[str, Any]] | None = None,
                policy: SlaPolicy | None = None) -> SlaPolicy:
    """Create or change a policy and (when given) replace its targets; the tickets it governs are recomputed
    by `repair_policy`, which the caller schedules (it can be long)."""
    _require_admin(actor)
    unknown = sorted(set(values) - set(POLICY_FIELDS))
    errors: dict[str, str] = {name: "is not a policy field" for name in unknown}
    row = policy or SlaPolicy(updated_at=clock.now())
    clean = {**{f: getattr(row, f) for f in ("name", "kind", "order", "is_active", "description", "ticket_type",
                                             "priorities", "vip", "channel", "vendor", "pause_reasons",
                                             "at_risk_percent", *CLOCK_CHOICES)}, **values}
    name = str(clean.get("name") or "").strip()
    if not name:
        errors["name"] = "is required"
    elif SlaPolicy.objects.filter(name=name).exclude(pk=row.pk).exists():
        errors["name"] = f"a policy named {name!r} exists"
    if clean["kind"] not in PolicyKind.values:
        errors["kind"] = f"must be one of {', '.join(PolicyKind.values)}"
    for clock_field, choices in CLOCK_CHOICES.items():
        if clean[clock_field] not in choices.values:
            errors[clock_field] = f"must be one of {', '.join(choices.values)}"
    if clean["ticket_type"] and clean["ticket_type"] not in TicketType.values:
        errors["ticket_type"] = f"must be one of {', '.join(TicketType.values)} or empty"
    priorities = clean.get("priorities") or []
    if not isinstance(priorities, list) or any(p not in Priority.values for p in priorities):
        errors["priorities"] = "must be a list of priorities 1 to 5"
    reasons = clean.get("pause_reasons") or []
    if not isinstance(reasons, list) or any(r not in PendingReason.values for r in reasons):
        errors["pause_reasons"] = f"must be a list of pending reasons: {', '.join(PendingReason.values)}"
    try:
        order = as_int(clean.get("order") or 0, minimum=0, maximum=1_000_000)
        if order is None:
            raise ValueError
    except ValueError:
        errors["order"] = "must be a whole number, 0 or more"
        order = 0
    try:
        at_risk = as_int(clean.get("at_risk_percent") or 0, minimum=1, maximum=99)
        if at_risk is None:
            raise ValueError
    except ValueError:
        errors["at_risk_percent"] = "must be 1 to 99"
        at_risk = 75
    refs: dict[str, Any] = {}
    for name_, model, label in (("desk", Desk, "desk"), ("service", BusinessService, "service"),
                                ("group", AssignmentGroup, "group"), ("calendar", BusinessCalendar, "calendar")):
        if name_ not in values:
            continue
        raw = values[name_]
        if raw in (None, ""):
            refs[name_] = None
            continue
        if isinstance(raw, model):
            refs[name_] = raw
            continue
        pk = as_id(str(raw))
        lookup = {"pk": pk} if pk is not None else {
            "desk": {"slug": str(raw)}, "service": {"slug": str(raw)}, "group": {"name": str(raw)},
            "calendar": {"name": str(raw)}}[name_]
        found = model.objects.filter(**lookup).first()
        if found is None:
            errors[name_] = f"no {label} {raw!r}"
        refs[name_] = found
    if targets is not None:
        errors.update(_check_targets(clean["kind"], targets))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        for f in ("kind", "is_active", "description", "ticket_type", "vip", "channel", "vendor", *CLOCK_CHOICES):
            setattr(row, f, clean[f])
        row.name, row.order, row.priorities, row.pause_reasons, row.at_risk_percent = (
            name, order, sorted(priorities), sorted(reasons), at_risk)
        for f, v in refs.items():
            setattr(row, f, v)
        row.updated_at = clock.now()
        row.save()
        if targets is not None:
            row.targets.all().delete()
            PolicyTarget.objects.bulk_create(
                PolicyTarget(policy=row, metric=t["metric"], priority=t.get("priority"), minutes=int(t["minutes"]))
                for t in targets
            )
    return row


def _check_targets(kind: str, targets: list[dict[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    seen = set()
    allowed = KIND_METRICS.get(kind, ())  # type: ignore[call-overload]
    for i, t in enumerate(targets):
        where = f"targets[{i}]"
        if not isinstance(t, dict):
            errors[where] = "expects {metric, priority, minutes}"
            continue
        if t.get("metric") not in allowed:
            errors[f"{where}.metric"] = f"must be one of {', '.join(allowed)} for a {kind} policy"
        priority = t.get("priority")
        if priority is not None and priority not in Priority.values:
            errors[f"{where}.priority"] = "must be 1 to 5 or empty (every priority)"
        minutes = t.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            errors[f"{where}.minutes"] = "must be a positive whole number of minutes"
        key = (t.get("metric"), priority)
        if key in seen:
            errors[where] = "repeats a metric and priority given before"
        seen.add(key)
    return errors


def save_escalation_rule(actor: Actor, values: dict[str, Any], *, rule: EscalationRule | None = None
                         ) -> EscalationRule:
    _require_admin(actor)
    errors: dict[str, str] = {}
    row = rule or EscalationRule()
    name = str(values.get("name", row.name) or "").strip()
    if not name:
        errors["name"] = "is required"
    action = values.get("action", row.action)
    if action not in EscalationAction.values:
        errors["action"] = f"must be one of {', '.join(EscalationAction.values)}"
    try:
        at_percent = as_int(values.get("at_percent", row.at_percent), minimum=1, maximum=1000)
        if at_percent is None:
            raise ValueError
    except ValueError:
        errors["at_percent"] = "must be 1 to 1000 (% of the target)"
        at_percent = 100
    metric = values.get("metric", row.metric) or ""
    if metric and metric not in engine.METRICS:
        errors["metric"] = f"must be one of {', '.join(engine.METRICS)} or empty"
    policy = values.get("policy", row.policy if rule else None)
    if policy not in (None, "") and not isinstance(policy, SlaPolicy):
        policy_id = as_id(str(policy))
        found = SlaPolicy.objects.filter(pk=policy_id).first() if policy_id is not None else \
            SlaPolicy.objects.filter(name=str(policy)).first()
        if found is None:
            errors["policy"] = f"no policy {policy!r}"
        policy = found
    group = values.get("reassign_to", row.reassign_to if rule else None)
    if group not in (None, "") and not isinstance(group, AssignmentGroup):
        group_id = as_id(str(group))
        found_group = AssignmentGroup.objects.filter(pk=group_id).first() if group_id is not None else \
            AssignmentGroup.objects.filter(name=str(group)).first()
        if found_group is None:
            errors["reassign_to"] = f"no group {group!r}"
        group = found_group
    if action == EscalationAction.REASSIGN and not group:
        errors["reassign_to"] = "name the group to reassign to"
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        row.name, row.action, row.at_percent, row.metric = name, action, at_percent, metric
        row.policy = policy or None
        row.reassign_to = group or None
        row.business_hours_only = bool(values.get("business_hours_only", row.business_hours_only))
        row.is_active = bool(values.get("is_active", row.is_active if rule else True))
        row.save()
        # Running targets learn of the new share through a recompute (chunked tasks): it stores the next check
        # with this rule in it, so targets already past the share fire it on the next sweep. Marking every
        # running target due instead would make that sweep walk all of them.
        schedule_recompute(policy=row.policy)
    return row


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


def on_ticket_changed(ticket: Ticket, now: datetime, **_: Any) -> None:
    pending = _deferred.get()
    if pending is not None:
        pending.add(ticket.pk)
        return
    refresh_ticket(ticket.pk, now=now)


def refresh_ticket(ticket: Ticket | int, *, now: datetime | None = None, book: PolicyBook | None = None
                   ) -> list[TicketTarget]:
    """Recompute every target of a ticket from its history (the same maths as a replay) and store them."""
    now = now or clock.now()
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    row = Ticket.objects.select_related("requester").get(pk=pk)
    book = book or PolicyBook.load()
    measures = engine.measure_ticket(history_of(row), book.rule_for(row), now)
    return _store(row, measures, book, now)


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


# --- the sweep ---------------------------------------------------------------------------------------------

def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class SweepResult:
    checked: int = 0
    fired: list[int] = field(default_factory=list)


def sweep(now: datetime | None = None, *, batch: int = 500, limit: int | None = None,
          deliver: bool = True) -> SweepResult:
    """Move targets whose time has come to at risk or breached and fire their due escalations, each once.

    Safe with any number of concurrent sweeps: on PostgreSQL each batch locks its rows and skips rows another
    sweep holds; on SQLite writers queue. The unique (target, rule) pair is the last guard either way."""
    now = now or clock.now()
    result = SweepResult()
    book = PolicyBook.load()
    policies = {p.pk: p for p in book.policies}
    while limit is None or result.checked < limit:
        with transaction.atomic():
            query = TicketTarget.objects.filter(is_active=True, next_check_at__lte=now).order_by("next_check_at")
            if connection.features.has_select_for_update_skip_locked:
                query = query.select_for_update(skip_locked=True)
            rows = list(query[:batch])
            if not rows:
                break
            fired_before: dict[int, set[int]] = {}
            for target_id, rule_id in EscalationFiring.objects.filter(target__in=rows).values_list(
                    "target_id", "rule_id"):
                fired_before.setdefault(target_id, set()).add(rule_id)
            actions: list[tuple[EscalationFiring, EscalationRule, TicketTarget]] = []
            for row in rows:
                result.checked += 1
                policy = policies.get(row.policy_id or 0)
                if policy is None:
                    row.next_check_at = None
                    row.save(update_fields=["next_check_at"])
                    continue
                m = measure_from_row(row, calendar_of(policy.calendar), frozenset(policy.pause_reasons),
                                     policy.at_risk_percent)
                engine.evaluate(m, now)
                rules = book.escalations(policy.pk, row.metric)
                fired = fired_before.get(row.pk, set())
                for rule in rules:
                    if rule.pk in fired:
                        continue
                    due = m.instant_at(rule.at_percent)
                    if due is None or due > now:
                        continue
                    firing = _fire(row, rule, due, policy, now)
                    fired.add(rule.pk)  # by this sweep or, if None, by another one
                    if firing is not None:
                        result.fired.append(firing.pk)
                        actions.append((firing, rule, row))
                row.state, row.breached_at, row.deadline, row.at_risk_at = m.state, m.breached_at, m.deadline, \
                    m.at_risk_at
                row.elapsed_seconds = int(m.elapsed.total_seconds())
                upcoming = _next_check(m, rules, fired, now)
                # Never due again within this sweep: a target it cannot settle waits for the next one.
                row.next_check_at = max(upcoming, now + timedelta(seconds=1)) if upcoming else None
                row.computed_at = now
                row.save(update_fields=["state", "breached_at", "deadline", "at_risk_at", "elapsed_seconds",
                                        "next_check_at", "computed_at"])
            # Changes to tickets come last: they refresh the ticket's targets, which then see the firings.
            for firing, rule, row in actions:
                _act(firing, rule, row)
    if result.fired and deliver:
        transaction.on_commit(lambda: _queue_delivery())
    return result


def _fire(row: TicketTarget, rule: EscalationRule, due: datetime, policy: SlaPolicy, now: datetime
          ) -> EscalationFiring | None:
    from outcomedesk.sla.calendar import next_working_instant

    notify_after = None
    if rule.business_hours_only and policy.calendar is not None:
        notify_after = next_working_instant(calendar_of(policy.calendar), now)
    try:
        with transaction.atomic():
            return EscalationFiring.objects.create(
                target=row, rule=rule, fired_at=now, due_at=due, notify_after=notify_after or now,
                worker=worker_name(),
            )
    except IntegrityError:
        return None  # another sweep fired it first


def _act(firing: EscalationFiring, rule: EscalationRule, row: TicketTarget) -> None:
    from outcomedesk.tickets.services import escalate_ticket

    label = f"{row.metric_label} target {rule.at_percent} % elapsed: escalation rule {rule.name!r}"
    if rule.action == EscalationAction.RAISE_PRIORITY:
        escalate_ticket(row.ticket_id, raise_priority=True, reason=label)
    elif rule.action == EscalationAction.REASSIGN and rule.reassign_to is not None:
        escalate_ticket(row.ticket_id, group=rule.reassign_to, reason=label)


def _queue_delivery() -> None:
    from outcomedesk.sla.tasks import deliver_escalations

    deliver_escalations.delay()


# --- notifications (an outbox: a firing is notified once, or again after a crash mid-way) ---------------------

CLAIM_LEASE = timedelta(minutes=5)


def deliver_escalations(now: datetime | None = None, *, limit: int = 500) -> int:
    """Send the e-mails of up to `limit` firings not notified yet whose time has come; returns how many were sent.

    A batch is claimed in one transaction (on PostgreSQL skipping rows another worker holds), so of several
    workers one sends each firing; a firing is marked notified right after its own e-mails, so a crash re-sends
    at most the one in flight, after the claim's lease."""
    from outcomedesk.sla import notifications

    now = now or clock.now()
    with transaction.atomic():
        due = EscalationFiring.objects.filter(notified_at__isnull=True, notify_after__lte=now).filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)).order_by("notify_after", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        EscalationFiring.objects.filter(pk__in=ids).update(claimed_at=now)
    firings = EscalationFiring.objects.filter(pk__in=ids).select_related(
        "rule", "target__ticket__desk", "target__ticket__assignee", "target__ticket__group", "target__policy")
    cache: dict[tuple[str, int], list[User]] = {}
    sent = 0
    for firing in firings.order_by("notify_after", "pk"):
        try:
            people = notifications.send_escalation(firing, cache)
        except Exception:
            log.exception("escalation notification %s failed; it will be retried", firing.pk)
            EscalationFiring.objects.filter(pk=firing.pk).update(claimed_at=None)
            continue
        EscalationFiring.objects.filter(pk=firing.pk).update(notified_at=clock.now(), recipients=people)
        sent += 1
    return sent


def deliver_all(now: datetime | None = None, *, batch: int = 500, rounds: int = 100) -> int:
    """Deliver batch after batch while there is more (up to `rounds` batches; the next sweep goes on)."""
    total = 0
    for _ in range(rounds):
        sent = deliver_escalations(now, limit=batch)
        total += sent
        if sent < batch:
            break
    return total


# --- recompute and repair ----------------------------------------------------------------------------------

UPDATE_TIMES = ("UPDATE {table} SET minutes = %s, state = %s, deadline = %s, at_risk_at = %s, breached_at = %s, "
                "elapsed_seconds = %s, next_check_at = %s, computed_at = %s WHERE id = %s")
# PostgreSQL: one statement per chunk with the rows as one JSON document (a round trip per row, or a parameter
# per value, costs more than the maths).
UPDATE_TIMES_PG = ("UPDATE {table} AS t SET minutes = v.m, state = v.s, deadline = v.d, at_risk_at = v.r, "
                   "breached_at = v.b, elapsed_seconds = v.e, next_check_at = v.n, computed_at = v.c "
                   "FROM json_to_recordset(%s::json) AS v(m integer, s varchar, d timestamptz, r timestamptz, "
                   "b timestamptz, e bigint, n timestamptz, c timestamptz, id bigint) WHERE t.id = v.id")
JSON_KEYS = ("m", "s", "d", "r", "b", "e", "n", "c", "id")


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{value!r} is not JSON")


def _write_times(updates: list[tuple[Any, ...]]) -> None:
    """Store recomputed times. Raw SQL: Django's bulk_update writes CASE expressions that cost more than the
    maths. The table name is the model's own; every value is a bound parameter."""
    table = TicketTarget._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = [dict(zip(JSON_KEYS, row, strict=True)) for row in updates]
            cursor.execute(UPDATE_TIMES_PG.format(table=table), [json.dumps(rows, default=_iso)])
        else:
            cursor.executemany(UPDATE_TIMES.format(table=table), updates)


def _active_targets(policy_id: int | None, calendar_id: int | None) -> QuerySet[TicketTarget]:
    query = TicketTarget.objects.filter(is_active=True, policy__isnull=False)
    if policy_id is not None:
        query = query.filter(policy_id=policy_id)
    if calendar_id is not None:
        query = query.filter(policy__calendar_id=calendar_id)
    return query


def recompute_chunks(*, policy: SlaPolicy | None = None, calendar: BusinessCalendar | None = None,
                     size: int = 50_000) -> list[tuple[int, int]]:
    """Primary-key ranges of about `size` running targets each, to recompute in parallel (one task per range)."""
    ids = _active_targets(policy.pk if policy else None, calendar.pk if calendar else None).order_by("pk")
    bounds = list(ids.values_list("pk", flat=True)[::size]) if size > 0 else []
    last = ids.values_list("pk", flat=True).last()
    if last is None:
        return []
    edges = [*bounds, last + 1]
    return list(itertools.pairwise(edges))


def schedule_recompute(*, policy: SlaPolicy | None = None, calendar: BusinessCalendar | None = None,
                       size: int = 50_000) -> int:
    """Queue the recompute as one Celery task per chunk, after commit: spread over the workers at scale, run
    in-process one after the other in the embedded default. Returns the number of chunks."""
    from outcomedesk.sla.tasks import recompute_targets

    chunks = recompute_chunks(policy=policy, calendar=calendar, size=size)
    policy_id, calendar_id = (policy.pk if policy else None), (calendar.pk if calendar else None)
    for low, high in chunks:
        transaction.on_commit(lambda low=low, high=high: recompute_targets.delay(  # type: ignore[misc]
            policy_id=policy_id, calendar_id=calendar_id, pk_from=low, pk_to=high))
    return len(chunks)


def recompute_active(*, policy: SlaPolicy | None = None, calendar: BusinessCalendar | None = None,
                     now: datetime | None = None, batch: int = 5000, pk_from: int = 0, pk_to: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the deadlines of running targets from their stored start, pauses and the policy's current target
    (after a calendar fix or a target change), without replaying history. Returns how many were recomputed.
    `pk_from`/`pk_to` limit it to one chunk of `recompute_chunks`."""
    now = now or clock.now()
    book = PolicyBook.load()
    policies = {p.pk: p for p in book.policies}
    calendars = {p.pk: calendar_of(p.calendar) for p in book.policies}
    reasons = {p.pk: frozenset(p.pause_reasons) for p in book.policies}
    query = _active_targets(policy.pk if policy else None, calendar.pk if calendar else None).filter(
        pk__gte=pk_from)
    if pk_to is not None:
        query = query.filter(pk__lt=pk_to)
    total = query.count()
    done, last_pk = 0, pk_from - 1
    when = _sql_instant()
    columns = [f.name for f in fields(_Row)]
    while True:
        rows = [_Row(*values) for values in query.filter(pk__gt=last_pk).order_by("pk").values_list(*columns)[:batch]]
        if not rows:
            break
        last_pk = rows[-1].pk
        fired: dict[int, set[int]] = {}
        for target_id, rule_id in EscalationFiring.objects.filter(
                target_id__gte=rows[0].pk, target_id__lte=last_pk).values_list("target_id", "rule_id"):
            fired.setdefault(target_id, set()).add(rule_id)
        updates = []
        for row in rows:
            p = policies.get(row.policy_id or 0)
            if p is None:
                continue
            row.minutes = book.minutes(p, row.metric, row.ticket__priority) or row.minutes
            m = measure_from_row(row, calendars[p.pk], reasons[p.pk], p.at_risk_percent)
            engine.evaluate(m, now)
            upcoming = _next_check(m, book.escalations(p.pk, row.metric), fired.get(row.pk, set()), now)
            updates.append((row.minutes, m.state, when(m.deadline), when(m.at_risk_at), when(m.breached_at),
                            int(m.elapsed.total_seconds()), when(upcoming), when(now), row.pk))
        _write_times(updates)
        done += len(rows)
        if progress:
            progress(done, total)
    return done


def repair(tickets: Iterable[int], *, now: datetime | None = None,
           progress: Callable[[int, int], None] | None = None, total: int | None = None) -> int:
    """Replay the history of each ticket to recompute all its targets (after a policy or calendar fix)."""
    book = PolicyBook.load()
    count = 0
    for pk in tickets:
        refresh_ticket(pk, now=now, book=book)
        count += 1
        if progress and (count % 200 == 0 or count == total):
            progress(count, total or count)
    return count


def schedule_repair(actor: Actor, policy: SlaPolicy, *, batch: int = 1000) -> int:
    """Queue the replay of every ticket with a target of `policy` (after fixing it), in batches, after commit;
    returns how many tickets. In the embedded default the batches run in-process."""
    from outcomedesk.sla.tasks import repair_tickets

    _require_admin(actor)
    ids = list(tickets_of_policy(policy))
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        transaction.on_commit(lambda chunk=chunk: repair_tickets.delay(chunk))  # type: ignore[misc]
    return len(ids)


def tickets_of_policy(policy: SlaPolicy) -> Iterable[int]:
    return TicketTarget.objects.filter(policy=policy).values_list("ticket_id", flat=True).distinct().order_by(
        "ticket_id")


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
