"""E-mail intake speed: messages parsed and ticketed per second on one core (the goal of issue 13: at least 50).

    .venv/bin/python -m benchmarks.intake_mail --db sqlite
    .venv/bin/python -m benchmarks.intake_mail --db postgres      # database outcomedesk_bench_intake, re-created

Each run feeds the real-world-shaped corpus of the tests (tests/mail_corpus, 200+ messages: multipart, charsets,
winmail.dat, broken MIME, auto-replies, bounces) to `intake.email.services.receive` as the MTA pipe and the IMAP
poller do, each copy with a Message-ID of its own so that none is a duplicate, from known and unknown senders.
Reported: messages a second (wall clock and CPU of this process, which includes SQLite but not PostgreSQL), the
median of the runs, and how the messages ended (ticketed, threaded, ignored, quarantined).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "mail_corpus"
RESULTS = ROOT / "benchmarks" / "results"
PG_DB = "outcomedesk_bench_intake"


def configure(db: str, data_dir: Path, *, pg_db: str = PG_DB, sqlite_name: str = "intake.sqlite3") -> None:
    """A fresh database (PostgreSQL `pg_db`, dropped and created again, or a SQLite file in `data_dir`) and the
    environment of a benchmark process and of the servers it starts."""
    if db == "postgres":
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {pg_db}")
        url = f"postgres://postgres@127.0.0.1:5432/{pg_db}"
    else:
        url = f"sqlite:///{data_dir / sqlite_name}"
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "outcomedesk.config.settings", "DATABASE_URL": url,
        "OUTCOMEDESK_DATA_DIR": str(data_dir), "OUTCOMEDESK_HTTPS": "false",
        "OUTCOMEDESK_SECRET_KEY": "benchmark-secret-key-not-for-production-" + "x" * 30,
        "OUTCOMEDESK_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend", "OUTCOMEDESK_LOG_LEVEL": "ERROR",
    })


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2, help="Copies of the corpus per run")
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="outcomedesk-bench-intake-"))
    configure(args.db, data_dir)
    import django

    django.setup()
    from django.core.management import call_command

    from outcomedesk.accounts import services as accounts
    from outcomedesk.intake.email.services import receive

    print(f"migrating a fresh {args.db} database in {data_dir}", flush=True)
    call_command("migrate", verbosity=0)
    desk = accounts.create_desk("it", "IT")
    # The corpus's usual senders have accounts; the others become requesters as they write (the default).
    for n, address in enumerate(["alice@example.org", "bob@example.com", "carol@example.net"]):
        accounts.create_user(f"sender{n}", email=address)
    corpus = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    print(f"corpus: {len(corpus)} messages, {sum(map(len, corpus)) / 1e6:.1f} MB", flush=True)

    runs: list[dict[str, float]] = []
    outcomes: Counter[str] = Counter()
    for run in range(args.runs):
        messages = [_renumbered(raw, f"r{run}c{copy}m{n}")
                    for copy in range(args.copies) for n, raw in enumerate(corpus)]
        wall, cpu = time.perf_counter(), time.process_time()
        last = time.monotonic()
        for done, raw in enumerate(messages, 1):
            outcomes[str(receive(raw, desk=desk).message.status)] += 1
            if time.monotonic() - last > 5:
                print(f"  run {run + 1}: {done}/{len(messages)} messages", flush=True)
                last = time.monotonic()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        runs.append({"messages": len(messages), "wall_s": wall, "cpu_s": cpu, "per_second": len(messages) / wall,
                     "per_cpu_second": len(messages) / cpu})
        print(f"  run {run + 1}: {len(messages)} messages in {wall:.1f} s: {len(messages) / wall:.0f}/s "
              f"({len(messages) / cpu:.0f} per CPU second)", flush=True)
    result = {
        "db": args.db, "at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
        "python": sys.version.split()[0], "cores": os.cpu_count(), "load_average": os.getloadavg(),
        "runs": runs, "median_per_second": statistics.median(r["per_second"] for r in runs),
        "median_per_cpu_second": statistics.median(r["per_cpu_second"] for r in runs), "outcomes": dict(outcomes),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"intake-mail-{args.db}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"median {result['median_per_second']:.0f} messages/s ({result['median_per_cpu_second']:.0f} per CPU "
          f"second); outcomes {dict(outcomes)}; load average {os.getloadavg()[0]:.1f}; {out}", flush=True)


def _renumbered(raw: bytes, tag: str) -> bytes:
    """The message with a Message-ID of its own (added when it had none)."""
    header_end = raw.find(b"\n\n") if b"\r\n\r\n" not in raw else raw.find(b"\r\n\r\n")
    head = raw[:header_end] if header_end >= 0 else raw
    new_id = f"<{tag}@bench.example.org>".encode()
    if re.search(rb"(?im)^message-id:", head):
        return re.sub(rb"(?im)^message-id:[^\r\n]*", b"Message-ID: " + new_id, raw, count=1)
    return b"Message-ID: " + new_id + b"\r\n" + raw


if __name__ == "__main__":
    main()
