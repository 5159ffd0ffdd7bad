"""Seeding a demo organisation: desks, services, people, and months of ticket history.

The history is replayed through the ticket services inside `clock.at(moment)`, in time order across all
tickets, so that routing, audit trail, search documents and metrics timestamps are exactly what the
product would have recorded. Notifications are muted throughout, so the surveys a resolution would send are
sent here explicitly (without e-mail); impact windows and survey answers are steps of the plan like any other.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from outcomedesk.accounts import policy
from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.assist import patterns, writing
from outcomedesk.assist import services as assist
from outcomedesk.cmdb import services as cmdb_services
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.models import Channel
from outcomedesk.demo import catalog
from outcomedesk.demo.plan import PlannedStep, PlannedTicket, plan_demo
from outcomedesk.experience import services as experience_services
from outcomedesk.improvement import services as maturity_services
from outcomedesk.improvement.questionnaire import PRACTICES
from outcomedesk.improvement.register import queries as register_queries
from outcomedesk.improvement.register import services as register_services
from outcomedesk.improvement.register.tracked import TRACKED_FIGURES
from outcomedesk.sla import services as sla_services
from outcomedesk.tickets import impact as impact_services
from outcomedesk.tickets import notifications
from outcomedesk.tickets import services as tickets_services
from outcomedesk.tickets.models import OPEN_STATES, Category, PendingReason, State, Ticket

# Events replayed per transaction: one commit (and one fsync on SQLite) per batch instead of per statement.
BATCH_EVENTS = 1000
NIGHTLY_CLOSE_HOUR = 2
REQUESTER_CHANNEL = {Channel.PORTAL: Channel.PORTAL, Channel.EMAIL: Channel.EMAIL, Channel.PHONE: Channel.EMAIL}


class DemoAlreadySeeded(Exception):
    """The database already holds the demo organisation (or desks/people with its names)."""


@dataclass(frozen=True)
class DemoSummary:
    """What `seed_demo` created, how long it took, and the accounts to sign in with."""

    desks: int
    services: int
    people: int
    tickets: int
    open_tickets: int
    seconds: float
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def seed_demo(
    *, seed: int = 42, tickets: int = 5000, months: int = 6, progress: bool = True, now: datetime | None = None
) -> DemoSummary:
    """Create the demo organisation and replay `tickets` tickets of history ending at `now` (default: this hour).

    Raises DemoAlreadySeeded when a demo desk or login already exists: run it on an empty database.
    """
    started = time.monotonic()
    _refuse_if_seeded()
    base = timezone.localtime((now or clock.now()).replace(minute=0, second=0, microsecond=0))
    plan = plan_demo(seed, tickets, months, base)
    setup_at = (plan[0].opened_at if plan else base) - timedelta(days=1)
    with notifications.muted():
        with transaction.atomic(), clock.at(setup_at):
            org = _create_organisation()
            _create_service_levels()
        # Each ticket's targets are computed once, from its whole history, as of the end of the history.
        with sla_services.deferred(now=base):
            _replay(plan, org, base, progress)
        _assess_maturity(seed, base)
        _register_initiatives(base)
        _start_assist(base, progress)
    return DemoSummary(
        desks=len(catalog.DESKS),
        services=len(catalog.SERVICES),
        people=len(catalog.PEOPLE),
        tickets=len(plan),
        open_tickets=Ticket.objects.filter(state__in=OPEN_STATES).count(),
        seconds=round(time.monotonic() - started, 1),
        logins=catalog.logins(),
    )


def _assess_maturity(seed: int, base: datetime) -> None:
    """Two self-assessments of every practice by the service manager: one four months ago, one last week,
    a little better, so the radar has a before and an after."""
    rng = random.Random(seed)
    assessor = User.objects.get(username="manager")
    for practice in PRACTICES:
        before = {q.id: rng.randint(1, 3) for q in practice.questions}
        after = {key: min(5, level + rng.choice((0, 1, 1, 2))) for key, level in before.items()}
        for days, answers in ((120, before), (7, after)):
            moment = base - timedelta(days=days)
            with clock.at(moment):
                maturity_services.record_assessment(assessor, practice.key, answers, now=moment)


INITIATIVES = (
    # title, desk, service slug, tracked figure, how the target improves on the measured baseline
    ("Laptop set-up checklist for the Service Desk", "it", None, "mttr_median_hours", lambda b: b * 0.8),
    ("Fix the receipt check of the expenses app", "finance", "expenses", "csat", lambda b: min(5.0, b + 0.8)),
)


def _register_initiatives(base: datetime) -> None:
    """Two initiatives of the improvement register, started six weeks ago, their baseline the two months
    before: the benefit the register shows is measured from the demo's own tickets."""
    manager = User.objects.get(username="manager")
    first, last = (base - timedelta(days=165)).date(), (base - timedelta(days=43)).date()
    for title, desk_slug, service_slug, figure, better in INITIATIVES:
        desk = Desk.objects.get(slug=desk_slug)
        service = BusinessService.objects.get(slug=service_slug) if service_slug else None
        tracked = TRACKED_FIGURES[figure]
        scope = register_queries.scope_for(desk.pk, service.pk if service else None)
        baseline = register_queries.measure(tracked, scope, register_queries.days_period(first, last), base)
        if baseline is None:
            continue
        with clock.at(base - timedelta(days=42)):
            row = register_services.create_initiative(manager, {
                "title": title, "desk": desk, "service": service, "figure": figure,
                "baseline_from": first.isoformat(), "baseline_to": last.isoformat(),
                "target_value": round(better(baseline), 2),
            })
            register_services.change_initiative_status(manager, row, "approved")
            register_services.change_initiative_status(manager, row, "in_progress")


