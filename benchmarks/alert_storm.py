"""An alert storm: 10,000 alerts in one minute through Alertmanager's webhook, against `outcomedesk serve` as
deployed (its worker threads running the side effects). The goal of issue 13: absorbed with bounded memory and no
growing backlog.

    .venv/bin/python -m benchmarks.alert_storm --db sqlite
    .venv/bin/python -m benchmarks.alert_storm --db postgres     # database outcomedesk_bench_storm, re-created

The storm is shaped as Alertmanager sends one: 100 alert groups (say, a service per group) whose alerts grow over
the minute; each group is notified 5 times, and each notification carries 20 alerts, 10 that are new and 10 heard
before (Alertmanager re-sends a group's alerts with every notification). That is 500 notifications, 10,000 alerts,
5,000 distinct alerts and 100 incidents, sent on a fixed schedule (one notification every 120 ms) by 4 concurrent
senders, as Alertmanager's dispatcher does.

Measured: the latency of each notification, how late each one was sent against its schedule (a backlog in the
server shows as a lag that grows), the resident memory of the server process every half second, and the
background queue (the tasks the incidents queued: triage, e-mails) during and after the storm.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.net import free_port

from benchmarks import intake_mail

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
GROUPS, ROUNDS, NEW, REPEATED = 100, 5, 10, 10  # 100 groups x 5 notifications x (10 new + 10 repeated)
SECONDS, SENDERS = 60.0, 4
PG_DB = "outcomedesk_bench_storm"


def configure(db: str, data_dir: Path) -> None:
    intake_mail.configure(db, data_dir, pg_db=PG_DB, sqlite_name="storm.sqlite3")
    os.environ.pop("CELERY_BROKER_URL", None)  # the embedded default: serve's own worker threads


def notifications(start: datetime) -> list[dict[str, Any]]:
    """The storm's 500 notifications in the order they are sent: round after round over the groups."""
    out = []
    for round_ in range(ROUNDS):
        for group in range(GROUPS):
            alerts = []
            fresh = range(round_ * NEW, round_ * NEW + NEW)
            again = range(max(0, round_ * NEW - REPEATED), round_ * NEW) if round_ else range(0, REPEATED)
            for n in [*fresh, *again][: NEW + REPEATED]:
                alerts.append({
                    "status": "firing",
                    "labels": {"alertname": "InstanceDown", "service": f"service-{group}", "instance": f"node-{n}:9100",
                               "severity": "critical" if group % 10 == 0 else "warning"},
                    "annotations": {"summary": f"node-{n} of service-{group} is down"},
                    "startsAt": (start + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": f"{group:04x}{n:012x}",
                })
            out.append({"version": "4", "groupKey": f'{{}}:{{service="service-{group}"}}', "status": "firing",
                        "receiver": "outcomedesk", "groupLabels": {"service": f"service-{group}"},
                        "commonLabels": {"service": f"service-{group}"}, "commonAnnotations": {},
                        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0, "alerts": alerts})
    return out


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children, in kB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def queued(data_dir: Path) -> int:
    """Tasks waiting in the embedded broker's folder."""
    folder = data_dir / "queue" / "in"
    return len(list(folder.iterdir())) if folder.exists() else 0


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer on port {port} within {seconds:.0f} s")


def storm(port: int, key: str, payloads: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Send each payload at its time (i x 60 s / 500) from 4 senders; returns each one's lag, latency, status."""
    interval = SECONDS / len(payloads)
    results: list[dict[str, float]] = [{} for _ in payloads]
    lock = threading.Lock()
    next_index = [0]
    begin = time.monotonic() + 0.5

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Connection": "keep-alive"}
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= len(payloads):
                return
            due = begin + i * interval
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            body = json.dumps(payloads[i])
            try:
                conn.request("POST", "/api/v1/intake/alertmanager", body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = 0
            done = time.monotonic()
            results[i] = {"lag": sent - due, "latency": done - sent, "status": status, "done": done - begin}

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_once(args: argparse.Namespace, run: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="outcomedesk-bench-storm-"))
    configure(args.db, data_dir)
    env = dict(os.environ)
    subprocess.run([sys.executable, "-m", "outcomedesk", "migrate", "-v", "0"], check=True, env=env)
    setup = (
        "import django; django.setup()\n"
        "from outcomedesk.accounts import services as a\n"
        "from outcomedesk.accounts.policy import OPERATOR\n"
        "from outcomedesk.intake.alertmanager import services as s\n"
        "desk = a.create_desk('ops', 'Operations')\n"
        "bot = a.create_user('prometheus', email='prometheus@example.org')\n"
        "a.add_to_desk(bot, desk)\n"
        "boss = a.create_user('boss', email='boss@example.org')\n"
        "a.add_to_desk(boss, desk, 'manager')\n"
        "s.save_alert_source(boss, {'name': 'Prometheus', 'desk': desk, 'account': bot,\n"
        "                           'resolve_when_cleared': True})\n"
        "print(a.create_token('prometheus').key)\n"
    )
    key = subprocess.run([sys.executable, "-c", setup], check=True, env=env, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "outcomedesk", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        samples: list[tuple[float, int, int]] = []
        stop = threading.Event()
        t0 = time.monotonic()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic() - t0, rss_kb(server.pid), queued(data_dir)))
                stop.wait(0.5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        print(f"run {run}: storm of {GROUPS * ROUNDS * (NEW + REPEATED):,} alerts in {SECONDS:.0f} s", flush=True)
        results = storm(port, key, notifications(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)))
        storm_end = time.monotonic() - t0
        # Then the background work the incidents queued: how long until the queue is empty again.
        drained_at = None
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline:
            if queued(data_dir) == 0:
                drained_at = time.monotonic() - t0
                break
            time.sleep(0.5)
        stop.set()
        sampler.join()
    finally:
        server.terminate()
        server.wait(timeout=60)
    ok = [r for r in results if r.get("status") == 200]
    lags, latencies = [r["lag"] for r in results], [r["latency"] for r in results]
    tenth = len(results) // 10
    during = [s for s in samples if s[0] <= storm_end]
    summary = {
        "run": run, "notifications": len(results), "accepted": len(ok),
        "statuses": sorted({int(r.get("status", 0)) for r in results}),
        "alerts_accepted": len(ok) * (NEW + REPEATED),
        "storm_seconds": round(max(r["done"] for r in results), 1),
        "latency_p50_ms": round(pct(latencies, 0.5) * 1000), "latency_p99_ms": round(pct(latencies, 0.99) * 1000),
        "lag_first_tenth_p50_ms": round(statistics.median(lags[:tenth]) * 1000),
        "lag_last_tenth_p50_ms": round(statistics.median(lags[-tenth:]) * 1000),
        "lag_max_ms": round(max(lags) * 1000),
        "rss_start_mb": round(samples[0][1] / 1024), "rss_peak_mb": round(max(s[1] for s in samples) / 1024),
        "rss_end_mb": round(samples[-1][1] / 1024),
        "queue_peak": max(s[2] for s in samples), "queue_at_storm_end": during[-1][2] if during else None,
        "queue_drained_seconds_after_storm": round(drained_at - storm_end, 1) if drained_at else None,
    }
    print(json.dumps(summary), flush=True)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drain", type=float, default=300, help="Seconds to wait for the background queue")
    args = parser.parse_args(argv)
    runs = [run_once(args, n + 1) for n in range(args.runs)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    out = {"db": args.db, "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
           "cpus": os.cpu_count(), "load_average_at_end": [round(x, 2) for x in load], "runs": runs}
    path = RESULTS / f"alert_storm_{args.db}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"results: {path}", flush=True)


if __name__ == "__main__":
    main()
