"""Outcomedesk at scale: load N tickets into a fresh database, then time the pages agents wait on.

    .venv/bin/python -m benchmarks.run --db sqlite --tickets 1000000
    .venv/bin/python -m benchmarks.run --db postgres --tickets 1000000
    .venv/bin/python -m benchmarks.run --db postgres --reuse        # measure again without reloading

Server times are measured in-process (Django's test Client through the whole middleware stack and the real
views); ticket creation is measured over HTTP against a real waitress server. Results go to
benchmarks/results/<db>-<tickets>-<timestamp>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"  # used only to drop and create the bench database
PG_BENCH_DB = "outcomedesk_bench"
SECRET = "benchmark-secret-key-not-for-production-" + "x" * 30

TARGETS_MS = {"queue_api": 100, "queue_html": 100, "ticket_html": 50, "ticket_api": 50, "timeline_api": 50,
              "search_api": 100}


def configure_environment(db: str, data_dir: Path, *, server_side_binding: bool = False,
                          database: str = PG_BENCH_DB) -> str:
    """Environment for this process and the HTTP server it starts; returns the DATABASE_URL.

    `database` names the PostgreSQL database (benchmarks/peer_create.py keeps its own)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if db == "postgres":
        url = f"postgres://postgres@127.0.0.1:5432/{database}"
        if server_side_binding:
            # psycopg then prepares statements run 5+ times per connection: PostgreSQL plans them once.
            url += "?server_side_binding=true"
    else:
        url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "outcomedesk.config.settings",
        "DATABASE_URL": url,
        "DATABASE_CONN_MAX_AGE": "600",
        "OUTCOMEDESK_DATA_DIR": str(data_dir),
        "OUTCOMEDESK_HTTPS": "false",
        "OUTCOMEDESK_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "OUTCOMEDESK_SECRET_KEY": SECRET,
        "OUTCOMEDESK_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "OUTCOMEDESK_LOG_LEVEL": "ERROR",
    })
    return url


