"""Ticket creation over HTTP, Outcomedesk against django-helpdesk 2.6.1, in the same run, with the ratio.

    .venv/bin/python -m benchmarks.peer_create                 # set up both at 100,000 tickets, then measure
    .venv/bin/python -m benchmarks.peer_create --reuse         # measure again on the databases already loaded

Both systems on the machine's PostgreSQL (127.0.0.1:5432, user postgres), each in its own database:
`outcomedesk_peer_bench` (loaded by benchmarks.run's organisation and bulk load) and `helpdesk_bench`
(benchmarks/peer/helpdesk.py), each served by gunicorn with the same worker count and class (3 sync workers),
each driven by the same keep-alive clients (benchmarks/http_load.py, 8 by default) posting the same kind of
ticket text to its JSON API. The rounds alternate the systems (A B, then B A, ...) so that a drift of the
machine falls on both.

Outcomedesk runs as its "one organisation" deployment does (ARCHITECTURE.md): gunicorn, and a Celery worker
on Redis (127.0.0.1:6379, database OUTCOMEDESK_PEER_REDIS_DB, 5 by default, emptied at the start) for the side
effects; AI triage (models trained on the IT desk's resolved tickets) and duplicate search are on, e-mail goes to
Django's dummy backend. The request only writes and queues; after each Outcomedesk round the harness waits for
the worker to finish that round's tasks before the next round starts, so that django-helpdesk is never measured
while Outcomedesk's AI still runs, and reports how long that took. django-helpdesk sends its e-mails inside the
request (its design), to the dummy backend too. Results: benchmarks/results/peer-create-<tickets>-<time>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import run
from benchmarks.http_load import CreateRequest, drive, outcomedesk_create
from benchmarks.peer import helpdesk

ROOT = run.ROOT
DATABASE = "outcomedesk_peer_bench"
OUTCOMEDESK, HELPDESK = "Outcomedesk", "django-helpdesk 2.6.1"
PORTS = {OUTCOMEDESK: 18811, HELPDESK: 18812}
GOAL_RATIO = 5.0


def gunicorn_requirement() -> str:
    """The gunicorn pin of the peer's requirements: both systems run the same release."""
    for line in helpdesk.REQUIREMENTS.read_text().splitlines():
        if line.lower().startswith("gunicorn=="):
            return line.strip()
    raise RuntimeError(f"no gunicorn pin in {helpdesk.REQUIREMENTS}")


