"""The service manager's dashboard over N tickets: every figure of `insights.dashboard.service_manager`, timed.

    .venv/bin/python -m benchmarks.insights_scale --db postgres --tickets 1000000           # load, then measure
    .venv/bin/python -m benchmarks.insights_scale --db postgres --tickets 1000000 --reuse   # measure again
    .venv/bin/python -m benchmarks.insights_scale --db postgres --reuse --explain 5         # + plans of the slowest

Setup (not timed; with --reuse only what is missing): the organisation of `benchmarks.data` (4 desks, 20 groups,
200 agents, 5,000 requesters) with 26 business services and 25 categories; N tickets over the two years before
the load, written by the bulk loader in the order they were opened (as a live desk writes them): ~1,370 a
working day with a weekly and daily rhythm, priorities from the impact x urgency matrix, resolution times
log-normal by priority, service and reassignments (P3 median ~2 days), 3 % cancelled, an auto-close 3 days
after resolution, so that what is still open at the end is the last weeks' backlog. Then, in bulk: service,
category, reassignment and reopen counts, requester wait, first-contact resolution and blocking flags;
parent incidents of a few hundred major incidents; the audit events the figures read (group assignments and
reassignments, escalations, state changes, hand-overs to problem management); one response and one resolution
SLA target per ticket on the Munich office calendar of the SLA benchmark (`benchmarks.sla_scale`: the same
calendar, resolution targets of `DAYS_BY_PRIORITY` working days), with deadlines and elapsed business time
from the SLA engine's calendar; a few thousand service impacts; satisfaction surveys on 15 % of resolutions,
about a third answered. Then VACUUM ANALYZE.

Timed: `dashboard.service_manager(scope, period, now)` as the IT desk's service manager sees it (their visible
desks narrowed to IT) over the last full month and the last 90 days, and over the whole organisation (every
desk) for the last month; `now` is the end of the data. Each case: one warm-up, then 7 runs, with the SQL
queries captured (count, and the slowest) and the time of each part of the dashboard. Results:
/tmp/outcomedesk-insights-bench/insights-<db>-<tickets>-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks import run

DB_NAME = "outcomedesk_insights_bench"
RESULTS = Path("/tmp/outcomedesk-insights-bench")
SPAN_DAYS = 730
OFFICE = "Europe/Berlin"

# desk slug -> (service name, users served, cost of downtime per hour, criticality, SLA target %, CSAT target)
SERVICES: dict[str, list[tuple[str, int, int, int, str, str]]] = {
    "it": [
        ("E-mail and calendar", 4800, 2500, 2, "95", "4.0"), ("Remote access (VPN)", 3000, 1800, 2, "90", "4.0"),
        ("Identity and sign-on", 5000, 6000, 1, "95", "4.0"), ("Laptops and desktops", 5000, 200, 3, "85", "4.0"),
        ("Office network and Wi-Fi", 5000, 4000, 1, "90", "4.0"), ("ERP (SAP)", 1200, 9000, 1, "95", "4.0"),
        ("CRM", 800, 3000, 2, "90", "4.0"), ("Collaboration (Teams)", 5000, 1500, 2, "85", "4.2"),
        ("File shares", 4000, 800, 3, "85", "4.0"), ("Printing", 4500, 100, 4, "80", "3.8"),
        ("Telephony", 1500, 1200, 2, "90", "4.0"), ("Databases", 300, 5000, 1, "95", "4.0"),
        ("Cloud platform", 400, 7000, 1, "95", "4.0"), ("Intranet", 5000, 300, 4, "80", "3.8"),
        ("Mobile devices", 2500, 150, 3, "85", "4.0"), ("Software catalogue", 5000, 100, 4, "80", "4.0"),
    ],
    "facilities": [("Building access", 5000, 500, 2, "90", "4.0"), ("Workplace services", 5000, 50, 4, "80", "4.0"),
                   ("Catering", 3000, 20, 4, "80", "3.8"), ("Parking", 1500, 10, 4, "80", "3.8")],
    "finance": [("Expenses", 5000, 100, 3, "85", "4.0"), ("Accounts payable", 60, 800, 2, "90", "4.0"),
                ("Procurement", 400, 300, 3, "85", "4.0")],
    "hr": [("Payroll", 5000, 2000, 1, "95", "4.2"), ("Recruiting", 80, 100, 3, "85", "4.0"),
           ("Onboarding and leavers", 5000, 300, 2, "90", "4.0")],
}
EXTRA_IT_CATEGORIES = ["Network", "E-mail", "Printing", "Accounts", "Mobile", "Security", "ERP", "Telephony",
                       "Storage", "Licences"]
RESPONSE_MINUTES = {1: 30, 2: 60, 3: 240, 4: 480, 5: 960}  # business minutes to the first response
RESOLVE_MEDIAN_HOURS = {1: 6.0, 2: 16.0, 3: 48.0, 4: 96.0, 5: 160.0}  # wall clock, before the factors below
RESPONSE_MEDIAN_MINUTES = {1: 9.0, 2: 18.0, 3: 60.0, 4: 120.0, 5: 240.0}
HOUR_WEIGHTS = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 2.0, 6.0, 9.0, 9.5, 8.5, 5.5, 7.5, 8.5, 8.0, 6.5, 4.0, 2.0,
                1.2, 0.8, 0.6, 0.4, 0.3]  # tickets opened per local hour of a working day
DAY_WEIGHTS = [1.08, 1.02, 1.0, 0.98, 0.9, 0.12, 0.08]  # Monday .. Sunday
IT_MANAGER, ORG_MANAGER = "it-service-manager", "org-service-manager"


# --- the tickets -------------------------------------------------------------------------------------------

class Extras:
    """What the bulk loader does not take, per ticket in the order written; applied with one UPDATE after."""

    def __init__(self) -> None:
        self.service, self.category = array("i"), array("i")  # 0: none
        self.reassign, self.reopen, self.fcr = array("i"), array("i"), array("b")  # fcr -1: not resolved
        self.awaiting, self.blocks = array("q"), array("b")

    def __len__(self) -> int:
        return len(self.service)


class Profile:
    """How one service behaves: resolution speed, reopens, satisfaction (a few are watermelons on purpose)."""

    def __init__(self, rng: random.Random, name: str) -> None:
        self.speed = rng.uniform(0.6, 1.4)
        self.reopen = rng.uniform(0.02, 0.07)
        self.csat = rng.uniform(3.9, 4.6)
        if name in ("Printing", "Mobile devices"):
            self.reopen = 0.14  # reopened often: a watermelon reason
        if name in ("Collaboration (Teams)", "Catering", "Laptops and desktops"):
            self.csat = 3.4  # unhappy users while the SLA is met
        if name in ("Identity and sign-on", "Databases", "Cloud platform", "ERP (SAP)"):
            self.speed = 0.45


def day_counts(total: int, first_day: date, days: int) -> list[int]:
    """Tickets per day: a weekly rhythm, 20 % growth over the span, a quieter August and Christmas week."""
    weights = []
    for n in range(days):
        day = first_day + timedelta(days=n)
        weight = DAY_WEIGHTS[day.weekday()] * (0.9 + 0.2 * n / days)
        if day.month == 8:
            weight *= 0.8
        if (day.month == 12 and day.day >= 23) or (day.month == 1 and day.day <= 2):
            weight *= 0.4
        weights.append(weight)
    scale = total / sum(weights)
    counts, carry = [], 0.0
    for weight in weights:
        exact = weight * scale + carry
        counts.append(int(exact))
        carry = exact - int(exact)
    counts[-1] += total - sum(counts)
    return counts


def ticket_rows(org: Any, services: dict[int, list[tuple[int, Profile]]], categories: dict[int, list[int]],
                count: int, now: datetime, extras: Extras, seed: int = 11) -> Iterator[Any]:
    """`count` tickets opened over the SPAN_DAYS before `now`, in the order they were opened."""
    from zoneinfo import ZoneInfo

    from benchmarks import data
    from outcomedesk.core.models import Channel
    from outcomedesk.tickets.bulk import CommentRow, EventRow, TicketRow
    from outcomedesk.tickets.models import PendingReason, State, TicketType
    from outcomedesk.tickets.priority import DEFAULT_MATRIX

    rng = random.Random(seed)
    text = data.TextMaker(rng)
    office = ZoneInfo(OFFICE)
    desk_ids = [d for d, _, _ in org.desks]
    desk_weights = [share for _, share, _ in org.desks]
    service_weights = {d: [1.0 / (rank + 2) for rank in range(len(s))] for d, s in services.items()}
    surge = services[desk_ids[0]][1]  # remote access: about twice the volume over the last 45 days
    channels = [Channel.PORTAL, Channel.EMAIL, Channel.PHONE, Channel.WEB, Channel.CHAT, Channel.MONITORING]
    channel_weights = [40, 30, 15, 8, 5, 2]
    open_states = [State.NEW, State.ASSIGNED, State.IN_PROGRESS, State.PENDING]
    first_day = (now - timedelta(days=SPAN_DAYS)).astimezone(office).date()
    last_day = now.astimezone(office).date()
    days = (last_day - first_day).days + 1
    for n, per_day in enumerate(day_counts(count, first_day, days)):
        day = first_day + timedelta(days=n)
        midnight = datetime(day.year, day.month, day.day, tzinfo=office)
        moments = []
        for _ in range(per_day):
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            moment = midnight + timedelta(hours=hour, seconds=rng.random() * 3600)
            moments.append(min(moment, now - timedelta(seconds=rng.random() * 600)))
        moments.sort()
        for opened in moments:
            desk = rng.choices(desk_ids, desk_weights)[0]
            groups = org.groups_of_desk[desk]
            group = groups[0] if rng.random() < 0.33 else rng.choice(groups)
            ticket_type = TicketType.INCIDENT if rng.random() < 0.7 else TicketType.REQUEST
            impact = rng.choices((1, 2, 3), (1, 3, 6))[0]
            urgency = rng.choices((1, 2, 3), (1, 3, 6))[0]
            priority = DEFAULT_MATRIX[(impact, urgency)]
            service_id, profile = 0, None
            if rng.random() < 0.92:
                if desk == desk_ids[0] and now - opened < timedelta(days=45) and rng.random() < 0.06:
                    service_id, profile = surge
                else:
                    service_id, profile = rng.choices(services[desk], service_weights[desk])[0]
            category = rng.choice(categories[desk]) if rng.random() < 0.95 else 0
            reassign = rng.choices((0, 1, 2, 3, 4), (72, 18, 7, 2, 1))[0]
            awaiting = int(rng.lognormvariate(math.log(8 * 3600), 1.0)) if rng.random() < 0.15 else 0
            speed = (profile.speed if profile else 1.0) * (1 + 0.5 * reassign)
            hours = rng.lognormvariate(math.log(RESOLVE_MEDIAN_HOURS[priority] * speed), 1.1)
            done = opened + timedelta(hours=max(hours, 0.05), seconds=awaiting)
            responded: datetime | None = opened + timedelta(
                minutes=rng.lognormvariate(math.log(RESPONSE_MEDIAN_MINUTES[priority] * speed), 1.0))
            resolved = closed = None
            reopen, fcr = 0, -1
            pending_reason = ""
            if rng.random() < 0.03:  # cancelled: withdrawn or a duplicate, soon after it was opened
                cancelled = opened + timedelta(hours=rng.lognormvariate(math.log(4), 1.0))
                state, closed = (State.CANCELLED, cancelled) if cancelled < now else (State.NEW, None)
                responded = None
                reassign, awaiting = 0, 0
            elif done < now:
                resolved = done
                assert responded is not None
                responded = min(responded, resolved)
                closed = resolved + timedelta(days=3)
                state = State.CLOSED if closed < now else State.RESOLVED
                if closed >= now:
                    closed = None
                if rng.random() < (profile.reopen if profile else 0.04):
                    reopen = 1 if rng.random() < 0.85 else 2
                fcr = int(reassign == 0 and awaiting == 0 and reopen == 0 and rng.random() < 0.55)
            else:
                state = rng.choices(open_states, (10, 30, 45, 15))[0]
                if state == State.PENDING:
                    pending_reason = PendingReason.REQUESTER
                if state == State.NEW or (responded is not None and responded >= now):
                    responded = None
                    if state != State.NEW:
                        state = State.NEW
                awaiting = 0 if state == State.NEW else awaiting
            agents = org.agents_of_group[group]
            assignee = rng.choice(agents) if agents and state != State.NEW and responded is not None else None
            requester = rng.choice(org.requesters)
            comments = []
            if rng.random() < 0.2:
                for k in range(rng.randint(1, 2)):
                    comments.append(CommentRow(body=f"<p>{text.paragraph(8, 30)}</p>",
                                               created_at=opened + timedelta(minutes=10 * (k + 1)),
                                               author_id=assignee or requester))
            extras.service.append(service_id)
            extras.category.append(category)
            extras.reassign.append(reassign)
            extras.reopen.append(reopen)
            extras.fcr.append(fcr)
            extras.awaiting.append(awaiting)
            extras.blocks.append(int(ticket_type == TicketType.REQUEST and rng.random() < 0.25))
            yield TicketRow(
                desk_id=desk, requester_id=requester, title=text.title(), description=text.paragraph(15, 60),
                opened_at=opened, type=ticket_type, state=state, group_id=group, assignee_id=assignee,
                impact=impact, urgency=urgency, priority=priority,
                channel=rng.choices(channels, channel_weights)[0], pending_reason=pending_reason,
                resolution_code="solved" if resolved else ("cancelled" if closed and not resolved else ""),
                resolution_notes=text.paragraph(5, 15) if resolved else "",
                updated_at=closed or resolved or responded or opened, first_response_at=responded,
                resolved_at=resolved, closed_at=closed, comments=comments,
                events=[EventRow(action="created", at=opened, new_value=ticket_type.label, actor_id=requester,
                                 channel=Channel.PORTAL)],
            )


def create_services(org: Any, seed: int = 12) -> tuple[dict[int, list[tuple[int, Profile]]], dict[int, list[int]]]:
    """Business services and categories of each desk (created once; read back on --reuse)."""
    from outcomedesk.accounts.models import Desk
    from outcomedesk.cmdb.models import BusinessService
    from outcomedesk.tickets.models import Category

    rng = random.Random(seed)
    desks = {d.slug: d for d in Desk.objects.all()}
    if not BusinessService.objects.exists():
        Category.objects.bulk_create([Category(desk=desks["it"], name=n) for n in EXTRA_IT_CATEGORIES])
        rows = []
        for slug, items in SERVICES.items():
            for name, users, cost, criticality, sla, csat in items:
                rows.append(BusinessService(
                    name=name, slug=name.lower().replace(" ", "-").replace("(", "").replace(")", "")[:60],
                    desk=desks[slug], criticality=criticality, users_served=users,
                    cost_of_downtime_per_hour=Decimal(cost), sla_target_percent=Decimal(sla),
                    experience_target=Decimal(csat)))
        BusinessService.objects.bulk_create(rows)
    services: dict[int, list[tuple[int, Profile]]] = {}
    for slug, items in SERVICES.items():
        ids = dict(BusinessService.objects.filter(desk=desks[slug]).values_list("name", "pk"))
        services[desks[slug].pk] = [(ids[name], Profile(rng, name)) for name, *_ in items]
    categories = {d.pk: list(Category.objects.filter(desk=d).order_by("pk").values_list("pk", flat=True))
                  for d in desks.values()}
    return services, categories


def managers() -> None:
    """The IT desk's service manager, and one who works on every desk (the whole organisation)."""
    from outcomedesk.accounts.models import Desk, DeskMembership, User

    if User.objects.filter(username=IT_MANAGER).exists():
        return
    it = User.objects.create(username=IT_MANAGER, email="itsm@example.org", is_service_manager=True)
    org = User.objects.create(username=ORG_MANAGER, email="orgsm@example.org", is_service_manager=True)
    DeskMembership.objects.create(user=it, desk=Desk.objects.get(slug="it"), role="manager")
    DeskMembership.objects.bulk_create([DeskMembership(user=org, desk=d, role="manager") for d in Desk.objects.all()])


