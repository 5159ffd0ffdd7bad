"""E-mails of escalations: to the assignee, the group or the desk managers, as the rule says."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from outcomedesk.accounts.models import DeskMembership, DeskRole, User
from outcomedesk.sla.models import EscalationAction, EscalationFiring


def recipients(firing: EscalationFiring) -> list[User]:
    ticket, rule = firing.target.ticket, firing.rule
    people: list[User] = []
    if rule.action in (EscalationAction.NOTIFY_ASSIGNEE, EscalationAction.RAISE_PRIORITY, EscalationAction.REASSIGN):
        if ticket.assignee is not None:
            people.append(ticket.assignee)
        elif ticket.group is not None:
            people.extend(ticket.group.members.all())
    elif rule.action == EscalationAction.NOTIFY_GROUP and ticket.group is not None:
        people.extend(ticket.group.members.all())
    elif rule.action == EscalationAction.NOTIFY_MANAGERS:
        people.extend(m.user for m in DeskMembership.objects.filter(
            desk_id=ticket.desk_id, role=DeskRole.MANAGER).select_related("user"))
    seen: set[int] = set()
    out = []
    for user in people:
        if user.pk in seen or not user.is_active or not user.email or not user.email_notifications:
            continue
        seen.add(user.pk)
        out.append(user)
    return out


def send_escalation(firing: EscalationFiring) -> list[str]:
    """Send the firing's e-mails; returns the addresses."""
    target, rule = firing.target, firing.rule
    ticket = target.ticket
    people = recipients(firing)
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
