"""A report: the figures of a period beside those of the previous period, in total and by one dimension, as
JSON (METRICS.md names), CSV or a text table."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from outcomedesk.accounts.models import AssignmentGroup, Desk
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core.csv_export import csv_writer
from outcomedesk.core.models import Channel
from outcomedesk.insights.figures import TOTAL, compute, empty_figures
from outcomedesk.insights.periods import Period
from outcomedesk.insights.scope import Scope
from outcomedesk.tickets.models import Category, Priority, TicketType

FORMATS = ("json", "csv", "table")


def labels(by: str, keys: list[Any]) -> dict[Any, str]:
    """Readable names of the values of a dimension."""
    ids = [k for k in keys if k is not None]
    found: dict[Any, str]
    if by == "priority":
        found = {k: Priority(k).label for k in ids if k in Priority.values}
    elif by == "channel":
        found = {k: Channel(k).label for k in ids if k in Channel.values}
    elif by == "type":
        found = {k: TicketType(k).label for k in ids if k in TicketType.values}
    else:
        model: Any = {"desk": Desk, "service": BusinessService, "group": AssignmentGroup, "category": Category}[by]
        found = {pk: str(name) for pk, name in model.objects.filter(pk__in=ids).values_list("pk", "name")}
    return {k: found.get(k, "(none)" if k is None else str(k)) for k in keys}


def build(scope: Scope, period: Period, by: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    previous_period = period.previous()
    current = compute(scope, period, by, now)
    previous = compute(scope, previous_period, by, now)
    report: dict[str, Any] = {
        "period": period.as_json(),
        "previous_period": previous_period.as_json(),
        "scope": scope.as_json(),
        "figures": current[TOTAL],
        "previous": previous[TOTAL],
    }
    if by:
        keys = sorted({*current, *previous} - {TOTAL}, key=lambda k: (k is None, str(k) if k is not None else ""))
        if by == "priority":
            keys.sort(key=lambda k: (k is None, k or 0))
        names = labels(by, keys)
        empty = empty_figures()
        report["by"] = {
            "dimension": by,
            "groups": [
                {"key": key, "label": names[key], "figures": current.get(key, empty),
                 "previous": previous.get(key, empty)}
                for key in keys
            ],
        }
    return report


# --- flat views -------------------------------------------------------------------------------------------

def flatten(figures: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """("mttr.median_hours", 3.2) pairs, in the order of the figures."""
    for name, value in figures.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["scope", "figure", "value", "previous", "from", "to", "previous_from", "previous_to"])
    period, previous_period = report["period"], report["previous_period"]
    rows = [("all", report["figures"], report["previous"])]
    if "by" in report:
        rows += [(f"{report['by']['dimension']}={g['label']}", g["figures"], g["previous"])
                 for g in report["by"]["groups"]]
    for name, figures, previous in rows:
        before = dict(flatten(previous))
        for figure, value in flatten(figures):
            writer.writerow([name, figure, _plain(value), _plain(before.get(figure)), period["from"], period["to"],
                             previous_period["from"], previous_period["to"]])
    return out.getvalue()


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 6)
    return value


def human(figure: str, value: Any) -> str:
    """A figure for people: shares as %, hours with one decimal."""
    if value is None:
        return "-"
    if figure.endswith(("_rate", "_share")) or (figure.startswith("sla_compliance.") and not figure.endswith(
        (".met", ".breached")
    )):
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


TABLE_FIGURES = (
    "ticket_volume", "backlog", "time_to_first_response.median_hours", "time_to_first_response.p90_hours",
    "mttr.mean_hours", "mttr.median_hours", "mttr.p90_hours", "mttr_business_hours.median_business_hours",
    "first_touch_resolution_rate", "first_contact_resolution_rate", "sla_compliance.overall",
    "sla_compliance.response", "sla_compliance.resolution", "sla_compliance.ola", "reopen_rate",
    "reassignment_count.mean", "escalation_count", "csat", "csat_satisfied_share", "survey_response_rate",
    "requester_wait_hours.median_hours", "outage_hours", "downtime_cost", "productivity_loss_user_hours",
)


def to_table(report: dict[str, Any]) -> str:
    period, previous_period = report["period"], report["previous_period"]
    lines = [f"Period {period['from']} to {period['to']} (previous: {previous_period['from']} to "
             f"{previous_period['to']})"]
    if report["scope"]:
        lines.append("Scope: " + ", ".join(f"{k}={v}" for k, v in report["scope"].items()))
    columns: list[tuple[str, dict[str, Any], dict[str, Any]]] = [("all", report["figures"], report["previous"])]
    if "by" in report:
        columns += [(g["label"], g["figures"], g["previous"]) for g in report["by"]["groups"]]
    flat = [(title, dict(flatten(now)), dict(flatten(before))) for title, now, before in columns]
    header = ["figure"]
    for title, _, _ in flat:
        header += [title[:18], "previous"]
    rows = [header]
    for figure in TABLE_FIGURES:
        row = [figure]
        for _, now, before in flat:
            row += [human(figure, now.get(figure)), human(figure, before.get(figure))]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"
