"""SLA at scale: recompute every running target of N tickets, then the escalation sweep over them.

    .venv/bin/python -m benchmarks.sla_scale --db postgres --tickets 1000000
    .venv/bin/python -m benchmarks.sla_scale --db sqlite --tickets 1000000
    .venv/bin/python -m benchmarks.sla_scale --db postgres --reuse      # measure again without reloading

Setup (not timed): N tickets through the bulk loader, one SLA policy on a Berlin office calendar with Bavarian
holidays and two escalation rules (75 %: the assignee, 100 %: the managers), and one running resolution target
per ticket (1 to 40 working days by priority, up to 74 % of it elapsed, as in a desk whose sweep keeps up; a
third with a 4-hour pause), written in bulk. With --reuse the tickets are kept and the targets written again.

Timed:
- `recompute_active()`: every running target's deadline, at-risk instant, state and next check from its stored
  start, pauses and target (what a calendar fix triggers), written back; 2 runs;
- `sweep()` one minute later, five times a minute apart (what beat runs each minute), and once after an hour
  without a sweep (a backlog): how many targets were due, how many escalations fired, seconds.
Results go to benchmarks/results/sla-<db>-<tickets>-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import run

DB_NAME = "outcomedesk_sla_bench"
def working_moment() -> datetime:
    """The next weekday 10:00 in Berlin: the sweep is measured when the office calendar is running."""
    from zoneinfo import ZoneInfo

    day = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


DAYS_BY_PRIORITY = {1: 1, 2: 3, 3: 10, 4: 20, 5: 40}  # resolution targets in working days of 8.5 h


def setup(tickets: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone
    from tqdm import tqdm

    from benchmarks import data
    from outcomedesk.core.models import AuditEvent
    from outcomedesk.tickets import bulk
    from outcomedesk.tickets.models import Comment, Ticket

    call_command("migrate", interactive=False, verbosity=0)
    org = data.create_org()
    now = timezone.now()
    with tqdm(total=tickets, unit="ticket", mininterval=2, desc="tickets") as bar, \
            bulk.secondary_indexes_deferred(Ticket, Comment, AuditEvent):
        bulk.load_tickets(data.ticket_rows(org, tickets, now=now), batch_size=5000, progress=bar.update,
                          sanitise=False)


def setup_targets() -> None:
    from django.db import connection
    from tqdm import tqdm

    from outcomedesk.sla import services as sla
    from outcomedesk.sla.models import BusinessCalendar, EscalationFiring, EscalationRule, SlaPolicy, TicketTarget
    from outcomedesk.tickets.models import Ticket

    now = working_moment()
    EscalationFiring.objects.all().delete()
    TicketTarget.objects.all().delete()
    EscalationRule.objects.all().delete()
    SlaPolicy.objects.all().delete()
    BusinessCalendar.objects.all().delete()
    office = sla.save_calendar(None, "Munich office", {
        "timezone": "Europe/Berlin",
        "hours": {d: [["09:00", "12:00"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "DE", "subdiv": "BY"},
    })
    policy = sla.save_policy(None, {"name": "Everything", "calendar": office.pk, "pause_reasons": ["requester"]},
                             targets=[{"metric": "resolution", "priority": p, "minutes": days * 510}
                                      for p, days in DAYS_BY_PRIORITY.items()])
    sla.save_escalation_rule(None, {"name": "Warn", "at_percent": 75, "action": "notify_assignee"})
    sla.save_escalation_rule(None, {"name": "Managers", "at_percent": 100, "action": "notify_managers"})
    rng = random.Random(3)
    ids = list(Ticket.objects.order_by("pk").values_list("pk", "priority"))
    with tqdm(total=len(ids), unit="target", mininterval=2, desc="targets") as bar:
        for start in range(0, len(ids), 10_000):
            rows = []
            for pk, priority in ids[start:start + 10_000]:
                days = DAYS_BY_PRIORITY[priority]
                # Up to 74 % of the target elapsed (a working day is 8.5 h, a week 5 of 7 days): nothing has
                # reached its first escalation yet, as in a desk whose sweep keeps up; one arrives every minute.
                began = now - timedelta(days=rng.random() * days * 0.74 * 7 / 5)
                pauses = []
                if rng.random() < 1 / 3:
                    pause = began + timedelta(hours=1)
                    pauses = [[pause.isoformat(), (pause + timedelta(hours=4)).isoformat(), "pending on requester"]]
                rows.append(TicketTarget(ticket_id=pk, metric="resolution", cycle=0, policy=policy,
                                         minutes=days * 510, state="running", started_at=began,
                                         is_active=True, pauses=pauses, computed_at=now))
            TicketTarget.objects.bulk_create(rows)
            bar.update(len(rows))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _recompute_chunk(now: datetime, low: int, high: int) -> int:
    from outcomedesk.core import clock
    from outcomedesk.sla import services as sla

    with clock.at(now):
        return sla.recompute_active(now=now, pk_from=low, pk_to=high)


def parallel_recompute(now: datetime, processes: int) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from django.db import connections

    from outcomedesk.sla import services as sla

    chunks = sla.recompute_chunks(size=50_000)
    connections.close_all()  # each forked process opens its own connection
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("fork")) as pool:
        return sum(pool.map(_recompute_chunk, [now] * len(chunks), *zip(*chunks, strict=True)))


def measure(results: dict[str, Any], runs: int) -> None:
    from outcomedesk.core import clock
    from outcomedesk.sla import services as sla
    from outcomedesk.sla.models import EscalationFiring, TicketTarget

    active = TicketTarget.objects.filter(is_active=True).count()
    results["active_targets"] = active
    now = working_moment()
    results["measured_as_of"] = now.isoformat()
    recompute = []
    for n in range(runs):
        EscalationFiring.objects.all().delete()
        started, cpu = time.perf_counter(), time.process_time()
        with clock.at(now):
            count = sla.recompute_active(now=now)
        recompute.append({"seconds": round(time.perf_counter() - started, 2),
                          "cpu_seconds": round(time.process_time() - cpu, 2), "targets": count})
        print(f"recompute run {n + 1}: {recompute[-1]}", flush=True)
    results["recompute"] = recompute
    # The same as chunk tasks on two Celery workers: two processes, each taking chunks of 50,000 in turn.
    for n in range(runs):
        started = time.perf_counter()
        count = parallel_recompute(now, processes=2)
        results.setdefault("recompute_2_processes", []).append(
            {"seconds": round(time.perf_counter() - started, 2), "targets": count})
        print(f"recompute with 2 processes, run {n + 1}: {results['recompute_2_processes'][-1]}", flush=True)
    sweeps = []
    for minute in [1, 2, 3, 4, 5, 65]:
        moment = now + timedelta(minutes=minute)
        due = TicketTarget.objects.filter(next_check_at__lte=moment).count()
        started, cpu = time.perf_counter(), time.process_time()
        with clock.at(moment):
            result = sla.sweep(moment, deliver=False)
            swept = time.perf_counter()
            sent = sla.deliver_escalations(moment)
        sweeps.append({"at_minute": minute, "due": due, "checked": result.checked, "fired": len(result.fired),
                       "seconds": round(swept - started, 3), "notified": sent,
                       "notify_seconds": round(time.perf_counter() - swept, 3),
                       "cpu_seconds": round(time.process_time() - cpu, 3)})
        print(f"sweep: {sweeps[-1]}", flush=True)
    results["sweeps"] = sweeps
    # A backlog: 10,000 targets whose thresholds all passed (a sweep that did not run for a long while).
    backlog_at = now + timedelta(minutes=70)
    ids = list(TicketTarget.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)[:10_000])
    TicketTarget.objects.filter(pk__in=ids).update(started_at=now - timedelta(days=200), next_check_at=now)
    started, cpu = time.perf_counter(), time.process_time()
    with clock.at(backlog_at):
        result = sla.sweep(backlog_at, deliver=False)
        swept = time.perf_counter()
        sent = sla.deliver_escalations(backlog_at, limit=100_000)
    results["backlog_sweep"] = {"targets": len(ids), "checked": result.checked, "fired": len(result.fired),
                                "seconds": round(swept - started, 2), "notified": sent,
                                "notify_seconds": round(time.perf_counter() - swept, 2),
                                "cpu_seconds": round(time.process_time() - cpu, 2)}
    print(f"backlog sweep: {results['backlog_sweep']}", flush=True)
    empty_started = time.perf_counter()
    sla.sweep(now + timedelta(minutes=65))
    results["sweep_nothing_due_seconds"] = round(time.perf_counter() - empty_started, 4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    run.PG_BENCH_DB = DB_NAME
    data_dir = Path(os.environ.get("OUTCOMEDESK_BENCH_DIR", f"/tmp/outcomedesk-sla-bench-{args.db}"))
    run.configure_environment(args.db, data_dir)
    if not args.reuse:
        run.fresh_database(args.db, data_dir)
    import django

    django.setup()
    results: dict[str, Any] = {"db": args.db, "tickets": args.tickets, "started_at": datetime.now(UTC).isoformat(),
                               "command": " ".join([sys.executable, "-m", "benchmarks.sla_scale", *sys.argv[1:]])}
    started = time.perf_counter()
    if not args.reuse:
        setup(args.tickets)
    setup_targets()
    results["setup_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"] = run.machine()
    measure(results, args.runs)
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    path = run.RESULTS / f"sla-{args.db}-{args.tickets}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