def load(tickets: int, results: dict[str, Any]) -> None:
    """The organisation and the tickets, with the fields the loader does not take applied after."""
    from django.db import connection
    from django.utils import timezone
    from tqdm import tqdm

    from benchmarks import data
    from outcomedesk.core.models import AuditEvent
    from outcomedesk.tickets import bulk
    from outcomedesk.tickets.models import Comment, Ticket

    org = data.create_org()
    services, categories = create_services(org)
    now = timezone.now().replace(microsecond=0)
    extras = Extras()
    started = time.perf_counter()
    bulk.drop_search_index()
    with bulk.secondary_indexes_deferred(Ticket, Comment, AuditEvent):
        with tqdm(total=tickets, unit="ticket", mininterval=2, desc="tickets") as bar:
            bulk.load_tickets(ticket_rows(org, services, categories, tickets, now, extras), batch_size=5000,
                              progress=bar.update, sanitise=False)
        results["phases"]["tickets_s"] = round(time.perf_counter() - started, 1)
        step(results, "ticket extras", lambda: apply_extras(extras))
        step(results, "parents", link_parents)
        step(results, "audit events", audit_events)
        with connection.cursor() as cursor:
            print("VACUUM FULL of the tickets (the extras rewrote every row) ...", flush=True)
            cursor.execute(f"VACUUM FULL {Ticket._meta.db_table}")
        print("building the secondary indexes ...", flush=True)
    step(results, "search index", bulk.build_search_index)


