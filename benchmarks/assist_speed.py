"""Speed of the AI assist: triage of one ticket, training on 50,000 tickets, similar-ticket retrieval over
1,000,000 tickets.

    .venv/bin/python -m benchmarks.assist_speed triage [--rows 50000] [--fits 1] [--runs 3]
    .venv/bin/python -m benchmarks.assist_speed retrieval --db sqlite|postgres [--tickets 1000000] [--reuse]

`triage` trains the production `TriageModel` on 50,000 tickets made from the real texts of
../shared/data (it_ticket_assignment and the Endava subset, 151 labels; each ticket a real one with 15 % of its
words dropped, so that no two are the same), then times `predict` of one ticket at a time for 2,000 tickets,
several runs. `retrieval` loads the benchmark organisation (benchmarks/data.py, the same as benchmarks/run.py)
into a fresh database, then times `assist.similar.similar_resolved` (full-text candidates, visibility, BM25 and
character-gram re-ranking) and `likely_duplicates` for 200 tickets as an IT agent, several runs. Results go to
/tmp/outcomedesk-assist-bench/ as JSON and are printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = Path("/tmp/outcomedesk-assist-bench")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(runs: list[list[float]]) -> dict[str, Any]:
    """Per run: median and p99 in ms; overall: the median of the runs' medians and of their p99s."""
    per_run = [{"median_ms": round(statistics.median(r) * 1000, 2), "p99_ms": round(percentile(r, 99) * 1000, 2)}
               for r in runs]
    return {"runs": per_run, "median_ms": statistics.median(p["median_ms"] for p in per_run),
            "p99_ms": statistics.median(p["p99_ms"] for p in per_run), "samples_per_run": len(runs[0])}


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_avg": os.getloadavg(), "date": datetime.now(UTC).isoformat()}


def real_tickets() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with (DATA / "it_ticket_assignment" / "train.csv").open(newline="", encoding="utf-8", errors="replace") as h:
        rows += [(f"{r['Short description']}\n{r['Description']}", r["Assignment group"]) for r in csv.DictReader(h)]
    endava = DATA / "endava_tickets_subset" / "all_tickets_first5431.csv"
    with endava.open(newline="", encoding="utf-8", errors="replace") as h:
        rows += [(f"{r['title']}\n{r['body']}", f"E{r['business_service']}") for r in csv.DictReader(h)]
    return rows


def varied(rows: list[tuple[str, str]], count: int, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    while len(texts) < count:
        text, label = rng.choice(rows)
        texts.append(" ".join(w for w in text.split() if rng.random() > 0.15))
        labels.append(label)
    return texts, labels


def bench_triage(args: argparse.Namespace) -> dict[str, Any]:
    from outcomedesk.assist.triage import TriageModel

    rows = real_tickets()
    texts, labels = varied(rows, args.rows)
    fits, model = [], None
    for run in range(args.fits):
        started = time.perf_counter()
        model = TriageModel().fit(texts, labels)
        fits.append(round(time.perf_counter() - started, 1))
        print(f"fit {run + 1}: {fits[-1]} s on {args.rows:,} tickets, {model.training}", flush=True)
    assert model is not None
    probes, _ = varied(rows, 2000, seed=2)
    runs = []
    for run in range(args.runs):
        samples = []
        for text in probes:
            started = time.perf_counter()
            model.predict([text])
            samples.append(time.perf_counter() - started)
        runs.append(samples)
        print(f"predict run {run + 1}: median {statistics.median(samples) * 1000:.2f} ms, "
              f"p99 {percentile(samples, 99) * 1000:.2f} ms", flush=True)
    return {"rows": args.rows, "labels": len(set(labels)), "fit_seconds": fits, "training": model.training,
            "predict_one": summary(runs), "target": "predict p99 <= 10 ms; fit <= 120 s"}


def bench_retrieval(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import run

    data_dir = Path(f"/tmp/outcomedesk-assist-bench/{args.db}")
    run.configure_environment(args.db, data_dir)
    if not args.reuse:
        run.fresh_database(args.db, data_dir)
    import django

    django.setup()
    from outcomedesk.accounts.models import User
    from outcomedesk.assist import similar
    from outcomedesk.tickets.models import Ticket

    results: dict[str, Any] = {"phases": {}}
    if not args.reuse:
        load_args = argparse.Namespace(tickets=args.tickets, batch=5000, keep_indexes=False, analyze=False)
        run.load(load_args, results)
    agent = User.objects.get(username="bench-agent")
    top = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    rng = random.Random(5)
    probes = list(Ticket.objects.filter(pk__in=[rng.randint(1, top) for _ in range(400)], desk__slug="it")
                  .select_related("desk")[:200])
    out: dict[str, Any] = {"tickets_in_db": Ticket.objects.count(), "probes": len(probes), "load": results["phases"]}
    for name, call in (("similar_resolved", lambda t: similar.similar_resolved(agent, t)),
                       ("likely_duplicates", lambda t: similar.likely_duplicates(t, agent))):
        call(probes[0])  # warm: imports, the connection, the first page of the index
        runs = []
        for number in range(args.runs):
            samples = []
            for ticket in probes:
                started = time.perf_counter()
                call(ticket)
                samples.append(time.perf_counter() - started)
            runs.append(samples)
            print(f"{name} run {number + 1}: median {statistics.median(samples) * 1000:.1f} ms, "
                  f"p99 {percentile(samples, 99) * 1000:.1f} ms", flush=True)
        out[name] = summary(runs)
    out["target"] = "similar-ticket retrieval p99 <= 100 ms over 1,000,000 tickets"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    triage = sub.add_parser("triage")
    triage.add_argument("--rows", type=int, default=50_000)
    triage.add_argument("--fits", type=int, default=1)
    triage.add_argument("--runs", type=int, default=3)
    retrieval = sub.add_parser("retrieval")
    retrieval.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    retrieval.add_argument("--tickets", type=int, default=1_000_000)
    retrieval.add_argument("--reuse", action="store_true", help="Measure the last run's database; no reload")
    retrieval.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.what == "triage":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        result = bench_triage(args)
    else:
        result = bench_retrieval(args)
    result.update(machine=machine(), command=" ".join(["python -m benchmarks.assist_speed", *(argv or sys.argv[1:])]))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{args.what}-{getattr(args, 'db', 'cpu')}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: v for k, v in result.items() if k != "load"}, indent=2, default=str))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
