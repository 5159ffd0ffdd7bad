"""Escalations: saving an escalation rule, the periodic sweep that settles targets whose time has come and fires
their due rules (each once, however many sweeps run), and the outbox that delivers the e-mails of the firings."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from outcomedesk.accounts.models import AssignmentGroup
from outcomedesk.accounts.policy import Actor
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.parsing import as_id, as_int
from outcomedesk.sla import engine
from outcomedesk.sla.models import EscalationAction, EscalationFiring, EscalationRule, SlaPolicy, TicketTarget
from outcomedesk.sla.services.configuration import _require_admin, calendar_of
from outcomedesk.sla.services.recompute import schedule_recompute
from outcomedesk.sla.services.targets import PolicyBook, _next_check, measure_from_row

log = logging.getLogger(__name__)


# --- escalation rules --------------------------------------------------------------------------------------

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


# --- notifications (an outbox: a firing is notified once, or again after a crash mid-way) ------------------

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
    cache: notifications.Cache = {}
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