def _start_assist(base: datetime, progress: bool) -> None:
    """The AI as a desk would run it after a first night: group and category models trained on each desk's
    history (the other fields by `outcomedesk assist train`, to keep the seeding short), the IT desk letting it
    set the group when 90 % sure, its open tickets triaged, the patterns of the last two weeks found, and one
    knowledge draft waiting for review."""
    manager = User.objects.get(username="manager")
    say = print if progress else (lambda *_: None)
    with clock.at(base):
        for desk in Desk.objects.filter(is_active=True).order_by("slug"):
            for row in assist.train_desk(desk, actor=policy.OPERATOR, fields=["group", "category"]):
                if not isinstance(row, assist.TrainingSkipped):
                    say(f"assist: {desk.slug} {row.field} model, held-out accuracy {row.figures.get('accuracy')}")
        it = Desk.objects.get(slug="it")
        assist.set_policy(manager, it, "group", "auto", 0.9)
        for ticket_id in Ticket.objects.filter(desk=it, state__in=OPEN_STATES).values_list("pk", flat=True):
            assist.triage_safely(ticket_id)
        for desk in Desk.objects.filter(is_active=True):
            patterns.detect(desk, base)
        resolved = Ticket.objects.filter(desk=it, state=State.RESOLVED).exclude(resolution_notes="").first()
        if resolved is not None:
            writing.draft_article(policy.OPERATOR, [resolved])


def _create_service_levels() -> None:
    for name, definition in catalog.CALENDARS.items():
        sla_services.save_calendar(policy.OPERATOR, name, definition)
    for name, values, targets in catalog.POLICIES:
        sla_services.save_policy(policy.OPERATOR, {"name": name, **values}, targets=targets)
    for rule in catalog.ESCALATIONS:
        sla_services.save_escalation_rule(policy.OPERATOR, rule)


def _refuse_if_seeded() -> None:
    desks = sorted(Desk.objects.filter(slug__in=[d.slug for d in catalog.DESKS]).values_list("slug", flat=True))
    users = sorted(User.objects.filter(username__in=[p.username for p in catalog.PEOPLE if p.login])
                   .values_list("username", flat=True))
    if desks or users:
        found = ", ".join([f"desk {d!r}" for d in desks] + [f"user {u!r}" for u in users])
        raise DemoAlreadySeeded(f"the demo data already exists ({found}); seed an empty database instead")


# --- organisation ----------------------------------------------------------------------------------------

@dataclass
class _Organisation:
    desks: dict[str, Desk]
    groups: dict[tuple[str, str], AssignmentGroup]
    categories: dict[tuple[str, str], Category]
    services: dict[str, BusinessService]
    users: dict[str, User]
    group_members: dict[int, list[User]]
    managers: dict[str, User]

    @property
    def by_id(self) -> dict[int, User]:
        return {u.pk: u for u in self.users.values()}


