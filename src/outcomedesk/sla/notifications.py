"""E-mails of escalations: to the assignee, the group or the desk managers, as the rule says."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.mail import composing
from outcomedesk.mail import services as mail
from outcomedesk.mail.models import Kind
from outcomedesk.sla.models import EscalationAction, EscalationFiring

Cache = dict[tuple[str, int], Any]  # group members, desk managers, a desk's templates


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
        if user.pk in seen:
            continue
        seen.add(user.pk)
        out.append(user)
    return out


def send_escalation(firing: EscalationFiring, cache: Cache | None = None) -> list[str]:
    """Queue the firing's e-mails in the outbox (once per firing and person) and send them; returns the
    addresses (the outbox retries those the mail server refused for now)."""
    target, rule = firing.target, firing.rule
    ticket = target.ticket
    people = recipients(firing, cache)
    wanted = mail.receives(people, Kind.SLA)
    people = [user for user in people if user.pk in wanted]
    if not people:
        return []
    due = target.deadline.strftime("%Y-%m-%d %H:%M %Z") if target.deadline else "paused"
    url = f"{settings.OUTCOMEDESK_BASE_URL}{reverse('web:ticket', args=[ticket.number])}"
    values: dict[str, Any] = {
        "ticket": {"number": ticket.number, "title": ticket.title, "state": ticket.get_state_display(),
                   "priority": ticket.get_priority_display(), "type": ticket.get_type_display(),
                   "desk": ticket.desk.name, "url": url, "resolution": ticket.resolution_notes},
        "sla": {"metric": target.metric_label, "state": "breached" if rule.at_percent >= 100 else
                f"{rule.at_percent} % used", "minutes": target.minutes, "due": due, "rule": rule.name,
                "action": rule.get_action_display().lower()},
        "site": {"url": settings.OUTCOMEDESK_BASE_URL},
    }
    stored = cache_templates(cache, ticket.desk_id)
    drafts = []
    for user in people:
        values["recipient"] = {"name": str(user), "email": user.email, "is_staff": True}
        words = composing.compose(Kind.SLA, ticket.desk_id, values, stored)
        drafts.append(mail.Draft(key=f"sla:{firing.pk}:{user.pk}", kind=Kind.SLA, recipient=user,
                                 subject=words.subject, text=words.text, desk_id=ticket.desk_id,
                                 ticket_number=ticket.number, sender=ticket.desk.email_from))
    rows = mail.queue(drafts)
    mail.deliver([row.pk for row in rows])
    return [user.email for user in people]


def cache_templates(cache: Cache | None, desk_id: int) -> dict[tuple[int | None, str], Any]:
    """The desk's stored templates, once per batch of firings."""
    if cache is None:
        return composing.templates_for({desk_id})
    if ("templates", desk_id) not in cache:
        cache[("templates", desk_id)] = composing.templates_for({desk_id})
    return cache[("templates", desk_id)]
