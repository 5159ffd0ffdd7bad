"""Writes about business services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.text import slugify

from outcomedesk.accounts.models import Desk, User
from outcomedesk.cmdb.models import BusinessService, Criticality
from outcomedesk.core.errors import InvalidInput


def create_service(
    name: str,
    desk: Desk,
    *,
    slug: str = "",
    owner: User | None = None,
    description: str = "",
    criticality: int = Criticality.MEDIUM,
    users_served: int = 0,
    cost_of_downtime_per_hour: Decimal | int | str = 0,
    sla_target_percent: Decimal | int | str = Decimal("95"),
    experience_target: Decimal | int | str = Decimal("4.0"),
) -> BusinessService:
    """A business service with its owner and what an hour of its outage costs."""
    errors: dict[str, str] = {}
    name = name.strip()
    slug = slug or slugify(name)
    if not name:
        errors["name"] = "is required"
    elif BusinessService.objects.filter(name__iexact=name).exists():
        errors["name"] = f"a service named {name!r} exists already"
    if BusinessService.objects.filter(slug=slug).exists():
        errors["slug"] = f"a service {slug!r} exists already"
    if criticality not in Criticality.values:
        errors["criticality"] = "use 1 (mission critical) to 4 (low)"
    if users_served < 0:
        errors["users_served"] = "cannot be negative"
    numbers: dict[str, Any] = {}
    for field, value, low, high in (
        ("cost_of_downtime_per_hour", cost_of_downtime_per_hour, 0, None),
        ("sla_target_percent", sla_target_percent, 0, 100),
        ("experience_target", experience_target, 1, 5),
    ):
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            errors[field] = f"{value!r} is not a number"
            continue
        if number < low or (high is not None and number > high):
            errors[field] = f"must be between {low} and {high}" if high is not None else f"must be {low} or more"
        numbers[field] = number
    if errors:
        raise InvalidInput(errors)
    return BusinessService.objects.create(
        name=name, slug=slug, desk=desk, owner=owner, description=description, criticality=criticality,
        users_served=users_served, **numbers,
    )
