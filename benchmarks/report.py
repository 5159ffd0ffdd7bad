"""The markdown table of one run's results, with each figure next to its target."""

from __future__ import annotations

from typing import Any

LABELS = {
    "queue_api": "Agent queue, API (`GET /api/v1/tickets?group=..&sort=priority&page_size=50`)",
    "queue_html": "Agent queue, HTML (`/desk/?group=..`)",
    "ticket_api": "Ticket detail, API (`/api/v1/tickets/<n>`)",
    "timeline_api": "Ticket timeline (50 entries), API",
    "ticket_html": "Ticket page (50 timeline entries), HTML",
    "search_api": "Full-text search, API (`/api/v1/search?q=..`)",
}


def _verdict(value: float, target: float, lower_is_better: bool = True) -> str:
    ok = value <= target if lower_is_better else value >= target
    return "meets" if ok else "**misses**"


def markdown(results: dict[str, Any]) -> str:
    phases = results.get("phases", {})
    lines = [
        f"### {results['db']} — {results.get('tickets_in_db', 0):,} tickets",
        "",
        "| Measure | median p50 | median p99 | worst-run p99 | CPU p50 / p99 | target | |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, label in LABELS.items():
        row = results["server_ms"].get(name)
        target = results["targets_ms"][name]
        if row is None:
            continue
        if "error" in row:
            lines.append(f"| {label} | — | — | — | — | p99 ≤ {target} ms | not measured: {row['error'][:80]} |")
            continue
        cpu = row.get("cpu", {"p50_median": float("nan"), "p99_median": float("nan")})
        lines.append(
            f"| {label} | {row['p50_median']:.1f} ms | {row['p99_median']:.1f} ms | {row['p99_worst_run']:.1f} ms "
            f"| {cpu['p50_median']:.1f} / {cpu['p99_median']:.1f} ms | p99 ≤ {target} ms "
            f"| {_verdict(row['p99_median'], target)} |"
        )
    for label, row in results.get("create_per_second", {}).items():
        if label == "server_stderr":
            continue
        runs = ", ".join(f"{r['per_second']:.0f}" for r in row["runs"])
        lines.append(f"| Ticket creation over HTTP, {label}, {row['clients']} clients | {row['median']:.0f}/s "
                     f"(runs: {runs}) | | | | ≥ 300/s | {_verdict(row['median'], 300, lower_is_better=False)} |")
    if "load_s" in phases:
        lines.append(f"| Loading the tickets (`tickets.bulk.load_tickets`) | {phases['load_s']:.0f} s | | "
                     f"| | ≤ 300 s | {_verdict(phases['load_s'], 300)} |")
        lines.append(f"| Building the search index | {phases['index_s']:.0f} s | | | | ≤ 300 s "
                     f"| {_verdict(phases['index_s'], 300)} |")
    lines.append("")
    return "\n".join(lines)
