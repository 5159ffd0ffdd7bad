"""Bulk work on running targets: recomputing their deadlines from what is stored (after a calendar or target
change; chunked into tasks), and repairing tickets by replaying their history (after a policy fix)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from outcomedesk.accounts.policy import Actor
from outcomedesk.core import clock
from outcomedesk.sla import engine
from outcomedesk.sla.models import BusinessCalendar, EscalationFiring, SlaPolicy, TicketTarget
from outcomedesk.sla.services.configuration import _require_admin, calendar_of
from outcomedesk.sla.services.targets import (
    PolicyBook,
    _next_check,
    _Row,
    _sql_instant,
    measure_from_row,
    refresh_ticket,
)

# --- recompute from what is stored -------------------------------------------------------------------------

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
    by the worker threads of `outcomedesk serve` in the embedded default. Returns the number of chunks."""
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


# --- repair by replaying history ---------------------------------------------------------------------------

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
    returns how many tickets. In the embedded default the batches run on the worker threads of `serve`."""
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
