"""The figures an improvement initiative may target: a registry over the figures of METRICS.md.

Each entry names where its value sits in the figures `insights.figures.compute` returns, which way is better,
and how to show it. Values are kept in the figure's own unit (hours, shares from 0 to 1, a 1-5 score, a count
or a cost), as the insights API gives them; only display turns shares into percentages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from outcomedesk.insights.units import pick, show

Direction = Literal["lower", "higher"]

# Sums over a period (tickets opened, downtime cost, user hours lost) grow with its length: a baseline of
# three months and a current period of three weeks compare only per the same length of time.
PER_DAYS = 30


@dataclass(frozen=True)
class TrackedFigure:
    """A figure an initiative may target."""

    key: str
    label: str
    path: str  # into the figures dict: "mttr.median_hours"
    direction: Direction
    unit: Literal["hours", "share", "score", "count", "cost", "user_hours"]
    per_period: bool = False  # a sum over the period, compared per PER_DAYS days
    support: tuple[str, ...] = ()  # the figures shown beside it, behind the benefit

    @property
    def better(self) -> str:
        return "lower is better" if self.direction == "lower" else "higher is better"

    @property
    def bounds(self) -> tuple[float, float | None]:
        """The values the figure can take: a target outside them can never be reached."""
        if self.unit == "share":
            return 0.0, 1.0
        if self.unit == "score":
            return 1.0, 5.0
        return 0.0, None

    @property
    def unit_hint(self) -> str:
        return {
            "hours": "hours", "share": "a share from 0 to 1 (0.85 is 85 %)", "score": "a score from 1 to 5",
            "count": "tickets" + (f" per {PER_DAYS} days" if self.per_period else ""),
            "cost": f"cost per {PER_DAYS} days", "user_hours": f"user hours per {PER_DAYS} days",
        }[self.unit]


TRACKED_FIGURES: dict[str, TrackedFigure] = {f.key: f for f in (
    TrackedFigure("mttr_median_hours", "Time to resolve (median hours)", "mttr.median_hours", "lower", "hours",
                  support=("mttr.mean_hours", "mttr.p90_hours", "mttr.tickets")),
    TrackedFigure("sla_compliance", "SLA compliance", "sla_compliance.overall", "higher", "share",
                  support=("sla_compliance.met", "sla_compliance.breached")),
    TrackedFigure("reopen_rate", "Reopen rate", "reopen_rate", "lower", "share", support=("mttr.tickets",)),
    TrackedFigure("first_touch_resolution_rate", "First-touch resolution rate", "first_touch_resolution_rate",
                  "higher", "share", support=("mttr.tickets",)),
    TrackedFigure("csat", "Satisfaction (CSAT, 1-5)", "csat", "higher", "score",
                  support=("csat_satisfied_share", "surveys.responses")),
    TrackedFigure("downtime_cost", f"Downtime cost per {PER_DAYS} days", "downtime_cost", "lower", "cost",
                  per_period=True, support=("downtime_cost", "outage_hours")),
    TrackedFigure("ticket_volume", f"Tickets opened per {PER_DAYS} days", "ticket_volume", "lower", "count",
                  per_period=True, support=("ticket_volume",)),
    TrackedFigure("backlog", "Backlog (open tickets at the period's end)", "backlog", "lower", "count",
                  support=("ticket_volume",)),
    TrackedFigure("time_to_first_response_median_hours", "Time to first response (median hours)",
                  "time_to_first_response.median_hours", "lower", "hours",
                  support=("time_to_first_response.p90_hours", "time_to_first_response.tickets")),
    TrackedFigure("productivity_loss_user_hours", f"Productivity lost per {PER_DAYS} days (user hours)",
                  "productivity_loss_user_hours", "lower", "user_hours", per_period=True,
                  support=("productivity_loss_user_hours", "outage_hours")),
)}
FIGURE_CHOICES = [(f.key, f.label) for f in TRACKED_FIGURES.values()]

# Names of the supporting figures, as totals over the period measured (not per PER_DAYS days).
SUPPORT_LABELS = {
    "mttr.mean_hours": "Mean hours to resolve", "mttr.p90_hours": "90th percentile hours to resolve",
    "mttr.tickets": "Tickets resolved", "sla_compliance.met": "SLA targets met",
    "sla_compliance.breached": "SLA targets breached", "csat_satisfied_share": "Satisfied share (4 or 5)",
    "surveys.responses": "Survey responses", "downtime_cost": "Downtime cost in the period",
    "outage_hours": "Outage hours", "ticket_volume": "Tickets opened in the period",
    "time_to_first_response.p90_hours": "90th percentile hours to first response",
    "time_to_first_response.tickets": "Tickets responded to",
    "productivity_loss_user_hours": "User hours lost in the period",
}


value_at = pick  # the value at "mttr.median_hours" in a figures dict


def show_support(path: str, value: Any) -> str:
    if path.endswith(("_hours", "outage_hours")):
        return show("hours", value)
    if path.endswith("_share"):
        return show("share", value)
    return show("count", value)
