"""E-mails of escalations: to the assignee, the group or the desk managers, as the rule says."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.sla.models import EscalationAction, EscalationFiring

Cache = dict[tuple[str, int], list[User]]


def recipients(firing: EscalationFiring, cache: Cache | None = None) -> list[User]:
    """Who hears of a firing; `cache` keeps group members and desk managers across a batch of firings."""
    ticket, rule = firing.target.ticket, firing.rule
    cache = {} if cache is None else cache

    def members(group_id: int) -> list[User]:
        if ("group", group_id) not in cache:
            cache[("group", group_id)] = list(User.objects.filter(assignment_groups__id=group_id))
        return cache[("group", group_id)]

    def managers(desk_id: int) -> list[User]:
        if ("managers", desk_id) not in cache:
            cache[("managers", desk_id)] = list(policy.people(policy.MANAGE, [desk_id], overseers=False,
                                                              active=False))
        return cache[("managers", desk_id)]

    people: list[User] = []
    if rule.action in (EscalationAction.NOTIFY_ASSIGNEE, EscalationAction.RAISE_PRIORITY, EscalationAction.REASSIGN):
        if ticket.assignee is not None:
            people.append(ticket.assignee)
        elif ticket.group_id is not None:
            people.extend(members(ticket.group_id))
    elif rule.action == EscalationAction.NOTIFY_GROUP and ticket.group_id is not None:
        people.extend(members(ticket.group_id))
    elif rule.action == EscalationAction.NOTIFY_MANAGERS:
        people.extend(managers(ticket.desk_id))
    seen: set[int] = set()
    out = []
    for user in people:
        if user.pk in seen or not user.is_active or not user.email or not user.email_notifications:
            continue
        seen.add(user.pk)
        out.append(user)
    return out


def send_escalation(firing: EscalationFiring, cache: Cache | None = None) -> list[str]:
    """Send the firing's e-mails; returns the addresses."""
    target, rule = firing.target, firing.rule
    ticket = target.ticket
    people = recipients(firing, cache)
    if not people:
        return []
    state = "breached" if rule.at_percent >= 100 else f"{rule.at_percent} % used"
    subject = f"[{ticket.number}] SLA {state}: {target.metric_label.lower()} - {ticket.title}"
    due = target.deadline.strftime("%Y-%m-%d %H:%M %Z") if target.deadline else "paused"
    body = "\n".join([
        f"{ticket.number}: {ticket.title}",
        f"{target.metric_label} target: {target.minutes} business minutes, due {due}.",
        f"Escalation rule: {rule.name} ({rule.get_action_display().lower()}) at {rule.at_percent} %.",
        "",
        f"{settings.OUTCOMEDESK_BASE_URL}{reverse('web:ticket', args=[ticket.number])}",
    ])
    messages = [EmailMessage(subject, body, to=[user.email]) for user in people]
    get_connection().send_messages(messages)
    return [user.email for user in people]
