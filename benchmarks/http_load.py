"""Concurrent keep-alive HTTP clients opening tickets through a JSON API for a fixed time.

By default the clients open Outcomedesk tickets (POST /api/v1/tickets with a bearer token); a `CreateRequest`
describes another system's door (benchmarks/peer_create.py drives django-helpdesk's with one).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.text import TextMaker


@dataclass(frozen=True)
class CreateRequest:
    """How one system opens a ticket: the path, the headers, a JSON body made from the text, the status of success."""

    path: str
    headers: dict[str, str]
    body: Callable[[TextMaker, random.Random], dict[str, Any]]
    created_status: int = 201


def outcomedesk_create(key: str, desk: str = "it", *, levels: bool = True) -> CreateRequest:
    """POST /api/v1/tickets as the bearer token's person, into `desk`, with impact and urgency 2 or 3; without
    them when not `levels` (the AI's triage then predicts both: it never touches a value a person gave)."""

    def body(text: TextMaker, rng: random.Random) -> dict[str, Any]:
        found: dict[str, Any] = {"desk": desk, "title": text.title(), "description": text.paragraph(15, 60)}
        if levels:
            found.update(impact=rng.choice((2, 3)), urgency=rng.choice((2, 3)))
        return found

    return CreateRequest("/api/v1/tickets", {"Authorization": f"Bearer {key}"}, body)


def _client(port: int, request: CreateRequest, stop_at: float, seed: int, out: list[tuple[float, int]]) -> None:
    rng = random.Random(seed)
    text = TextMaker(rng)
    headers = {**request.headers, "Content-Type": "application/json", "Connection": "keep-alive"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop_at:
        body = json.dumps(request.body(text, rng))
        start = time.perf_counter()
        try:
            conn.request("POST", request.path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out.append(((time.perf_counter() - start) * 1000, status))
    conn.close()


def drive(port: int, key: str = "", *, clients: int, seconds: float, warmup: float = 2.0,
          request: CreateRequest | None = None) -> dict[str, Any]:
    """Run `clients` threads for `warmup` + `seconds`; count only requests that finished after the warm-up.

    `request` is Outcomedesk's ticket creation with the bearer token `key` unless given.
    """
    request = request or outcomedesk_create(key)
    results: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    begin = time.monotonic()
    stop_at = begin + warmup + seconds
    threads = [threading.Thread(target=_client, args=(port, request, stop_at, n, results[n]), daemon=True)
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
    ok = [ms for ms, status in samples if status == request.created_status]
    ok.sort()
    return {
        "per_second": len(ok) / elapsed,
        "created": len(ok),
        "errors": len(samples) - len(ok),
        "error_statuses": sorted({status for _, status in samples if status != request.created_status}),
        "seconds": elapsed,
        "p50_ms": ok[len(ok) // 2] if ok else float("nan"),
        "p99_ms": ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else float("nan"),
    }
