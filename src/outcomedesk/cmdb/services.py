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
    watermelon_reopen_rate: Decimal | int | str = Decimal("0.10"),
    watermelon_downtime_rise: Decimal | int | str = Decimal("0.25"),
    watermelon_cluster_size: int = 3,
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
    numbers = _numbers(errors, {
        "cost_of_downtime_per_hour": cost_of_downtime_per_hour, "sla_target_percent": sla_target_percent,
        "experience_target": experience_target, "watermelon_reopen_rate": watermelon_reopen_rate,
        "watermelon_downtime_rise": watermelon_downtime_rise,
    })
    if watermelon_cluster_size < 2:
        errors["watermelon_cluster_size"] = "must be 2 or more"
    if errors:
        raise InvalidInput(errors)
    return BusinessService.objects.create(
        name=name, slug=slug, desk=desk, owner=owner, description=description, criticality=criticality,
        users_served=users_served, watermelon_cluster_size=watermelon_cluster_size, **numbers,
    )


LIMITS: dict[str, tuple[int, int | None]] = {
    "cost_of_downtime_per_hour": (0, None), "sla_target_percent": (0, 100), "experience_target": (1, 5),
    "watermelon_reopen_rate": (0, 1), "watermelon_downtime_rise": (0, None),
}


def _numbers(errors: dict[str, str], given: dict[str, Any]) -> dict[str, Decimal]:
    numbers: dict[str, Decimal] = {}
    for field, value in given.items():
        low, high = LIMITS[field]
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            errors[field] = f"{value!r} is not a number"
            continue
        if not number.is_finite() or number < low or (high is not None and number > high):
            errors[field] = f"must be between {low} and {high}" if high is not None else f"must be {low} or more"
        numbers[field] = number
    return numbers


def set_service_targets(service: BusinessService, **given: Any) -> BusinessService:
    """Change a service's targets and watermelon thresholds (the names of LIMITS, and watermelon_cluster_size);
    nothing is written unless every value is valid."""
    errors: dict[str, str] = {}
    unknown = set(given) - set(LIMITS) - {"watermelon_cluster_size"}
    for name in sorted(unknown):
        errors[name] = "is not a target of a service"
    size = given.pop("watermelon_cluster_size", None)
    numbers = _numbers(errors, {k: v for k, v in given.items() if k in LIMITS})
    if size is not None:
        if not isinstance(size, int) or size < 2:
            errors["watermelon_cluster_size"] = "must be a whole number, 2 or more"
        else:
            service.watermelon_cluster_size = size
    if errors:
        raise InvalidInput(errors)
    for field, number in numbers.items():
        setattr(service, field, number)
    service.save()
    return service
