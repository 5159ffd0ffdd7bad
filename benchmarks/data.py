"""A realistic organisation and a stream of realistic tickets, deterministic for a given seed.

Text: titles from service-desk templates, descriptions of 15-60 words drawn with a Zipf-like weight from a
vocabulary of service-desk terms followed by a long tail of generated words, so that a search finds many
tickets for common words and a handful for rare ones, as in a real desk.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction

from benchmarks.text import TextMaker, vocabulary
from outcomedesk.accounts.models import AssignmentGroup, AssignmentMethod, Desk, DeskMembership, GroupMembership, User
from outcomedesk.core.models import Channel
from outcomedesk.tickets.bulk import CommentRow, EventRow, TicketRow
from outcomedesk.tickets.models import AssignmentRule, Category, State, TicketType

# desk slug, name, confidential, share of tickets, groups
DESKS = [
    ("it", "IT", False, 0.70, [
        "Service Desk", "Network", "Identity and Access", "End User Computing", "Messaging", "Databases",
        "ERP Support", "Security Operations", "Cloud Platform", "Telephony", "Printing", "Applications",
    ]),
    ("facilities", "Facilities", False, 0.12, ["Building Maintenance", "Workplace Services", "Catering"]),
    ("finance", "Finance", False, 0.08, ["Accounts Payable", "Expenses"]),
    ("hr", "HR", True, 0.10, ["People Team", "Payroll", "Recruiting"]),
]
AGENTS = 200
REQUESTERS = 5000
BENCH_AGENT = "bench-agent"  # an IT agent in every IT group: the persona every measurement runs as

OPEN_STATES_MIX = [(State.NEW, 8), (State.ASSIGNED, 10), (State.IN_PROGRESS, 8), (State.PENDING, 4)]
DONE_STATES_MIX = [(State.CLOSED, 55), (State.RESOLVED, 10), (State.CANCELLED, 5)]


@dataclass
class Org:
    """Ids of the organisation the tickets are spread over."""

    desks: list[tuple[int, float, bool]]  # (desk id, share, confidential)
    groups_of_desk: dict[int, list[int]]
    agents_of_group: dict[int, list[int]]
    requesters: list[int]
    bench_agent: int
    bench_group: int  # the busiest IT group, whose queue is measured
    groups_measured: list[int] = field(default_factory=list)


@transaction.atomic
def create_org(seed: int = 1) -> Org:
    """Desks, 20 groups, 200 agents, 5,000 requesters and a few routing rules, written in bulk."""
    rng = random.Random(seed)
    password = make_password(None)  # unusable: these accounts log in by session in the benchmark only
    desks: list[tuple[int, float, bool]] = []
    groups_of_desk: dict[int, list[int]] = {}
    for slug, name, confidential, share, groups in DESKS:
        desk = Desk.objects.create(slug=slug, name=name, confidential=confidential)
        desks.append((desk.pk, share, confidential))
        made = AssignmentGroup.objects.bulk_create(
            [AssignmentGroup(desk=desk, name=g, assignment_method=AssignmentMethod.MANUAL) for g in groups]
        )
        groups_of_desk[desk.pk] = [g.pk for g in made]
        Category.objects.bulk_create([Category(desk=desk, name=c) for c in ("Hardware", "Software", "Access",
                                                                             "Question", "Other")])
    users = [User(username=f"agent{n:03d}", email=f"agent{n:03d}@example.org", password=password,
                  first_name="Agent", last_name=f"{n:03d}") for n in range(AGENTS)]
    users += [User(username=f"user{n:05d}", email=f"user{n:05d}@example.org", password=password,
                   first_name="User", last_name=f"{n:05d}", department=rng.choice(["Sales", "Ops", "R&D", "Legal"]))
              for n in range(REQUESTERS)]
    users.append(User(username=BENCH_AGENT, email="bench@example.org", password=password, display_name="Bench Agent"))
    made_users = User.objects.bulk_create(users)
    agents = [u.pk for u in made_users[:AGENTS]]
    requesters = [u.pk for u in made_users[AGENTS : AGENTS + REQUESTERS]]
    bench_agent = made_users[-1].pk

    all_groups = [(desk_id, g) for desk_id, groups in groups_of_desk.items() for g in groups]
    agents_of_group: dict[int, list[int]] = {g: [] for _, g in all_groups}
    memberships: list[DeskMembership] = []
    group_memberships: list[GroupMembership] = []
    for n, agent in enumerate(agents):
        desk_id, group_id = all_groups[n % len(all_groups)]
        memberships.append(DeskMembership(user_id=agent, desk_id=desk_id, role="manager" if n < 20 else "agent"))
        group_memberships.append(GroupMembership(user_id=agent, group_id=group_id))
        agents_of_group[group_id].append(agent)
    it_desk = desks[0][0]
    memberships.append(DeskMembership(user_id=bench_agent, desk_id=it_desk, role="agent"))
    group_memberships += [GroupMembership(user_id=bench_agent, group_id=g) for g in groups_of_desk[it_desk]]
    DeskMembership.objects.bulk_create(memberships)
    GroupMembership.objects.bulk_create(group_memberships)

    it_groups = groups_of_desk[it_desk]
    rules = [("printer,toner,scanner", it_groups[10]), ("vpn,wifi,network,firewall", it_groups[1]),
             ("password,mfa,account,unlock", it_groups[2]), ("email,outlook,teams", it_groups[4])]
    AssignmentRule.objects.bulk_create(
        [AssignmentRule(name=f"Route {k.split(',')[0]}", desk_id=it_desk, order=10 * (n + 1), keywords=k, group_id=g)
         for n, (k, g) in enumerate(rules)]
        + [AssignmentRule(name="Everything else", desk_id=it_desk, order=1000, group_id=it_groups[0])]
    )
    return Org(desks=desks, groups_of_desk=groups_of_desk, agents_of_group=agents_of_group, requesters=requesters,
               bench_agent=bench_agent, bench_group=it_groups[0], groups_measured=list(it_groups))


def ticket_rows(org: Org, count: int, *, now: datetime, seed: int = 2) -> Iterator[TicketRow]:
    """`count` tickets over three years; ~30% open (mostly recent), 20% with a reply or two."""
    rng = random.Random(seed)
    text = TextMaker(rng)
    desk_ids = [d for d, _, _ in org.desks]
    desk_weights = [share for _, share, _ in org.desks]
    open_states, open_weights = zip(*OPEN_STATES_MIX, strict=True)
    done_states, done_weights = zip(*DONE_STATES_MIX, strict=True)
    span = timedelta(days=3 * 365).total_seconds()
    for _ in range(count):
        desk = rng.choices(desk_ids, desk_weights)[0]
        groups = org.groups_of_desk[desk]
        # The first group of a desk (its front line) takes a third of the desk's tickets.
        group = groups[0] if rng.random() < 0.33 else rng.choice(groups)
        is_open = rng.random() < 0.30
        if is_open:
            state = rng.choices(open_states, open_weights)[0]
            opened = now - timedelta(seconds=rng.random() * 60 * 86400)
        else:
            state = rng.choices(done_states, done_weights)[0]
            opened = now - timedelta(seconds=60 * 86400 + rng.random() * (span - 60 * 86400))
        agents = org.agents_of_group[group]
        assignee = rng.choice(agents) if agents and state != State.NEW else None
        requester = rng.choice(org.requesters)
        resolved = opened + timedelta(hours=rng.randint(1, 200)) if state in (State.RESOLVED, State.CLOSED) else None
        closed = resolved + timedelta(days=3) if state == State.CLOSED and resolved else None
        comments: list[CommentRow] = []
        if rng.random() < 0.2:
            for n in range(rng.randint(1, 2)):
                comments.append(CommentRow(body=f"<p>{text.paragraph(8, 30)}</p>", created_at=opened +
                                           timedelta(hours=n + 1), author_id=assignee or requester))
        ticket_type = TicketType.INCIDENT if rng.random() < 0.7 else TicketType.REQUEST
        events = [EventRow(action="created", at=opened, new_value=ticket_type.label, actor_id=requester,
                           channel=Channel.PORTAL)]
        yield TicketRow(
            desk_id=desk,
            requester_id=requester,
            title=text.title(),
            description=text.paragraph(15, 60),
            opened_at=opened,
            type=ticket_type,
            state=state,
            group_id=group,
            assignee_id=assignee,
            impact=rng.choices((1, 2, 3), (1, 3, 6))[0],
            urgency=rng.choices((1, 2, 3), (1, 3, 6))[0],
            channel=rng.choice((Channel.PORTAL, Channel.EMAIL, Channel.PHONE, Channel.WEB)),
            pending_reason="requester" if state == State.PENDING else "",
            resolution_code="solved" if resolved else "",
            resolution_notes=text.paragraph(5, 15) if resolved else "",
            updated_at=closed or resolved or opened,
            first_response_at=opened + timedelta(minutes=rng.randint(5, 600)) if assignee else None,
            resolved_at=resolved,
            closed_at=closed,
            comments=comments,
            events=events,
        )


def search_queries(seed: int = 3) -> list[str]:
    """What agents type: common terms, pairs, rare long-tail words, a prefix being typed, a number."""
    rng = random.Random(seed)
    words = vocabulary()
    common = words[:40]
    middle = words[150:600]
    rare = words[2000:6000]
    queries = [rng.choice(common) for _ in range(8)]
    queries += [f"{rng.choice(common)} {rng.choice(common)}" for _ in range(8)]
    queries += [rng.choice(middle) for _ in range(6)]
    queries += [rng.choice(rare) for _ in range(6)]
    queries += [f"{rng.choice(common)} {rng.choice(middle)}" for _ in range(6)]
    queries += [rng.choice(common)[:4] for _ in range(3)]  # a word being typed (prefix)
    queries += ["INC0000042", "printer not working", "vpn timeout"]
    return queries
