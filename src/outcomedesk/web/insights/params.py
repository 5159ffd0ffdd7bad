"""What a dashboard request asks for: who may see it, the period and the scope, and the links that keep them.

A period is `from`/`to` (first and last day, included) or a preset; the scope is any of the dimensions of
`insights.scope.DIMENSIONS`, limited to the desks the person sees. Errors name the parameter, so the form
can show them beside the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput
from outcomedesk.insights import periods
from outcomedesk.insights.dashboard import quarter_of
from outcomedesk.insights.periods import Period, zone
from outcomedesk.insights.scope import DIMENSIONS, Scope, resolve_scope

PRESETS = (
    ("last30", "Last 30 days"), ("month", "This month"), ("last_month", "Last month"),
    ("quarter", "This quarter"), ("last_quarter", "Last quarter"), ("last90", "Last 90 days"),
)


def today() -> date:
    return clock.now().astimezone(zone()).date()


def preset_days(name: str, day: date) -> tuple[date, date]:
    """First and last day (included) of a preset period, relative to `day`."""
    if name == "month":
        return day.replace(day=1), day
    if name == "last_month":
        last = day.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if name == "quarter":
        return quarter_of(day).start.astimezone(zone()).date(), day
    if name == "last_quarter":
        start = quarter_of(day).start.astimezone(zone()).date()
        previous = quarter_of(start - timedelta(days=1))
        return previous.start.astimezone(zone()).date(), start - timedelta(days=1)
    if name == "last90":
        return day - timedelta(days=89), day
    return day - timedelta(days=29), day


@dataclass
class Ask:
    """One dashboard request: period, scope, the raw values for the form, and errors by parameter."""

    period: Period
    scope: Scope
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    executive: bool = False

    @property
    def first_day(self) -> str:
        return self.period.start.astimezone(zone()).date().isoformat()

    @property
    def last_day(self) -> str:
        return self.period.last_day.isoformat()

    def query(self, **overrides: Any) -> str:
        """The query string of this request with some values replaced (None removes one)."""
        params = {"from": self.first_day, "to": self.last_day}
        params.update({k: v for k, v in self.values.items() if k in DIMENSIONS and v})
        for key, value in overrides.items():
            if value is None or value == "":
                params.pop(key, None)
            else:
                params[key] = str(value)
        return urlencode(params)

    def drill(self, figure: str, period: Period | None = None, **filters: Any) -> str:
        """The drill-down list of the tickets behind `figure`, in this scope (narrowed by `filters`)."""
        chosen = period or self.period
        overrides: dict[str, Any] = {"figure": figure, **filters}
        overrides["from"] = chosen.start.astimezone(zone()).date().isoformat()
        overrides["to"] = chosen.last_day.isoformat()
        return f"{reverse('insights:tickets')}?{self.query(**overrides)}"


def check_access(request: HttpRequest) -> bool:
    """Refuses people who see no figures; True for an executive."""
    if not policy.can(request.user, policy.VIEW, policy.Capability.INSIGHTS):
        raise PermissionDenied("the insights are for desk staff, service managers and executives")
    return policy.can(request.user, policy.VIEW, policy.Capability.EXECUTIVE)


def parse(request: HttpRequest, *, default_preset: str = "last30") -> Ask:
    """The period and scope of a dashboard request. With errors, the default period and the whole scope are
    used, and `errors` says what was wrong."""
    executive = check_access(request)
    desks = policy.desk_ids(request.user, policy.VIEW, policy.Kind.FIGURES)
    values = {k: (request.GET.get(k) or "").strip() for k in ("from", "to", "preset", *DIMENSIONS)}
    errors: dict[str, str] = {}
    first, last = preset_days(values["preset"] or default_preset, today())
    if values["preset"] and values["preset"] not in dict(PRESETS):
        errors["preset"] = f"must be one of {', '.join(dict(PRESETS))}"
    period = periods.between(first.isoformat(), last.isoformat())
    if not values["preset"] and (values["from"] or values["to"]):
        try:
            period = periods.between(values["from"], values["to"] or values["from"])
        except InvalidInput as exc:
            errors.update(exc.errors)
    try:
        scope = resolve_scope(desks, **{name: values[name] for name in DIMENSIONS})
    except InvalidInput as exc:
        errors.update(exc.errors)
        scope = Scope(desk_ids=desks)
    return Ask(period, scope, values, errors, executive)
