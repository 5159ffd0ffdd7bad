"""Figures for people, and the way to a figure in a figures dict: one definition for pages, reports and the
improvement register."""

from __future__ import annotations

from typing import Any

from django.conf import settings

NONE = "\u2014"  # em dash: nothing was measured


def pick(figures: dict[str, Any], path: str) -> Any:
    """The value at "mttr.median_hours" in a figures dict; None where the path leads nowhere."""
    found: Any = figures
    for part in path.split("."):
        if not isinstance(found, dict):
            return None
        found = found.get(part)
    return found


def show(unit: str, value: Any) -> str:
    """A value for people by its unit: hours "3.2 h", share "85.0 %", score "4.20", money "1,200 EUR",
    user_hours "40 user-h", count "1,234"; a dash for no value."""
    if value is None or value == "":
        return NONE
    number = float(value)
    if unit == "hours":
        return f"{number:,.1f} h"
    if unit == "share":
        return f"{number * 100:.1f} %"
    if unit == "score":
        return f"{number:.2f}"
    if unit == "money":
        return f"{number:,.0f} {settings.OUTCOMEDESK_CURRENCY}"
    if unit == "user_hours":
        return f"{number:,.0f} user-h"
    return f"{number:,.0f}" if number.is_integer() or abs(number) >= 100 else f"{number:,.1f}"