def fresh_database(db: str, data_dir: Path, *, database: str = PG_BENCH_DB) -> None:
    if db == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {database}")
    else:
        for suffix in ("", "-wal", "-shm"):
            (data_dir / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
        shutil.rmtree(data_dir / "attachments", ignore_errors=True)


# --- statistics ------------------------------------------------------------------------------------------

def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return percentile(values, 50)


def summarise(runs: list[list[float]]) -> dict[str, Any]:
    """Per run p50 and p99 (ms); the median of those over the runs; and p99 over all samples pooled."""
    pooled = [s for run in runs for s in run]
    per_run = [{"p50": percentile(r, 50), "p99": percentile(r, 99), "n": len(r)} for r in runs]
    return {
        "runs": per_run,
        "p50_median": median([r["p50"] for r in per_run]),
        "p99_median": median([r["p99"] for r in per_run]),
        "p99_worst_run": max(r["p99"] for r in per_run),
        "p99_pooled": percentile(pooled, 99),
        "samples": len(pooled),
    }


# --- in-process server time ------------------------------------------------------------------------------

def time_requests(
    name: str, client: Any, paths: list[str], *, runs: int, per_run: int, budget_s: float = 150
) -> dict[str, Any]:
    """GET each path in turn, `per_run` requests per run, after a warm-up; times in ms.

    Slow pages get fewer requests per run (at least 5) so that each measure stays near its time budget.
    """
    started = time.perf_counter()
    warmed = 0
    for path in paths[:20]:
        response = client.get(path)
        if response.status_code != 200:
            return {"error": f"GET {path} answered {response.status_code}", "status": response.status_code}
        warmed += 1
        if time.perf_counter() - started > budget_s / 5:
            break
    mean_s = (time.perf_counter() - started) / warmed
    per_run = max(5, min(per_run, int(budget_s / runs / max(mean_s, 1e-6))))
    all_runs: list[list[float]] = []
    cpu_runs: list[list[float]] = []
    by_path: dict[str, list[float]] = {}
    for run in range(runs):
        samples, cpu = [], []
        for n in range(per_run):
            path = paths[(run * per_run + n) % len(paths)]
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            samples.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            by_path.setdefault(path, []).append(samples[-1])
            if response.status_code != 200:
                raise RuntimeError(f"{name}: GET {path} answered {response.status_code}")
        all_runs.append(samples)
        cpu_runs.append(cpu)
    result = summarise(all_runs)
    # CPU time of this process (Python, and SQLite which runs inside it): what the wall clock would show
    # on an idle machine, less time waiting for PostgreSQL or the disk.
    result["cpu"] = summarise(cpu_runs)
    result["per_path_median_ms"] = {path: median(times) for path, times in by_path.items()}
    print(f"  {name:14s} p50 {result['p50_median']:7.1f} ms   p99 {result['p99_median']:7.1f} ms "
          f"(worst run {result['p99_worst_run']:.1f}; CPU p50 {result['cpu']['p50_median']:.1f} "
          f"p99 {result['cpu']['p99_median']:.1f}; {per_run} a run)", flush=True)
    return result


# --- phases ----------------------------------------------------------------------------------------------

def load(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from tqdm import tqdm

    from benchmarks import data
    from outcomedesk.core.models import AuditEvent
    from outcomedesk.tickets import bulk
    from outcomedesk.tickets.models import Comment, Ticket

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    results["phases"]["migrate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    org = data.create_org()
    results["phases"]["org_s"] = time.perf_counter() - started

    bulk.drop_search_index()
    rows = TimedIterator(data.ticket_rows(org, args.tickets, now=timezone.now()))
    # A first load into an empty database: secondary indexes are built once after the rows, and that
    # build counts in the load time (--keep-indexes to insert into every index row by row instead).
    deferred = () if args.keep_indexes else (Ticket, Comment, AuditEvent)
    with tqdm(total=args.tickets, unit="ticket", mininterval=2, smoothing=0.05) as bar:
        started = time.perf_counter()
        with bulk.secondary_indexes_deferred(*deferred):
            written = bulk.load_tickets(rows, batch_size=args.batch, progress=bar.update, sanitise=False)
            rows_done = time.perf_counter()
        elapsed = time.perf_counter() - started
    # Making up the synthetic text is the benchmark's work, not the product's: it is timed and taken out.
    results["phases"]["generate_s"] = rows.seconds
    results["phases"]["load_s"] = elapsed - rows.seconds
    results["phases"]["load_reindex_s"] = elapsed - (rows_done - started)
    results["phases"]["indexes_deferred"] = bool(deferred)
    print(f"loaded {written:,} tickets in {results['phases']['load_s']:.1f} s, of which "
          f"{results['phases']['load_reindex_s']:.1f} s building secondary indexes "
          f"(+{rows.seconds:.1f} s making up their text)", flush=True)

    started = time.perf_counter()
    bulk.build_search_index()
    results["phases"]["index_s"] = time.perf_counter() - started
    print(f"built the search index in {results['phases']['index_s']:.1f} s", flush=True)

    # PostgreSQL's autovacuum analyses a freshly loaded table by itself; Django never runs ANALYZE on SQLite,
    # so by default SQLite is measured as deployed: without statistics (--analyze to compare).
    if connection.vendor == "postgresql" or args.analyze:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        results["phases"]["analyze_s"] = time.perf_counter() - started


class TimedIterator(Iterator[T]):
    """Passes items through, adding up the time spent making them."""

    def __init__(self, items: Iterator[T]) -> None:
        self.items = items
        self.seconds = 0.0

    def __next__(self) -> T:
        started = time.perf_counter()
        try:
            return next(self.items)
        finally:
            self.seconds += time.perf_counter() - started


def timeline_ticket(entries: int = 50) -> str:
    """A ticket of the measured queue given `entries` timeline entries through the services."""
    from benchmarks import data
    from outcomedesk.accounts.models import User
    from outcomedesk.tickets import notifications, services
    from outcomedesk.tickets.models import OPEN_STATES, Ticket
    from outcomedesk.tickets.queries import timeline

    agent = User.objects.get(username=data.BENCH_AGENT)
    existing = Ticket.objects.filter(title="Benchmark: fifty timeline entries").first()
    if existing is not None:
        return existing.number
    group = bench_groups()[0]
    ticket = Ticket.objects.filter(group_id=group, state__in=OPEN_STATES).order_by("pk").first()
    assert ticket is not None
    text = data.TextMaker(random.Random(9))
    with notifications.muted():
        ticket = services.update_ticket(agent, ticket, {"title": "Benchmark: fifty timeline entries"})
        n = 0
        while len(timeline(ticket, include_internal=True)) < entries:
            if n % 2 == 0:
                services.add_comment(agent, ticket, text.paragraph(20, 80), public=n % 3 != 0)
            else:
                ticket = services.update_ticket(agent, ticket, {"priority": 1 + n % 5})
            n += 1
            ticket.refresh_from_db()
    return ticket.number


def bench_groups() -> list[int]:
    from outcomedesk.accounts.models import AssignmentGroup

    return list(AssignmentGroup.objects.filter(desk__slug="it").order_by("pk").values_list("pk", flat=True))


def measure_server_time(args: argparse.Namespace, results: dict[str, Any], number: str) -> None:
    from django.test import Client

    from benchmarks import data
    from outcomedesk.accounts.models import User
    from outcomedesk.accounts.services import create_token

    agent = User.objects.get(username=data.BENCH_AGENT)
    key = create_token(data.BENCH_AGENT, name="bench-inprocess").key
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    web = Client()
    web.force_login(agent)
    groups = bench_groups()
    queries = data.search_queries()
    from urllib.parse import quote

    plans: dict[str, tuple[Any, list[str]]] = {
        "queue_api": (api, [f"/api/v1/tickets?group={g}&sort=priority&page_size=50" for g in groups]),
        "queue_html": (web, [f"/desk/?group={g}" for g in groups]),
        "ticket_api": (api, [f"/api/v1/tickets/{number}"]),
        "timeline_api": (api, [f"/api/v1/tickets/{number}/timeline"]),
        "ticket_html": (web, [f"/desk/tickets/{number}/"]),
        "search_api": (api, [f"/api/v1/search?q={quote(q)}" for q in queries]),
    }
    runs, per_run = (3, 30) if args.quick else (args.runs, args.requests)
    for name, (client, paths) in plans.items():
        if args.pages and name not in args.pages.split(","):
            continue
        try:
            results["server_ms"][name] = time_requests(name, client, paths, runs=runs, per_run=per_run)
        except Exception as exc:  # a page being rebuilt by another engineer must not stop the run
            results["server_ms"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"  {name:14s} FAILED: {exc}", flush=True)
    results["search_queries"] = queries


def wait_for_port(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not listen on {port} within {timeout} s")


def measure_creation(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Tickets opened through POST /api/v1/tickets against a real server, by concurrent keep-alive clients."""
    from benchmarks import data
    from benchmarks.http_load import drive
    from outcomedesk.accounts.services import create_token

    key = create_token(data.BENCH_AGENT, name="bench-http").key
    duration = 5.0 if args.quick else args.duration
    configs = [("waitress 1 process x 8 threads", 1, 8), ("waitress 2 processes x 4 threads", 2, 4)]
    for label, processes, threads in configs:
        port = 18700 + processes
        if processes == 1:
            command = [str(ROOT / ".venv/bin/outcomedesk"), "serve", "--host", "127.0.0.1", "--port", str(port),
                       "--threads", str(threads)]
        else:
            command = [sys.executable, "-m", "benchmarks.server", "--port", str(port), "--processes",
                       str(processes), "--threads", str(threads)]
        server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(port)
            outcome = []
            for _ in range(1 if args.quick else args.creation_runs):
                outcome.append(drive(port, key, clients=args.clients, seconds=duration))
                print(f"  create {label}: {outcome[-1]['per_second']:.0f}/s "
                      f"(p50 {outcome[-1]['p50_ms']:.0f} ms, p99 {outcome[-1]['p99_ms']:.0f} ms, "
                      f"errors {outcome[-1]['errors']})", flush=True)
            results["create_per_second"][label] = {
                "runs": outcome,
                "median": median([o["per_second"] for o in outcome]),
                "clients": args.clients,
                "seconds": duration,
            }
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            if server.stderr is not None:
                tail = server.stderr.read().decode(errors="replace")[-2000:]
                if tail.strip():
                    results["create_per_second"].setdefault("server_stderr", {})[label] = tail


def machine() -> dict[str, Any]:
    from django.db import connection

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT version()")
            db_version = cursor.fetchone()[0]
            cursor.execute("SHOW shared_buffers")
            db_version += f" (shared_buffers {cursor.fetchone()[0]})"
        else:
            cursor.execute("SELECT sqlite_version()")
            db_version = f"SQLite {cursor.fetchone()[0]}"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "database": db_version, "load_avg": os.getloadavg()}


def write_results(args: argparse.Namespace, results: dict[str, Any]) -> Path:
    from benchmarks.report import markdown

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = RESULTS / f"{args.db}-{args.tickets}-{stamp}"
    base.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    base.with_suffix(".md").write_text(markdown(results))
    return base


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="Fewer runs and a short creation test")
    parser.add_argument("--reuse", action="store_true", help="Measure the database of the last run; no reload")
    parser.add_argument("--skip-creation", action="store_true", help="Skip the HTTP ticket-creation test")
    parser.add_argument("--analyze", action="store_true", help="Run ANALYZE on SQLite too (always on PostgreSQL)")
    parser.add_argument("--keep-indexes", action="store_true",
                        help="Load with every secondary index in place (default: build them after the rows)")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100, help="Requests per run for each page")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds per ticket-creation run")
    parser.add_argument("--creation-runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8, help="Concurrent HTTP clients for ticket creation")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--pages", default="", help="Measure only these, e.g. queue_api,ticket_api")
    parser.add_argument("--server-side-binding", action="store_true",
                        help="PostgreSQL: let psycopg prepare repeated statements (plans cached per connection)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = args.data_dir or Path(os.environ.get("OUTCOMEDESK_BENCH_DIR", f"/tmp/outcomedesk-bench-{args.db}"))
    url = configure_environment(args.db, data_dir, server_side_binding=args.server_side_binding)
    if not args.reuse:
        fresh_database(args.db, data_dir)
    import django

    django.setup()
    from outcomedesk.tickets.models import Ticket

    if args.reuse:  # the database of an earlier run follows the code's migrations (new tables, no reload)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    results: dict[str, Any] = {
        "db": args.db, "tickets_requested": args.tickets, "quick": args.quick, "reuse": args.reuse,
        "command": " ".join([".venv/bin/python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])]),
        "started_at": datetime.now(UTC).isoformat(), "database_url": url, "phases": {}, "server_ms": {},
        "create_per_second": {}, "targets_ms": TARGETS_MS, "server_side_binding": args.server_side_binding,
    }
    if not args.reuse:
        load(args, results)
    results["machine"] = machine()
    number = timeline_ticket()
    results["tickets_in_db"] = Ticket.objects.count()
    print(f"measuring with {results['tickets_in_db']:,} tickets; timeline ticket {number}", flush=True)
    measure_server_time(args, results, number)
    if not args.skip_creation:
        from django.db import connections

        connections.close_all()
        measure_creation(args, results)
    results["finished_at"] = datetime.now(UTC).isoformat()
    base = write_results(args, results)
    print(Path(base.with_suffix(".md")).read_text())
    print(f"results: {base}.json")


if __name__ == "__main__":
    main()

