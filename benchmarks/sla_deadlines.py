"""How many SLA deadlines per second one core computes with outcomedesk.sla.calendar (no Django, no database).

    .venv/bin/python benchmarks/sla_deadlines.py [--n 200000] [--runs 5] [--seed 1] [--json]

The calendar: Europe/Berlin, Mon-Fri 09:00-12:00 and 13:00-17:30, public holidays of Bavaria. Starts are
random instants (to the microsecond) in 2026-2027, durations 30 minutes to 5 days of working time; a third
of the cases have one pause and a third two. Each run times the whole batch (the rate) and, separately,
every computation on its own (median and p99 latency). The index is built before the first run.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # runs without installing the package

from outcomedesk.sla.calendar import Calendar, Span, add_business_time, calendar_from_json

CALENDAR = {
    "timezone": "Europe/Berlin",
    "hours": {d: [["09:00", "12:00"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE", "subdiv": "BY"},
}
Case = tuple[datetime, timedelta, tuple[Span, ...]]


def make_cases(n: int, seed: int) -> list[Case]:
    rnd = random.Random(seed)
    zone = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 1, 1, tzinfo=zone).timestamp()
    last = datetime(2028, 1, 1, tzinfo=zone).timestamp()
    cases: list[Case] = []
    for _ in range(n):
        start = datetime.fromtimestamp(first + rnd.random() * (last - first), zone).replace(
            microsecond=rnd.randrange(1_000_000))
        duration = timedelta(minutes=rnd.randint(30, 5 * 24 * 60))
        pauses = []
        for _ in range(rnd.randrange(3)):  # 0, 1 or 2 pauses
            begin = start + timedelta(minutes=rnd.randint(0, 6 * 24 * 60))
            pauses.append((begin.astimezone(UTC), begin + timedelta(minutes=rnd.randint(1, 2 * 24 * 60))))
        cases.append((start, duration, tuple(pauses)))
    return cases


def timed_run(calendar: Calendar, cases: list[Case]) -> dict[str, float]:
    began = time.perf_counter()
    for start, duration, pauses in cases:
        add_business_time(calendar, start, duration, pauses)
    elapsed = time.perf_counter() - began
    clock = time.perf_counter_ns
    latencies = []
    for start, duration, pauses in cases:
        t0 = clock()
        add_business_time(calendar, start, duration, pauses)
        latencies.append(clock() - t0)
    latencies.sort()
    return {
        "seconds": elapsed,
        "per_second": len(cases) / elapsed,
        "median_us": statistics.median(latencies) / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
        "min_us": latencies[0] / 1000,
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="deadlines per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    calendar = calendar_from_json(CALENDAR)
    cases = make_cases(args.n, args.seed)
    for start, duration, pauses in cases[:1000]:  # build the index (and warm up) outside the measurement
        add_business_time(calendar, start, duration, pauses)
    runs = [timed_run(calendar, cases) for _ in range(args.runs)]
    rates = [run["per_second"] for run in runs]
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "cpu": cpu_model(),
        "n": args.n,
        "runs": runs,
        "per_second_median": statistics.median(rates),
        "per_second_min": min(rates),
        "with_pauses": sum(1 for case in cases if case[2]) / len(cases),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"Python {result['implementation']} {result['python']} on {result['cpu']}")
    print(f"{args.n:,} deadlines per run, {result['with_pauses']:.0%} with pauses")
    for i, run in enumerate(runs, 1):
        print(f"run {i}: {run['per_second']:>10,.0f}/s  median {run['median_us']:.2f} us  "
              f"p99 {run['p99_us']:.2f} us  min {run['min_us']:.2f} us")
    print(f"median rate {result['per_second_median']:,.0f}/s, slowest run {result['per_second_min']:,.0f}/s")


if __name__ == "__main__":
    main()
