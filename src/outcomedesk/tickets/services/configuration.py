"""A desk's ticket configuration: categories and routing rules."""

from __future__ import annotations

from outcomedesk.accounts.models import AssignmentGroup, Desk
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core.errors import InvalidInput
from outcomedesk.tickets.models import (
    AssignmentRule,
    Category,
    TicketType,
)

# --- desk configuration ----------------------------------------------------------------------------------

def create_category(desk: Desk, name: str) -> Category:
    """A ticket category of one desk."""
    name = name.strip()
    if not name:
        raise InvalidInput({"name": "is required"})
    if Category.objects.filter(desk=desk, name__iexact=name).exists():
        raise InvalidInput({"name": f"{desk.name} has a category named {name!r} already"})
    return Category.objects.create(desk=desk, name=name)


def create_assignment_rule(
    desk: Desk,
    name: str,
    group: AssignmentGroup,
    *,
    order: int = 100,
    category: Category | None = None,
    service: BusinessService | None = None,
    ticket_type: str = "",
    keywords: str = "",
) -> AssignmentRule:
    """A routing rule: tickets of `desk` matching category/service/type/keywords go to `group`."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "is required"
    if group.desk_id != desk.pk:
        errors["group"] = f"{group.name} is not a group of the {desk.name} desk"
    if category is not None and category.desk_id != desk.pk:
        errors["category"] = f"{category.name} is not a category of the {desk.name} desk"
    if ticket_type and ticket_type not in TicketType.values:
        errors["ticket_type"] = f"use one of {', '.join(TicketType.values)}"
    if errors:
        raise InvalidInput(errors)
    return AssignmentRule.objects.create(
        desk=desk, name=name.strip(), group=group, order=order, category=category, service=service,
        ticket_type=ticket_type, keywords=keywords,
    )
