"""Profile one kind of request against the database of the last benchmark run, and show its SQL plans.

    .venv/bin/python -m benchmarks.profile --db postgres queue_api [--requests 20] [--explain]

Prints the cProfile top functions (cumulative), the queries of one request with their times, and with
--explain the plan of the slowest one (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

KINDS = ("queue_api", "queue_html", "ticket_api", "timeline_api", "ticket_html", "search_api", "create_api")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--query", default="printer", help="Search words for search_api")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)

    from benchmarks.run import configure_environment

    configure_environment(args.db, Path(os.environ.get("OUTCOMEDESK_BENCH_DIR", f"/tmp/outcomedesk-bench-{args.db}")))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from benchmarks import data
    from benchmarks.run import bench_groups, timeline_ticket
    from outcomedesk.accounts.models import User
    from outcomedesk.accounts.services import create_token

    key = create_token(data.BENCH_AGENT, name="bench-profile").key
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    web = Client()
    web.force_login(User.objects.get(username=data.BENCH_AGENT))
    number = timeline_ticket()
    group = bench_groups()[0]
    calls: dict[str, Any] = {
        "queue_api": lambda: api.get(f"/api/v1/tickets?group={group}&sort=priority&page_size=50"),
        "queue_html": lambda: web.get(f"/desk/?group={group}"),
        "ticket_api": lambda: api.get(f"/api/v1/tickets/{number}"),
        "timeline_api": lambda: api.get(f"/api/v1/tickets/{number}/timeline"),
        "ticket_html": lambda: web.get(f"/desk/tickets/{number}/"),
        "search_api": lambda: api.get(f"/api/v1/search?q={quote(args.query)}"),
        "create_api": lambda: api.post("/api/v1/tickets", {"desk": "it", "title": "Printer jams",
                                                           "description": "Toner smear on page two"},
                                       content_type="application/json"),
    }
    call = calls[args.kind]
    response = call()
    print(f"status {response.status_code}")
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        call()
        total = (time.perf_counter() - start) * 1000
    print(f"one request: {total:.1f} ms, {len(captured.captured_queries)} queries, "
          f"{sum(float(q['time']) for q in captured.captured_queries) * 1000:.1f} ms in SQL")
    for q in sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:8]:
        print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:300]}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    if args.explain and captured.captured_queries:
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))["sql"]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + slowest)
            for row in cursor.fetchall():
                print("   ", " | ".join(str(c) for c in row))


if __name__ == "__main__":
    main()
