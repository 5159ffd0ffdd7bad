"""Figures for people in templates: `{{ value|figure:"share" }}` -> "93.4 %" (see insights.units.show)."""

from __future__ import annotations

from typing import Any

from django import template

from outcomedesk.insights.units import show

register = template.Library()


@register.filter
def figure(value: Any, unit: str = "") -> str:
    return show(unit, value)


@register.filter
def change(value: float | None) -> str:
    """A relative change: "+12 %", "-3 %"; nothing when there is none to show."""
    if value is None:
        return ""
    return f"{value * 100:+.0f} %"