def step(results: dict[str, Any], name: str, work: Callable[[], Any]) -> Any:
    print(f"{name} ...", flush=True)
    started = time.perf_counter()
    value = work()
    results["phases"][name.replace(" ", "_") + "_s"] = round(time.perf_counter() - started, 1)
    print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
    return value


def apply_extras(extras: Extras) -> None:
    """Service, category, counts and flags of every ticket: COPY into a scratch table, one UPDATE."""
    from django.db import connection, transaction

    from outcomedesk.tickets.models import Ticket

    table = Ticket._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id), count(*) FROM {table}")
        low, high, count = cursor.fetchone()
        if count != len(extras) or high - low + 1 != count:
            raise RuntimeError(f"expected {len(extras)} tickets with consecutive ids, found {count} ({low}-{high})")
        cursor.execute("CREATE TEMPORARY TABLE bench_extras (id bigint, service int, category int, reassign int, "
                       "reopen int, fcr boolean, awaiting bigint, blocks boolean) ON COMMIT DROP")
        with cursor.cursor.copy("COPY bench_extras FROM STDIN") as copy:
            for n in range(len(extras)):
                fcr = extras.fcr[n]
                copy.write_row((low + n, extras.service[n] or None, extras.category[n] or None, extras.reassign[n],
                                extras.reopen[n], None if fcr < 0 else bool(fcr), extras.awaiting[n],
                                bool(extras.blocks[n])))
        cursor.execute(
            f"UPDATE {table} t SET service_id = x.service, category_id = x.category, reassignment_count = x.reassign, "
            "reopen_count = x.reopen, first_contact_resolution = x.fcr, awaiting_requester_seconds = x.awaiting, "
            "blocks_work = x.blocks FROM bench_extras x WHERE x.id = t.id"
        )