def _create_organisation() -> _Organisation:
    desks: dict[str, Desk] = {}
    groups: dict[tuple[str, str], AssignmentGroup] = {}
    categories: dict[tuple[str, str], Category] = {}
    for spec in catalog.DESKS:
        desk = accounts.create_desk(spec.slug, spec.name, description=spec.description,
                                    confidential=spec.confidential)
        desks[spec.slug] = desk
        for g in spec.groups:
            groups[(spec.slug, g.name)] = accounts.create_group(
                desk, g.name, email=g.email, assignment_method=g.method
            )
        for c in spec.categories:
            categories[(spec.slug, c.name)] = tickets_services.create_category(desk, c.name)

    for person in catalog.PEOPLE:
        user = accounts.create_user(
            person.username, email=person.email, display_name=person.display_name,
            password=catalog.DEMO_PASSWORD if person.login else None, check_password=False,
            is_superuser=person.admin, is_service_manager=person.service_manager,
            first_name=person.first, last_name=person.last, department=person.department, is_vip=person.is_vip,
            is_executive=person.executive,
        )
        for desk_slug, role in person.desks:
            accounts.add_to_desk(user, desks[desk_slug], role)
        for desk_slug, group_name in person.groups:
            accounts.add_to_group(user, groups[(desk_slug, group_name)])

    # Fresh objects: desk access is cached on the user object, so load them after the memberships exist.
    users = {u.username: u for u in User.objects.filter(username__in=[p.username for p in catalog.PEOPLE])}

    services: dict[str, BusinessService] = {}
    for s in catalog.SERVICES:
        services[s.slug] = cmdb_services.create_service(
            s.name, desks[s.desk], slug=s.slug, description=s.description, owner=users[s.owner],
            criticality=s.criticality, users_served=s.users_served, cost_of_downtime_per_hour=s.cost_per_hour,
            experience_target=s.experience_target,
        )

    for spec in catalog.DESKS:
        desk = desks[spec.slug]
        order = 10
        for c in spec.categories:
            if c.keywords:
                tickets_services.create_assignment_rule(
                    desk, f"{c.name} keywords", groups[(spec.slug, c.group)], order=order, keywords=c.keywords,
                )
                order += 10
        for c in spec.categories:
            tickets_services.create_assignment_rule(
                desk, c.name, groups[(spec.slug, c.group)], order=100 + order,
                category=categories[(spec.slug, c.name)],
            )
            order += 10
        tickets_services.create_assignment_rule(desk, "Everything else", groups[(spec.slug, spec.groups[0].name)],
                                       order=1000)

    members: dict[int, list[User]] = {g.pk: [] for g in groups.values()}
    managers: dict[str, User] = {}
    for person in catalog.PEOPLE:
        for desk_slug, group_name in person.groups:
            members[groups[(desk_slug, group_name)].pk].append(users[person.username])
        for desk_slug, role in person.desks:
            if role == "manager":
                managers.setdefault(desk_slug, users[person.username])
    return _Organisation(desks, groups, categories, services, users, members, managers)


# --- history ---------------------------------------------------------------------------------------------

@dataclass
class _Live:
    """What the replay knows about a ticket it opened."""

    pk: int
    state: str
    group_id: int | None
    assignee_id: int | None
    impact_id: int | None = None  # the impact window recorded on it and not ended yet

    def follow(self, ticket: Ticket) -> None:
        self.state, self.group_id, self.assignee_id = ticket.state, ticket.group_id, ticket.assignee_id


_Event = tuple[datetime, int, int]  # (moment, ticket index or -1 for the nightly close, step index)


def _replay(plan: list[PlannedTicket], org: _Organisation, base: datetime, progress: bool) -> None:
    events: list[_Event] = []
    for i, planned in enumerate(plan):
        events.append((planned.opened_at, i, -1))
        events += [(step.at, i, j) for j, step in enumerate(planned.steps)]
    if plan:
        night = plan[0].opened_at.replace(hour=NIGHTLY_CLOSE_HOUR, minute=0, second=0, microsecond=0)
        while night < base:
            events.append((night, -1, 0))
            night = timezone.localtime(night + timedelta(days=1)).replace(hour=NIGHTLY_CLOSE_HOUR)
    events.sort()
    live: dict[int, _Live] = {}
    by_id = org.by_id
    bar = tqdm(total=len(events), desc="Replaying history", unit="event", disable=not progress, file=sys.stderr)
    with bar:
        for start in range(0, len(events), BATCH_EVENTS):
            batch = events[start : start + BATCH_EVENTS]
            with transaction.atomic():
                for moment, i, j in batch:
                    with clock.at(moment):
                        if i < 0:
                            tickets_services.close_resolved(moment)
                        elif j < 0:
                            live[i] = _open(plan[i], org)
                        else:
                            _step(plan[i], plan[i].steps[j], live[i], org, by_id)
            bar.update(len(batch))


def _open(planned: PlannedTicket, org: _Organisation) -> _Live:
    ticket = tickets_services.open_ticket(
        org.users[planned.requester],
        desk=org.desks[planned.desk],
        title=planned.title,
        description=planned.description,
        type=planned.type,
        category=org.categories[(planned.desk, planned.category)].pk,
        service=org.services[planned.service].pk if planned.service else None,
        urgency=planned.urgency,
        channel=planned.channel,
    )
    if planned.impact != ticket.impact:
        # A requester states urgency only; the desk sets the impact when it triages the ticket.
        ticket = tickets_services.update_ticket(org.managers[planned.desk], ticket, {"impact": planned.impact})
    return _Live(ticket.pk, ticket.state, ticket.group_id, ticket.assignee_id)