def ensure_gunicorn() -> Path:
    """gunicorn in this (Outcomedesk's) venv: a benchmark-only install, not a dependency of the product."""
    wanted = gunicorn_requirement()
    try:
        from importlib.metadata import version

        if f"gunicorn=={version('gunicorn')}" == wanted:
            return Path(sys.executable).parent / "gunicorn"
    except Exception:  # not installed
        pass
    print(f"installing {wanted} into {sys.prefix} (benchmark only)", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", wanted], check=True)
    return Path(sys.executable).parent / "gunicorn"


# --- Outcomedesk's side -------------------------------------------------------------------------------------

def outcomedesk_environment(args: argparse.Namespace) -> dict[str, str]:
    """This process's environment, as benchmarks.run configures it, plus the broker; the servers and the worker
    run this checkout's code (src/ first on the path, whatever the venv's editable install points at)."""
    env = dict(os.environ)
    env["CELERY_BROKER_URL"] = args.broker
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return env


def prepare_outcomedesk(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The organisation and the tickets (unless reused), then the IT desk's triage models (unless trained)."""
    from django.core.management import call_command

    from outcomedesk.assist import services as assist
    from outcomedesk.assist.models import TrainedModel
    from outcomedesk.tickets.models import Ticket

    if args.reuse:  # the database of an earlier run follows the code's migrations (no reload)
        call_command("migrate", verbosity=0)
    if args.reuse and Ticket.objects.exists():
        print(f"Outcomedesk: reusing {DATABASE} ({Ticket.objects.count():,} tickets)", flush=True)
    else:
        load_args = argparse.Namespace(tickets=args.tickets, batch=5000, keep_indexes=False, analyze=False)
        holder: dict[str, Any] = {"phases": {}}
        run.load(load_args, holder)
        results["phases"]["outcomedesk"] = holder["phases"]
    from outcomedesk.accounts.models import Desk

    desk = Desk.objects.get(slug="it")
    if not TrainedModel.objects.filter(desk=desk, is_active=True).exists():
        started = time.perf_counter()
        trained = assist.train_desk(desk, limit=args.train_limit, progress=lambda line: print("  " + line,
                                                                                              flush=True))
        results["phases"].setdefault("outcomedesk", {})["train_s"] = time.perf_counter() - started
        for row in trained:
            print(f"  triage {row.field}: " + (f"trained, version {row.version}" if isinstance(row, TrainedModel)
                                              else f"skipped ({row.reason})"), flush=True)


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(run.PG_ADMIN_URL.replace("postgres://", "postgresql://")) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def assist_state() -> dict[str, Any]:
    """What the AI will do with each new IT ticket: switches and the active triage models."""
    from outcomedesk.assist.models import Feature, TrainedModel
    from outcomedesk.assist.switches import is_enabled

    models = TrainedModel.objects.filter(desk__slug="it", is_active=True).order_by("field")
    return {
        "triage_enabled": is_enabled(Feature.TRIAGE),
        "duplicate_search_enabled": is_enabled(Feature.SIMILAR),
        "triage_models": [{"field": m.field, "version": m.version,
                           "accuracy": m.figures.get("accuracy"), "rows": m.figures.get("test_rows")}
                          for m in models],
    }


def run_effects(since_ticket_id: int) -> dict[str, Any]:
    """What the worker did for the tickets the run opened: AI suggestions by kind."""
    from django.db.models import Count

    from outcomedesk.assist.models import Suggestion
    from outcomedesk.tickets.models import Ticket

    opened = Ticket.objects.filter(pk__gt=since_ticket_id)
    by_kind = dict(Suggestion.objects.filter(ticket__in=opened).values_list("kind").annotate(n=Count("id")))
    with_any = Suggestion.objects.filter(ticket__in=opened).values("ticket_id").distinct().count()
    return {"tickets_opened": opened.count(), "suggestions_by_kind": by_kind, "tickets_with_a_suggestion": with_any}


class Broker:
    """The Celery queue on Redis: how many tasks wait or run."""

    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)

    def empty(self) -> None:
        self.redis.flushdb()  # the run's own database number; no other is touched

    def pending(self) -> int:
        """Messages in every queue (kombu's lists) and taken by a worker but not yet acknowledged (its `unacked`
        hash): the database is the run's own, so whatever the queue names and a key prefix
        (OUTCOMEDESK_BROKER_KEY_PREFIX) are."""
        found = 0
        for key in self.redis.scan_iter():
            kind = self.redis.type(key)
            if kind == b"list":
                found += int(self.redis.llen(key))
            elif kind == b"hash" and key.endswith(b"unacked"):
                found += int(self.redis.hlen(key))
        return found

    def drain(self, timeout: float) -> tuple[float, bool]:
        """Wait until no task waits or runs; (seconds waited, drained)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.pending() == 0:
                return time.monotonic() - started, True
            time.sleep(0.5)
        return time.monotonic() - started, False


# --- processes ------------------------------------------------------------------------------------------------

class Process:
    """A server or worker this run started; stopped by its own id (and its children through it)."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.name, self.log = name, log
        self.handle = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(command, env=env, cwd=cwd, stdout=self.handle, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.handle.close()

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")


def wait_ready(process: Process, port: int, path: str, timeout: float = 90) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{process.name} did not answer on {port} within {timeout} s")


# --- measuring ----------------------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return run.median(values)


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "per_second_median": median([r["per_second"] for r in rounds]),
        "per_second_rounds": [round(r["per_second"], 1) for r in rounds],
        "p50_ms_median": median([r["p50_ms"] for r in rounds]),
        "p99_ms_median": median([r["p99_ms"] for r in rounds]),
        "p99_ms_worst": max(r["p99_ms"] for r in rounds),
        "created": sum(r["created"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "error_statuses": sorted({s for r in rounds for s in r["error_statuses"]}),
    }


def measure(args: argparse.Namespace, requests: dict[str, CreateRequest], broker: Broker,
            check: Callable[[], None]) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {OUTCOMEDESK: [], HELPDESK: []}
    pairs: list[dict[str, Any]] = []
    order = [OUTCOMEDESK, HELPDESK]
    for system in order:  # first requests of every worker: imports, connections, caches; not counted
        drive(PORTS[system], clients=args.clients, seconds=args.warmup, warmup=0.5, request=requests[system])
        broker.drain(args.drain_timeout)
    for n in range(args.rounds):
        sequence = order if n % 2 == 0 else order[::-1]
        for system in sequence:
            check()
            load_before = os.getloadavg()
            outcome = drive(PORTS[system], clients=args.clients, seconds=args.seconds, request=requests[system])
            outcome["round"] = n + 1
            outcome["load_avg_before"] = load_before
            if system == OUTCOMEDESK:
                outcome["tasks_left_at_end"] = broker.pending()
                waited, drained = broker.drain(args.drain_timeout)
                outcome["worker_catch_up_s"] = round(waited, 1)
                outcome["worker_caught_up"] = drained
            rounds[system].append(outcome)
            extra = (f", worker caught up {outcome['worker_catch_up_s']:.0f} s after the round "
                     f"({outcome['tasks_left_at_end']} tasks left at its end)" if system == OUTCOMEDESK else "")
            print(f"  round {n + 1} {system:22s} {outcome['per_second']:6.1f}/s  p50 {outcome['p50_ms']:6.0f} ms  "
                  f"p99 {outcome['p99_ms']:6.0f} ms  errors {outcome['errors']}{extra}", flush=True)
        mine, theirs = rounds[OUTCOMEDESK][-1], rounds[HELPDESK][-1]
        pairs.append({"round": n + 1, "ratio": mine["per_second"] / theirs["per_second"]
                      if theirs["per_second"] else float("nan")})
    summary = {system: summarise(found) for system, found in rounds.items()}
    ratio = summary[OUTCOMEDESK]["per_second_median"] / summary[HELPDESK]["per_second_median"]
    return {"rounds": rounds, "summary": summary, "ratio": ratio, "ratio_per_round": pairs,
            "ratio_median_of_rounds": median([p["ratio"] for p in pairs])}


def machine(peer_versions: dict[str, str]) -> dict[str, Any]:
    from importlib.metadata import version

    found = run.machine()
    found["outcomedesk_packages"] = {n: version(n) for n in ("Django", "django-ninja", "gunicorn", "celery",
                                                             "psycopg", "redis")}
    found["helpdesk_packages"] = peer_versions
    found["platform"] = platform.platform()
    return found


def markdown(results: dict[str, Any]) -> str:
    m = results["measured"]
    s = m["summary"]
    mine, theirs = s[OUTCOMEDESK], s[HELPDESK]
    machine_ = results["machine"]
    catch_up = [r["worker_catch_up_s"] for r in m["rounds"][OUTCOMEDESK]]
    left = [r["tasks_left_at_end"] for r in m["rounds"][OUTCOMEDESK]]
    lines = [
        "### Ticket creation over HTTP, Outcomedesk and django-helpdesk 2.6.1",
        "",
        f"Tickets in the databases before the run: Outcomedesk {results['tickets_in_db'][OUTCOMEDESK]:,}, "
        f"django-helpdesk {results['tickets_in_db'][HELPDESK]:,}.",
        f"{results['started_at'][:16]} UTC; {machine_['nproc']} cores ({machine_['cpu']}), "
        f"{machine_['ram_gb']} GB; {machine_['database']}; load average before the first round "
        f"{results['load_avg_start'][0]:.2f}, after the last {results['load_avg_end'][0]:.2f}.",
        f"gunicorn {args_text(results)}; {results['clients']} keep-alive clients; {results['rounds']} rounds of "
        f"{results['seconds']:.0f} s per system, alternating.",
        "",
        "| System | tickets/s, median (rounds) | p50, median | p99, median | p99, worst round | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in ((OUTCOMEDESK, mine), (HELPDESK, theirs)):
        per_round = ", ".join(f"{v:.1f}" for v in row["per_second_rounds"])
        lines.append(f"| {name} | **{row['per_second_median']:.1f}** ({per_round}) | {row['p50_ms_median']:.0f} ms "
                     f"| {row['p99_ms_median']:.0f} ms | {row['p99_ms_worst']:.0f} ms | {row['errors']} |")
    verdict = "meets" if m["ratio"] >= GOAL_RATIO else "**misses**"
    ratios = ", ".join(f"{pair['ratio']:.2f}" for pair in m["ratio_per_round"])
    lines += [
        "",
        f"**Ratio Outcomedesk / django-helpdesk: {m['ratio']:.2f}** (of the medians; per round {ratios}); "
        f"goal ≥ {GOAL_RATIO:.0f}: {verdict}.",
        "",
        f"Outcomedesk's worker (Celery, {results['celery_concurrency']} processes, on Redis) had "
        f"{', '.join(str(n) for n in left)} tasks left at the end of each round and finished them "
        f"{', '.join(f'{v:.0f}' for v in catch_up)} s later. AI: {assist_text(results['assist'])}; after the run, "
        f"{results['effects']['tickets_with_a_suggestion']:,} of the {results['effects']['tickets_opened']:,} "
        f"tickets it opened had a suggestion ({results['effects']['suggestions_by_kind']}).",
    ]
    return "\n".join(lines) + "\n"


def args_text(results: dict[str, Any]) -> str:
    return f"{results['gunicorn_workers']} {results['worker_class']} workers per system"


def assist_text(state: dict[str, Any]) -> str:
    models = ", ".join(m["field"] for m in state["triage_models"]) or "none"
    return (f"triage {'on' if state['triage_enabled'] else 'OFF'} (models: {models}), duplicate search "
            f"{'on' if state['duplicate_search_enabled'] else 'OFF'}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000, help="Tickets loaded into each system")
    parser.add_argument("--reuse", action="store_true", help="Keep both databases when they hold tickets")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=25.0, help="Measured seconds per round and system")
    parser.add_argument("--warmup", type=float, default=5.0, help="Seconds of unmeasured requests per system first")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers per system")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class, the same for both")
    parser.add_argument("--celery-concurrency", type=int, default=os.cpu_count() or 2,
                        help="Processes of Outcomedesk's Celery worker (Celery's default: the CPU count)")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="Resolved tickets a triage model learns from (default: the product's setting)")
    parser.add_argument("--drain-timeout", type=float, default=900.0,
                        help="Longest wait for Outcomedesk's worker after a round")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/"
                        + os.environ.get("OUTCOMEDESK_PEER_REDIS_DB", "5"),
                        help="Outcomedesk's Celery broker (its Redis database is emptied at the start)")
    parser.add_argument("--allow-ai-off", action="store_true", help="Measure even if triage or duplicates are off")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = Path(os.environ.get("OUTCOMEDESK_BENCH_DIR", "/tmp/outcomedesk-peer-bench"))
    run.configure_environment("postgres", data_dir, database=DATABASE)
    os.environ["CELERY_BROKER_URL"] = args.broker
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    base = run.RESULTS / f"peer-create-{args.tickets}-{stamp}"
    results: dict[str, Any] = {
        "command": " ".join([".venv/bin/python -m benchmarks.peer_create",
                             *(argv if argv is not None else sys.argv[1:])]),
        "started_at": datetime.now(UTC).isoformat(), "tickets": args.tickets, "rounds": args.rounds,
        "seconds": args.seconds, "clients": args.clients, "gunicorn_workers": args.workers,
        "worker_class": args.worker_class, "celery_concurrency": args.celery_concurrency, "broker": args.broker,
        "databases": {OUTCOMEDESK: DATABASE, HELPDESK: helpdesk.DATABASE}, "phases": {},
    }

    print(f"== django-helpdesk 2.6.1: {args.tickets:,} tickets in {helpdesk.DATABASE}", flush=True)
    results["phases"]["helpdesk"] = helpdesk.setup(args.tickets, reuse=args.reuse)
    print(f"== Outcomedesk: {args.tickets:,} tickets in {DATABASE}", flush=True)
    if not args.reuse or not database_exists(DATABASE):
        run.fresh_database("postgres", data_dir, database=DATABASE)
    import django

    django.setup()
    prepare_outcomedesk(args, results)
    gunicorn = ensure_gunicorn()

    from benchmarks import data
    from outcomedesk.accounts.services import create_token
    from outcomedesk.tickets.models import Ticket

    results["assist"] = assist_state()
    if not args.allow_ai_off and not (results["assist"]["triage_enabled"] and results["assist"]["triage_models"]
                                      and results["assist"]["duplicate_search_enabled"]):
        raise SystemExit(f"AI is not fully on: {assist_text(results['assist'])} (--allow-ai-off to measure anyway)")
    key = create_token(data.BENCH_AGENT, name="bench-peer").key
    first_new_id = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    results["tickets_in_db"] = {OUTCOMEDESK: Ticket.objects.count(), HELPDESK: helpdesk.ticket_count()}
    results["machine"] = machine(helpdesk.versions())
    from django.db import connections

    connections.close_all()

    queue = helpdesk.queue_id("it")
    requests = {
        # As a person reporting a problem: title and description; routing picks the group, the AI's triage
        # predicts impact and urgency after the response (given values it would leave alone).
        OUTCOMEDESK: outcomedesk_create(key, levels=False),
        HELPDESK: CreateRequest(
            "/api/tickets/", {"Authorization": f"Token {helpdesk.token()}"},
            lambda text, rng: {"queue": queue, "title": text.title(), "description": text.paragraph(15, 60),
                               "submitter_email": "bench@example.org", "priority": rng.choice((3, 4))}),
    }
    broker = Broker(args.broker)
    broker.empty()
    logs = Path(str(base) + "-logs")
    logs.mkdir()
    env = outcomedesk_environment(args)
    gunicorn_flags = ["--workers", str(args.workers), "--worker-class", args.worker_class, "--no-control-socket",
                      "--log-level", "warning"]
    processes = [
        Process("Outcomedesk gunicorn", [str(gunicorn), *gunicorn_flags, "--bind", f"127.0.0.1:{PORTS[OUTCOMEDESK]}",
                                         "outcomedesk.config.wsgi:application"], env=env, cwd=ROOT,
                log=logs / "outcomedesk-gunicorn.log"),
        Process("Outcomedesk Celery worker", [str(Path(sys.executable).parent / "celery"), "-A", "outcomedesk.config",
                                              "worker", "--concurrency", str(args.celery_concurrency),
                                              "--loglevel", "WARNING"], env=env, cwd=ROOT,
                log=logs / "outcomedesk-celery.log"),
        Process("django-helpdesk gunicorn", helpdesk.server_command(PORTS[HELPDESK], args.workers, args.worker_class),
                env=helpdesk.environment(), cwd=helpdesk.SITE, log=logs / "helpdesk-gunicorn.log"),
    ]
    try:
        wait_ready(processes[0], PORTS[OUTCOMEDESK], "/api/v1/openapi.json")
        wait_ready(processes[2], PORTS[HELPDESK], "/api/")

        def check() -> None:
            for process in processes:
                process.check()

        print(f"== measuring: {args.rounds} rounds x {args.seconds:.0f} s per system, {args.clients} clients, "
              f"gunicorn {args.workers} {args.worker_class} workers each", flush=True)
        results["load_avg_start"] = os.getloadavg()
        results["measured"] = measure(args, requests, broker, check)
        results["load_avg_end"] = os.getloadavg()
    finally:
        for process in processes:
            process.stop()
    results["effects"] = run_effects(first_new_id)
    results["finished_at"] = datetime.now(UTC).isoformat()
    base.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    report = markdown(results)
    base.with_suffix(".md").write_text(report)
    print(report)
    print(f"results: {base}.json (server logs in {logs})")


if __name__ == "__main__":
    main()