def link_parents() -> None:
    """Major incidents: every 400th P1/P2 incident with a service takes the next incidents of its service
    opened within 4 hours as children (a few hundred parents, a few thousand children)."""
    from django.db import connection

    from outcomedesk.tickets.models import Ticket

    table = Ticket._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH major AS (SELECT id, service_id, opened_at FROM (SELECT id, service_id, opened_at, "
            f"row_number() OVER (ORDER BY id) AS n FROM {table} WHERE type = 'incident' AND priority <= 2 "
            f"AND service_id IS NOT NULL) m WHERE n % 400 = 0) "
            f"UPDATE {table} c SET parent_id = major.id FROM major WHERE c.service_id = major.service_id "
            f"AND c.type = 'incident' AND c.opened_at > major.opened_at "
            f"AND c.opened_at < major.opened_at + interval '4 hours' AND c.id % 2 = 0"
        )


def audit_events() -> None:
    """The changes the figures read, as the ticket services record them: the group given at creation, each
    reassignment, hierarchical escalations, resolutions and closures, waits on the requester, and incidents
    handed to problem management."""
    from django.db import connection

    from outcomedesk.core.models import AuditEvent
    from outcomedesk.tickets.models import Ticket

    table, audit = Ticket._meta.db_table, AuditEvent._meta.db_table
    columns = "object_type, object_id, at, actor_id, channel, action, field, old_value, new_value"
    finished = "coalesce(t.resolved_at, t.closed_at, t.updated_at)"
    statements = [
        # the first group: old value empty, not an escalation
        f"SELECT 'ticket', t.id, t.opened_at, NULL, 'system', 'assigned', 'group', '', g.name "
        f"FROM {table} t JOIN accounts_assignmentgroup g ON g.id = t.group_id",
        # each reassignment: a functional escalation
        f"SELECT 'ticket', t.id, t.opened_at + ({finished} - t.opened_at) * k / (t.reassignment_count + 1), "
        f"t.assignee_id, 'web', 'assigned', 'group', 'Service Desk', g.name "
        f"FROM {table} t JOIN accounts_assignmentgroup g ON g.id = t.group_id, "
        f"generate_series(1, t.reassignment_count) k WHERE t.reassignment_count > 0",
        # a hierarchical escalation of 1 % of the tickets
        f"SELECT 'ticket', t.id, t.opened_at + ({finished} - t.opened_at) / 2, t.assignee_id, 'web', 'escalated', "
        f"'priority', t.priority + 1, t.priority FROM {table} t WHERE t.id % 100 = 7 AND t.priority < 5",
        f"SELECT 'ticket', t.id, t.resolved_at, t.assignee_id, 'web', 'state', 'state', 'in_progress', 'resolved' "
        f"FROM {table} t WHERE t.resolved_at IS NOT NULL",
        f"SELECT 'ticket', t.id, t.closed_at, NULL, 'system', 'state', 'state', "
        f"CASE WHEN t.resolved_at IS NULL THEN 'new' ELSE 'resolved' END, t.state "
        f"FROM {table} t WHERE t.closed_at IS NOT NULL",
        f"SELECT 'ticket', t.id, t.opened_at + interval '1 hour', t.assignee_id, 'web', 'state', 'pending_reason', "
        f"'', 'requester' FROM {table} t WHERE t.awaiting_requester_seconds > 0",
        # incidents handed to problem management: 1 in 300
        f"SELECT 'ticket', t.id, t.opened_at + interval '2 hours', t.assignee_id, 'web', 'state', "
        f"'pending_reason', '', 'problem' FROM {table} t WHERE t.type = 'incident' AND t.id % 300 = 11",
    ]
    with connection.cursor() as cursor:
        for select in statements:
            cursor.execute(f"INSERT INTO {audit} ({columns}) {select}")


# --- SLA targets, impacts, surveys ----------------------------------------------------------------------------

def sla_policy() -> Any:
    """The Munich office calendar of the SLA benchmark, and a policy with response and resolution targets."""
    from benchmarks.sla_scale import DAYS_BY_PRIORITY
    from outcomedesk.sla import services as sla
    from outcomedesk.sla.models import BusinessCalendar, SlaPolicy

    policy = SlaPolicy.objects.filter(name="Everything").first()
    if policy is not None:
        return policy
    office = BusinessCalendar.objects.filter(name="Munich office").first() or sla.save_calendar(
        None, "Munich office", {
            "timezone": OFFICE,
            "hours": {d: [["09:00", "12:00"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": {"country": "DE", "subdiv": "BY"},
        })
    targets = [{"metric": "resolution", "priority": p, "minutes": days * 510} for p, days in DAYS_BY_PRIORITY.items()]
    targets += [{"metric": "response", "priority": p, "minutes": m} for p, m in RESPONSE_MINUTES.items()]
    return sla.save_policy(None, {"name": "Everything", "calendar": office.pk, "pause_reasons": ["requester"]},
                           targets=targets)


def copy_rows(table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    from django.db import connection

    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def ticket_chunks(fields: str, where: str = "", size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of the tickets table in id order, `size` ids at a time (each chunk is read before it is written
    elsewhere: a COPY holds the connection)."""
    from django.db import connection

    from outcomedesk.tickets.models import Ticket

    table = Ticket._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {table}")
        low, high = cursor.fetchone()
        for start in range(low or 0, (high or -1) + 1, size):
            cursor.execute(f"SELECT {fields} FROM {table} WHERE id >= %s AND id < %s "
                           f"{'AND ' + where if where else ''} ORDER BY id", [start, start + size])
            yield cursor.fetchall()


def sla_targets(now: datetime, tickets: int) -> None:
    """One response and one resolution target per ticket, as the SLA engine would have left them: deadline
    and elapsed business time from the policy's calendar (a wait on the requester pauses the clock), met or
    breached when stopped, running (or breached, past the deadline) while the ticket is open."""
    from tqdm import tqdm

    from outcomedesk.sla import services as sla
    from outcomedesk.sla.calendar import add_business_time, business_time_between
    from outcomedesk.sla.models import PolicyTarget, TicketTarget

    policy = sla_policy()
    calendar = sla.calendar_of(policy.calendar)
    minutes = {(t.metric, t.priority): t.minutes for t in PolicyTarget.objects.filter(policy=policy)}
    columns = ["ticket_id", "metric", "cycle", "policy_id", "minutes", "state", "started_at", "stopped_at",
               "is_active", "deadline", "breached_at", "pauses", "elapsed_seconds", "next_check_at", "computed_at"]

    def rows(chunk: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        for pk, priority, state, opened, responded, resolved, closed, awaiting in chunk:
            pauses: list[tuple[datetime, datetime]] = []
            if awaiting:
                begin = opened + timedelta(hours=1)
                pauses = [(begin, begin + timedelta(seconds=awaiting))]
            stored = json.dumps([[a.isoformat(), b.isoformat(), "pending on requester"] for a, b in pauses])
            for metric, stop, wait in (("response", responded, []), ("resolution", resolved, pauses)):
                target = minutes[(metric, priority)]
                deadline = add_business_time(calendar, opened, timedelta(minutes=target), wait)
                if state == "cancelled" and stop is None:
                    stop, result = closed, "cancelled"
                elif stop is not None:
                    result = "met" if stop <= deadline else "breached"
                else:
                    result = "breached" if deadline <= now else "running"
                elapsed = business_time_between(calendar, opened, stop or now, wait)
                yield (pk, metric, 0, policy.pk, target, result, opened, stop, stop is None, deadline,
                       deadline if result == "breached" else None, stored if metric == "resolution" else "[]",
                       int(elapsed.total_seconds()), None if stop is not None else deadline, now)

    with tqdm(total=tickets, unit="ticket", mininterval=2, desc="SLA targets") as bar:
        for chunk in ticket_chunks("id, priority, state, opened_at, first_response_at, resolved_at, closed_at, "
                                   "awaiting_requester_seconds"):
            copy_rows(TicketTarget._meta.db_table, columns, rows(chunk))
            bar.update(len(chunk))


def service_impacts(now: datetime, count: int = 4000, seed: int = 13) -> None:
    """`count` impact windows on P1-P3 incidents of a service: full outages and partial ones."""
    from outcomedesk.tickets.models import ServiceImpact, Ticket

    rng = random.Random(seed)
    candidates = list(Ticket.objects.filter(type="incident", priority__lte=3, service__isnull=False)
                      .order_by("pk").values_list("pk", "service_id", "opened_at", "resolved_at", "priority"))
    weighted = [c for c in candidates if c[4] <= 2 or rng.random() < 0.1]
    rows = []
    for pk, service_id, opened, resolved, _ in sorted(rng.sample(weighted, min(count, len(weighted)))):
        start = opened - timedelta(minutes=rng.randint(0, 30))
        end = None if resolved is None and rng.random() < 0.7 else min(
            now, start + timedelta(hours=rng.lognormvariate(math.log(1.5), 1.0)))
        kind = rng.random()
        rows.append(ServiceImpact(
            ticket_id=pk, service_id=service_id, impact_start=start, impact_end=end, recorded_at=opened,
            impact_fraction=Decimal("1") if kind < 0.4 else (
                Decimal(f"{rng.uniform(0.02, 0.8):.4f}") if kind < 0.8 else None),
            users_affected=rng.randint(5, 400) if kind >= 0.8 else None))
    ServiceImpact.objects.bulk_create(rows, batch_size=2000)


def surveys(now: datetime, profiles: dict[int, Profile], seed: int = 14) -> None:
    """A survey on 15 % of resolutions (an hour after), 35 % answered within days, scored around the
    service's satisfaction."""
    from tqdm import tqdm

    from outcomedesk.experience.models import Survey, new_token

    rng = random.Random(seed)
    columns = ["ticket_id", "token", "sent_at", "resolution_at", "channel", "score", "comment", "responded_at",
               "responded_via"]

    def rows(chunk: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        for pk, resolved, service in chunk:
            if rng.random() >= 0.15:
                continue
            sent = resolved + timedelta(hours=1)
            if sent >= now:
                continue
            score = responded = None
            if rng.random() < 0.35:
                responded = sent + timedelta(hours=rng.lognormvariate(math.log(5), 1.2))
                if responded < now:
                    mean = profiles[service].csat if service in profiles else 4.1
                    score = max(1, min(5, round(rng.gauss(mean, 1.0))))
                else:
                    responded = None
            yield (pk, new_token(), sent, resolved, "email", score, "", responded, "email" if responded else "")

    with tqdm(unit="resolved ticket", mininterval=2, desc="surveys") as bar:
        for chunk in ticket_chunks("id, resolved_at, service_id", "resolved_at IS NOT NULL"):
            copy_rows(Survey._meta.db_table, columns, rows(chunk))
            bar.update(len(chunk))


def ensure_data(args: argparse.Namespace, results: dict[str, Any]) -> datetime:
    """Whatever of the data set is missing (everything on a fresh database); returns the data's `now`."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max

    from outcomedesk.experience.models import Survey
    from outcomedesk.sla.models import TicketTarget
    from outcomedesk.tickets.models import ServiceImpact, Ticket

    step(results, "migrate", lambda: call_command("migrate", interactive=False, verbosity=0))
    have = Ticket.objects.count()
    if have == 0:
        load(args.tickets, results)
    elif have != args.tickets:
        print(f"note: the database holds {have:,} tickets, not {args.tickets:,}; measuring those", flush=True)
    results["tickets_in_db"] = Ticket.objects.count()
    managers()
    # The data's present: the last ticket opened (a reused database is measured as of its own end).
    last = Ticket.objects.aggregate(last=Max("opened_at"))["last"]
    now = last.replace(microsecond=0) + timedelta(minutes=10)
    services, _ = create_services(None)
    profiles = {pk: profile for items in services.values() for pk, profile in items}
    if not TicketTarget.objects.exists():
        step(results, "SLA targets", lambda: sla_targets(now, results["tickets_in_db"]))
    if not ServiceImpact.objects.exists():
        step(results, "service impacts", lambda: service_impacts(now))
    if not Survey.objects.exists():
        step(results, "surveys", lambda: surveys(now, profiles))
    if connection.vendor == "postgresql":
        def vacuum() -> None:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        step(results, "VACUUM ANALYZE", vacuum)
    results["rows"] = {
        "tickets": results["tickets_in_db"], "sla_targets": TicketTarget.objects.count(),
        "service_impacts": ServiceImpact.objects.count(), "surveys_sent": Survey.objects.count(),
        "survey_responses": Survey.objects.filter(score__isnull=False).count(),
    }
    from outcomedesk.core.models import AuditEvent

    results["rows"]["audit_events"] = AuditEvent.objects.count()
    print(f"data: {results['rows']}; as of {now.isoformat()}", flush=True)
    return now


# --- measurement --------------------------------------------------------------------------------------------

PARTS = ("figures current", "figures previous", "priorities", "resolution bands", "trend", "watermelon",
         "suggestions")


@contextmanager
def part_timer(times: dict[str, float], queries: dict[str, int], captured: Any) -> Iterator[None]:
    """Wraps the functions `service_manager` calls, recording seconds and SQL queries of each."""
    from outcomedesk.insights import dashboard, figures, suggestions, trends, watermelon

    originals: list[tuple[Any, str, Any]] = []
    calls = {"compute": 0}

    def wrap(owner: Any, name: str, label: Callable[[], str]) -> None:
        original = getattr(owner, name)

        def timed(*a: Any, **k: Any) -> Any:
            key = label()
            before, started = len(captured.captured_queries), time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - started
                queries[key] = queries.get(key, 0) + len(captured.captured_queries) - before

        originals.append((owner, name, original))
        setattr(owner, name, timed)

    def compute_label() -> str:
        calls["compute"] += 1
        return "figures current" if calls["compute"] == 1 else "figures previous"

    wrap(figures, "compute", compute_label)
    wrap(dashboard, "_priorities", lambda: "priorities")
    wrap(dashboard, "resolution_bands", lambda: "resolution bands")
    wrap(trends, "trend", lambda: "trend")
    wrap(watermelon, "detect", lambda: "watermelon")
    wrap(watermelon, "find_causes", lambda: "watermelon")
    wrap(suggestions, "suggest", lambda: "suggestions")
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def measure_case(name: str, scope: Any, period: Any, now: datetime, runs: int, explain: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from outcomedesk.insights import dashboard

    totals: list[float] = []
    cpu: list[float] = []
    part_runs: dict[str, list[float]] = {p: [] for p in PARTS}
    part_queries: dict[str, int] = {}
    query_counts: list[int] = []
    slowest: list[tuple[float, str]] = []
    for n in range(runs + 1):  # the first is the warm-up
        times: dict[str, float] = {}
        queries: dict[str, int] = {}
        with CaptureQueriesContext(connection) as captured, part_timer(times, queries, captured):
            started, started_cpu = time.perf_counter(), time.process_time()
            view = dashboard.service_manager(scope, period, now)
            elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        label = "warm-up" if n == 0 else f"run {n}"
        print(f"  {name}: {label} {elapsed * 1000:7.0f} ms, {len(captured.captured_queries)} queries  "
              + "  ".join(f"{p} {times.get(p, 0) * 1000:.0f}" for p in PARTS), flush=True)
        if n == 0:
            continue
        totals.append(elapsed * 1000)
        cpu.append(elapsed_cpu * 1000)
        query_counts.append(len(captured.captured_queries))
        for p in PARTS:
            part_runs[p].append(times.get(p, 0.0) * 1000)
        part_queries = queries
        slowest = sorted(((float(q["time"]), q["sql"]) for q in captured.captured_queries), reverse=True)
    result: dict[str, Any] = {
        "period": period.as_json(), "scope": scope.as_json() | {"desk_ids": sorted(scope.desk_ids or [])},
        "runs_ms": [round(t, 1) for t in totals], "median_ms": round(run.median(totals), 1),
        "p99_ms": round(run.percentile(totals, 99), 1), "cpu_median_ms": round(run.median(cpu), 1),
        "queries": query_counts[-1], "queries_per_run": sorted(set(query_counts)),
        "parts_median_ms": {p: round(run.median(v), 1) for p, v in part_runs.items()},
        "parts_p99_ms": {p: round(run.percentile(v, 99), 1) for p, v in part_runs.items()},
        "parts_queries": part_queries,
        "slowest_queries_last_run": [{"ms": round(t * 1000, 1), "sql": sql[:3000]} for t, sql in slowest[:8]],
        "shown": {"ticket_volume": view.figures["ticket_volume"], "backlog": view.figures["backlog"],
                  "services": len(view.services), "watermelons": len(view.watermelons),
                  "suggestions": len(view.suggestions), "trend_points": len(view.trend.buckets),
                  "resolved": view.figures["mttr"]["tickets"],
                  "sla_compliance": view.figures["sla_compliance"]["overall"], "csat": view.figures["csat"],
                  "downtime_cost": round(view.figures["downtime_cost"], 2)},
    }
    if explain and connection.vendor == "postgresql":
        plans = []
        with connection.cursor() as cursor:
            for _, sql in slowest[:explain]:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plans.append({"sql": sql, "plan": "\n".join(r[0] for r in cursor.fetchall())})
        result["explain"] = plans
    return result


def measure_lanes(name: str, scope: Any, period: Any, now: datetime, runs: int) -> dict[str, Any]:
    """The dashboard as deployed on PostgreSQL: its two lanes at once (insights/parallel.py), outside any
    transaction; wall time only (the other lane's queries run on their own connection)."""
    from django.db import connection

    from outcomedesk.insights import dashboard

    assert connection.vendor == "postgresql" and not connection.in_atomic_block
    totals: list[float] = []
    for n in range(runs + 1):
        started = time.perf_counter()
        dashboard.service_manager(scope, period, now)
        elapsed = (time.perf_counter() - started) * 1000
        print(f"  {name}, two lanes: {'warm-up' if n == 0 else f'run {n}'} {elapsed:7.0f} ms", flush=True)
        if n:
            totals.append(elapsed)
    return {"runs_ms": [round(t, 1) for t in totals], "median_ms": round(run.median(totals), 1),
            "p99_ms": round(run.percentile(totals, 99), 1)}


def cases(now: datetime) -> list[tuple[str, Any, Any]]:
    from outcomedesk.accounts import policy
    from outcomedesk.accounts.models import User
    from outcomedesk.insights import periods
    from outcomedesk.insights.scope import resolve_scope

    today = now.astimezone(periods.zone()).date()
    last = today.replace(day=1) - timedelta(days=1)
    month = periods.month(last.year, last.month)
    quarter = periods.between((today - timedelta(days=90)).isoformat(), (today - timedelta(days=1)).isoformat())
    def figure_desks(username: str) -> frozenset[int]:
        return policy.desk_ids(User.objects.get(username=username), policy.VIEW, policy.Kind.FIGURES)

    it = resolve_scope(figure_desks(IT_MANAGER), desk="it")
    org = resolve_scope(figure_desks(ORG_MANAGER))
    return [("IT desk, last month", it, month), ("IT desk, last 90 days", it, quarter),
            ("organisation, last month", org, month)]


def table(results: dict[str, Any]) -> str:
    lines = ["| case | two lanes: median ms | p99 ms | one lane: median ms | p99 ms | queries | "
             + " | ".join(PARTS) + " |", "|---|---:|---:|---:|---:|---:|" + "---:|" * len(PARTS)]
    for name, r in results["cases"].items():
        lanes = r.get("two_lanes", {})
        lines.append(f"| {name} | {lanes.get('median_ms', 0):.0f} | {lanes.get('p99_ms', 0):.0f} | "
                     f"{r['median_ms']:.0f} | {r['p99_ms']:.0f} | {r['queries']} | "
                     + " | ".join(f"{r['parts_median_ms'][p]:.0f} ({r['parts_queries'].get(p, 0)})" for p in PARTS)
                     + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["postgres"], required=True,
                        help="PostgreSQL only (the data set is written with COPY)")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true",
                        help="Keep the database: migrate it, add what is missing, measure")
    parser.add_argument("--database", default=DB_NAME, help=f"Database name (default {DB_NAME})")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--explain", type=int, default=0, help="EXPLAIN ANALYZE the N slowest queries of each case")
    parser.add_argument("--only", default="", help="Measure only the cases whose name contains this")
    args = parser.parse_args(argv)
    run.PG_BENCH_DB = args.database
    data_dir = Path(os.environ.get("OUTCOMEDESK_BENCH_DIR", "/tmp/outcomedesk-insights-bench-data"))
    run.configure_environment(args.db, data_dir)
    if not args.reuse:
        run.fresh_database(args.db, data_dir)
    import django

    django.setup()
    results: dict[str, Any] = {
        "db": args.db, "database": args.database, "tickets_requested": args.tickets, "reuse": args.reuse,
        "command": " ".join([".venv/bin/python -m benchmarks.insights_scale", *sys.argv[1:]]),
        "started_at": datetime.now(UTC).isoformat(), "phases": {}, "runs": args.runs, "cases": {},
    }
    started = time.perf_counter()
    now = ensure_data(args, results)
    results["setup_s"] = round(time.perf_counter() - started, 1)
    results["data_now"] = now.isoformat()
    results["machine"] = run.machine()
    for name, scope, period in cases(now):
        if args.only and args.only not in name:
            continue
        print(f"{name}: {period.label()}, scope {scope.as_json()} of desks {sorted(scope.desk_ids or [])}",
              flush=True)
        from django.test.utils import override_settings

        with override_settings(OUTCOMEDESK_INSIGHTS_PARALLEL=False):  # one lane: the parts can be told apart
            results["cases"][name] = measure_case(name, scope, period, now, args.runs, args.explain)
        with override_settings(OUTCOMEDESK_INSIGHTS_PARALLEL=True):
            results["cases"][name]["two_lanes"] = measure_lanes(name, scope, period, now, args.runs)
    results["finished_at"] = datetime.now(UTC).isoformat()
    results["load_avg_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"insights-{args.db}-{results['tickets_in_db']}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(table(results))
    print("(parts: median ms over the runs, and SQL queries in brackets)")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