def _agent(live: _Live, planned: PlannedTicket, org: _Organisation, by_id: dict[int, User]) -> User:
    if live.assignee_id is not None:
        return by_id[live.assignee_id]
    if live.group_id is not None and org.group_members.get(live.group_id):
        return org.group_members[live.group_id][0]
    return org.managers[planned.desk]


def _step(planned: PlannedTicket, step: PlannedStep, live: _Live, org: _Organisation,
          by_id: dict[int, User]) -> None:
    services = tickets_services
    requester = org.users[planned.requester]
    if step.action == "rate":
        # The survey of the last resolution; answering it is still possible once the ticket is closed.
        ticket = Ticket.objects.get(pk=live.pk)
        experience_services.respond_as(requester, ticket, int(step.detail), step.text or None)
        return
    if live.state in (State.CLOSED, State.CANCELLED):
        return  # closed by the nightly job before a late confirmation; nothing more can happen
    agent = _agent(live, planned, org, by_id)
    said_by_requester = REQUESTER_CHANNEL.get(Channel(planned.channel), Channel.PORTAL)
    action = step.action
    if action == "reassign":
        candidates = [g for (desk, _), g in org.groups.items() if desk == planned.desk]
        target = next((g for g in candidates if g.name == step.detail and g.pk != live.group_id), None)
        if target is None:
            target = next(g for g in candidates if g.pk != live.group_id)
        live.follow(services.update_ticket(agent, live.pk, {"group": target.pk}))
    elif action in ("reply", "resume"):
        starting = live.state in (State.NEW, State.ASSIGNED) and step.detail != "quick"
        if starting or (action == "resume" and live.state == State.PENDING):
            live.follow(services.change_state(agent, live.pk, State.IN_PROGRESS))
        services.add_comment(agent, live.pk, step.text)
    elif action == "note":
        services.add_comment(agent, live.pk, step.text, public=False)
    elif action in ("ask", "vendor"):
        services.add_comment(agent, live.pk, step.text, public=action == "ask")
        reason = PendingReason.REQUESTER if action == "ask" else PendingReason.VENDOR
        if live.state != State.PENDING:
            live.follow(services.change_state(agent, live.pk, State.PENDING, pending_reason=reason))
    elif action == "answer":
        services.add_comment(requester, live.pk, step.text, channel=said_by_requester)
        if live.state == State.PENDING:
            live.state = State.IN_PROGRESS  # a requester's reply resumes the ticket
    elif action == "impact":
        window = planned.service_impact
        if window is not None and planned.service:
            over = window.end <= clock.now()  # recorded after the service came back: with its end
            recorded = impact_services.record_impact(
                agent, live.pk, service=org.services[planned.service], impact_start=window.start,
                impact_end=window.end if over else None, users_affected=window.users_affected,
                impact_fraction=window.fraction, note=window.note,
            )
            live.impact_id = None if over else recorded.pk
    elif action == "restore":
        if live.impact_id is not None:
            impact_services.end_impact(agent, live.impact_id)
            live.impact_id = None
    elif action == "resolve":
        if live.state in OPEN_STATES:
            ticket = services.change_state(agent, live.pk, State.RESOLVED, resolution_code=step.detail,
                                           resolution_notes=step.text)
            live.follow(ticket)
            if live.impact_id is not None:  # the service is back at the latest when the incident is resolved
                impact_services.end_impact(agent, live.impact_id)
                live.impact_id = None
            # What the resolution would have sent, were notifications not muted (experience.on_ticket_changed).
            experience_services.send_survey(ticket, clock.now())
    elif action == "reopen":
        if live.state == State.RESOLVED:
            live.follow(services.reopen_ticket(requester, live.pk, reason=step.text, channel=said_by_requester))
    elif action == "confirm":
        if live.state == State.RESOLVED:
            services.add_comment(requester, live.pk, step.text, channel=said_by_requester)
            live.follow(services.change_state(requester, live.pk, State.CLOSED, channel=said_by_requester))
    elif action == "cancel":
        actor = requester if step.by == "requester" else agent
        channel = said_by_requester if step.by == "requester" else Channel.WEB
        services.add_comment(actor, live.pk, step.text, channel=channel)
        live.follow(services.change_state(actor, live.pk, State.CANCELLED, resolution_code=step.detail,
                                          channel=channel))
    else:  # pragma: no cover - the planner only emits the actions above
        raise ValueError(f"unknown demo action {action!r}")
