"""Concurrent keep-alive HTTP clients opening tickets through POST /api/v1/tickets for a fixed time."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from typing import Any

from benchmarks.data import TextMaker


def _client(port: int, key: str, stop_at: float, seed: int, out: list[tuple[float, int]]) -> None:
    text = TextMaker(random.Random(seed))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Connection": "keep-alive"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop_at:
        body = json.dumps({
            "desk": "it", "title": text.title(), "description": text.paragraph(15, 60),
            "impact": random.choice((2, 3)), "urgency": random.choice((2, 3)),
        })
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/tickets", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out.append(((time.perf_counter() - start) * 1000, status))
    conn.close()


def drive(port: int, key: str, *, clients: int, seconds: float, warmup: float = 2.0) -> dict[str, Any]:
    """Run `clients` threads for `warmup` + `seconds`; count only requests that finished after the warm-up."""
    results: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    begin = time.monotonic()
    stop_at = begin + warmup + seconds
    threads = [threading.Thread(target=_client, args=(port, key, stop_at, n, results[n]), daemon=True)
               for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    counted_from = [len(r) for r in results]
    measured_start = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - measured_start
    samples = [s for r, start in zip(results, counted_from, strict=True) for s in r[start:]]
    ok = [ms for ms, status in samples if status == 201]
    ok.sort()
    return {
        "per_second": len(ok) / elapsed,
        "created": len(ok),
        "errors": len(samples) - len(ok),
        "error_statuses": sorted({status for _, status in samples if status != 201}),
        "seconds": elapsed,
        "p50_ms": ok[len(ok) // 2] if ok else float("nan"),
        "p99_ms": ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else float("nan"),
    }
