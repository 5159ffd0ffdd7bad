"""Routing: assignment rules pick a group; the group's method picks an agent who is not away."""

from __future__ import annotations

import copy

from django.db.models import Count, Q

from outcomedesk.accounts.models import AssignmentGroup, AssignmentMethod, User
from outcomedesk.core.config_cache import ConfigCache
from outcomedesk.tickets.models import OPEN_STATES, AssignmentRule, Ticket


def _matches(rule: AssignmentRule, ticket: Ticket) -> bool:
    if rule.category_id and rule.category_id != ticket.category_id:
        return False
    if rule.service_id and rule.service_id != ticket.service_id:
        return False
    if rule.ticket_type and rule.ticket_type != ticket.type:
        return False
    keywords = [k.strip().lower() for k in rule.keywords.split(",") if k.strip()]
    if keywords:
        text = f"{ticket.title}\n{ticket.description}".lower()
        return any(k in text for k in keywords)
    return True


def _active_rules() -> dict[int, list[AssignmentRule]]:
    """The active rules of active groups, per desk, in rule order, each with its group."""
    rules: dict[int, list[AssignmentRule]] = {}
    for rule in AssignmentRule.objects.filter(is_active=True, group__is_active=True).select_related("group"):
        rules.setdefault(rule.desk_id, []).append(rule)
    return rules


# Read on every ticket opened: kept per process until a rule or a group changes (core.config_cache).
RULES = ConfigCache("routing_rules", _active_rules, [AssignmentRule, AssignmentGroup])


def group_for(ticket: Ticket) -> AssignmentGroup | None:
    """The group of the first active rule of the ticket's desk that matches, in rule order (a copy: the rules are
    shared by the process)."""
    for rule in RULES.get().get(ticket.desk_id, ()):
        if _matches(rule, ticket):
            return copy.copy(rule.group)
    return None


def agent_for(group: AssignmentGroup) -> User | None:
    """Next agent of the group by its method, skipping agents who are away; the caller holds the group lock."""
    if group.assignment_method == AssignmentMethod.MANUAL:
        return None
    members = User.objects.filter(assignment_groups=group, is_active=True, away=False).order_by("id")
    if group.assignment_method == AssignmentMethod.LEAST_LOADED:
        loaded = members.annotate(
            load=Count("assigned_tickets", filter=Q(assigned_tickets__state__in=OPEN_STATES))
        ).order_by("load", "id")
        return loaded.first()
    candidates = list(members)
    if not candidates:
        return None
    after = group.last_assigned_id or 0
    return next((m for m in candidates if m.pk > after), candidates[0])
