"""The dashboards' charts, drawn server-side as inline SVG (core.charts): trends, breakdowns, a distribution.

Every bar and every point of the first series links to the tickets it counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString

from outcomedesk.core.charts import Bar, Series, bar_chart, line_chart
from outcomedesk.insights.dashboard import Group
from outcomedesk.insights.trends import Trend
from outcomedesk.web.insights.params import Ask


@dataclass(frozen=True)
class Chart:
    title: str
    svg: SafeString
    note: str = ""


def _chart(svg: SafeString, title: str, note: str = "") -> Chart:
    return Chart(title, svg, note)


def trend_charts(ask: Ask, trend: Trend) -> dict[str, Chart]:
    labels = trend.labels()
    opened_links: list[str | None] = [ask.drill("ticket_volume", period=b) for b in trend.buckets]
    resolved_links: list[str | None] = [ask.drill("mttr", period=b) for b in trend.buckets]
    backlog_links: list[str | None] = [ask.drill("backlog", period=b) for b in trend.buckets]
    return {
        "volume": _chart(line_chart(
            [Series("Opened", list(map(float, trend.opened))), Series("Resolved", list(map(float, trend.resolved)))],
            x_labels=labels, title="Tickets opened and resolved", hrefs=opened_links,
        ), "Tickets opened and resolved", f"per {trend.step}; a point opens the tickets opened that {trend.step}"),
        "backlog": _chart(line_chart([Series("Backlog", list(map(float, trend.backlog)))], x_labels=labels,
                                     title="Backlog at the end of each " + trend.step, hrefs=backlog_links),
                          "Backlog", f"open at the end of each {trend.step}"),
        "mttr": _chart(line_chart([Series("MTTR median", trend.mttr_median_hours)], x_labels=labels,
                                  title="MTTR median (hours)", unit="h", hrefs=resolved_links),
                       "MTTR median", f"hours, of the tickets resolved each {trend.step}"),
        "sla": _chart(line_chart(
            [Series("SLA compliance", [None if v is None else v * 100 for v in trend.sla_compliance])],
            x_labels=labels, title="SLA compliance (%) of targets completed", unit="%",
            hrefs=[ask.drill("sla_breaches", period=b) for b in trend.buckets],
        ), "SLA compliance", f"% of the targets completed each {trend.step}; a point opens the breaches"),
        "csat": _chart(line_chart([Series("CSAT", trend.csat)], x_labels=labels, title="CSAT (1-5)",
                                  hrefs=[ask.drill("csat", period=b) for b in trend.buckets]),
                       "CSAT", f"mean score (1-5) of the responses each {trend.step}"),
    }


def service_bars(ask: Ask, groups: list[Group], limit: int = 12) -> Chart:
    bars = [Bar(g.label, g.figures["ticket_volume"], g.previous["ticket_volume"],
                ask.drill("ticket_volume", service=g.key if g.key is not None else None))
            for g in groups[:limit]]
    return Chart("By service", bar_chart(bars, title="Tickets opened by service (tick: previous period)"),
                 "tickets opened; the tick marks the previous period")


def desk_bars(ask: Ask, groups: list[Group]) -> Chart:
    bars = [Bar(g.label, g.figures["ticket_volume"], g.previous["ticket_volume"],
                ask.drill("ticket_volume", desk=g.key)) for g in groups]
    return Chart("By desk", bar_chart(bars, title="Tickets opened by desk (tick: previous period)"),
                 "tickets opened; the tick marks the previous period")


def priority_bars(ask: Ask, priorities: list[tuple[int, str, int, int]]) -> Chart:
    bars = [Bar(label, backlog, None, ask.drill("backlog", priority=value)) for value, label, _, backlog in priorities]
    return Chart("Backlog by priority", bar_chart(bars, title="Backlog at the end of the period by priority"),
                 "open at the end of the period")


def resolution_histogram(bands: list[tuple[str, int]]) -> Chart:
    """How long resolution took, in the bands of insights.dashboard.RESOLUTION_BANDS."""
    svg = bar_chart([Bar(label, count) for label, count in bands] if any(n for _, n in bands) else [],
                    title="Tickets resolved by time to resolve")
    return Chart("Time to resolve", svg, "tickets resolved in the period, by hours from opened to resolved")


def cost_bars(rows: list[dict[str, object]], title: str) -> Chart:
    bars = [Bar(str(r["service"]), float(r["downtime_cost"])) for r in rows[:12]]  # type: ignore[arg-type]
    return Chart(title, bar_chart(bars, title=title), "impact windows that started in the period")
