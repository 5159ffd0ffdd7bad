"""Delivery figures (METRICS.md "Business outcome figures": change_lead_time, change_frequency,
change_failure_rate, failed_change_recovery_time) come from change enablement, which arrives in a later issue.

The figures already have their place in every report: a *delivery source* fills them. A source is any object
with `rows(scope, period, by) -> {key: raw values}` (key `figures.TOTAL` for the whole scope, else the value of
the `by` dimension), named by the setting OUTCOMEDESK_DELIVERY_SOURCE (a dotted path to a class or an
instance). The raw values it may give:

    changes_implemented      int    changes implemented in the period
    change_lead_median_s     float  median of implemented_at - requested_at, in seconds
    changes_failed           int    implemented changes that caused an incident or were rolled back
    change_recovery_median_s float  median seconds from the start of a change-caused incident to its resolution

Until changes exist, `NoChanges` gives nothing and the figures read None (not 0: nothing was measured).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:  # figures imports this module; the types only
    from outcomedesk.insights.periods import Period
    from outcomedesk.insights.scope import Scope


class DeliverySource(Protocol):
    def rows(self, scope: Scope, period: Period, by: str | None) -> dict[Any, dict[str, Any]]: ...


class NoChanges:
    """The source while there is no change enablement: no figures."""

    def rows(self, scope: Scope, period: Period, by: str | None) -> dict[Any, dict[str, Any]]:
        return {}


@cache
def _source(path: str) -> DeliverySource:
    found = import_string(path)
    return found() if isinstance(found, type) else found


def source() -> DeliverySource:
    return _source(getattr(settings, "OUTCOMEDESK_DELIVERY_SOURCE", "outcomedesk.insights.delivery.NoChanges"))


def assemble(values: dict[str, Any], weeks: float) -> dict[str, Any]:
    """The four delivery figures from a group's raw values (see the module docstring)."""
    implemented = values.get("changes_implemented")
    failed = values.get("changes_failed")
    lead = values.get("change_lead_median_s")
    recovery = values.get("change_recovery_median_s")
    return {
        "change_lead_time": {"median_hours": None if lead is None else lead / 3600.0, "changes": implemented},
        "change_frequency": None if implemented is None or weeks <= 0 else implemented / weeks,
        "change_failure_rate": (failed or 0) / implemented if implemented else None,
        "failed_change_recovery_time": {"median_hours": None if recovery is None else recovery / 3600.0},
    }
