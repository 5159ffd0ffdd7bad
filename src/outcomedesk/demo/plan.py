"""Planning the demo history: a pure, deterministic function of (seed, tickets, months, now).

The plan says what happens to each ticket and when; `seed.py` replays it through the ticket services.
Keeping the two apart lets tests check determinism without a database and keeps the randomness in one place.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from outcomedesk.demo import catalog
from outcomedesk.demo.catalog import CategorySpec, DeskSpec, PersonSpec, TicketTemplate

# Relative arrival by weekday (Monday first) and by hour of the day.
WEEKDAY_WEIGHTS = (1.3, 1.15, 1.05, 1.0, 0.8, 0.06, 0.04)
HOUR_WEIGHTS = (
    0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 1.0, 3.5, 6.0, 6.5, 5.5, 3.0, 4.5, 5.5, 5.0, 4.0, 2.5, 1.2, 0.6,
    0.4, 0.3, 0.2, 0.15,
)
# ITIL default impact x urgency -> priority; only used here to pace the plan.
PRIORITY = {(1, 1): 1, (1, 2): 2, (1, 3): 3, (2, 1): 2, (2, 2): 3, (2, 3): 4, (3, 1): 3, (3, 2): 4, (3, 3): 5}
# Minutes until the first agent reply, by priority.
RESPONSE_MINUTES = {1: (3, 20), 2: (10, 60), 3: (20, 240), 4: (45, 480), 5: (90, 1200)}
# Median working hours from first reply to resolution, by priority.
RESOLVE_HOURS = {1: 2.5, 2: 6.0, 3: 14.0, 4: 26.0, 5: 45.0}
RECENT_DAYS = 14
OPEN_AT_DAY = 8
CLOSE_AT_DAY = 18
CHANNELS = ("portal", "email", "phone")
# Satisfaction surveys: the share of resolutions rated, and how scores 1-5 are spread.
SURVEY_ANSWER_SHARE = 0.3
SCORES = (1, 2, 3, 4, 5)
SCORE_WEIGHTS = (0.03, 0.04, 0.10, 0.33, 0.50)
REOPENED_SCORE_WEIGHTS = (0.15, 0.25, 0.30, 0.20, 0.10)
WATERMELON_SCORE_WEIGHTS = (0.30, 0.35, 0.20, 0.10, 0.05)
# High-impact incidents of a service in catalog.IMPACTFUL_SERVICES, raised with the desk that runs the service, get
# an impact window this often (the major incidents always do).
IMPACT_WINDOW_SHARE = 0.08


@dataclass(frozen=True)
class PlannedStep:
    """One thing that happens to a ticket after it is opened."""

    at: datetime
    # reassign, reply, note, ask, answer, vendor, resume, resolve, reopen, confirm, cancel; impact (the agent
    # records the ticket's service_impact), restore (the service is back: the agent ends that window; at the
    # latest, resolving does); rate (the requester answers the survey)
    action: str
    by: str  # "agent" or "requester"
    text: str = ""
    # reassign: group name hint; resolve/cancel: resolution code; reply: "quick" (no in-progress); rate: the score
    detail: str = ""


@dataclass(frozen=True)
class PlannedImpact:
    """The window in which an incident stopped its service: from `start`, for `hours` (the agent who records it
    may know the end already)."""

    start: datetime
    hours: float
    users_affected: int | None = None
    fraction: Decimal | None = None  # neither: a full outage
    note: str = ""

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)


@dataclass(frozen=True)
class PlannedTicket:
    """A ticket to open at `opened_at`, and the steps of its life up to the plan's `now`."""

    desk: str
    category: str
    service: str | None
    type: str
    title: str
    description: str
    requester: str
    channel: str
    impact: int
    urgency: int
    opened_at: datetime
    steps: tuple[PlannedStep, ...]
    service_impact: PlannedImpact | None = None


def plan_demo(seed: int, tickets: int, months: int, now: datetime) -> list[PlannedTicket]:
    """`tickets` tickets opened over the `months` months before `now`, in opening order; same input, same plan."""
    if tickets < 0 or months < 1:
        raise ValueError("tickets must be >= 0 and months >= 1")
    rng = random.Random(seed)
    start = now - timedelta(days=round(months * 30.4))
    days = [start.date() + timedelta(days=n) for n in range((now.date() - start.date()).days + 1)]
    planner = _Planner(rng, now, start, days)
    planned: list[PlannedTicket] = []
    outage_budget = min(len(catalog.OUTAGES), months, tickets // 40)
    for outage in catalog.OUTAGES[:outage_budget]:
        planned += planner.outage(outage, size=min(18, max(4, tickets // 60)))
    if tickets >= 40:
        planned += planner.recurring(size=min(6, max(3, tickets // 80)))
    while len(planned) < tickets:
        planned.append(planner.ticket())
    planned.sort(key=lambda t: (t.opened_at, t.title, t.requester))
    return planned


class _Planner:
    def __init__(self, rng: random.Random, now: datetime, start: datetime, days: list[date]) -> None:
        self.rng = rng
        self.now = now
        self.start = start
        self.days = days
        self.day_weights = [WEEKDAY_WEIGHTS[d.weekday()] for d in days]

    # --- choosing ------------------------------------------------------------------------------------------

    def _pick(self, items: Sequence[TicketTemplate] | Sequence[CategorySpec] | Sequence[DeskSpec], weights:
              Sequence[float]) -> int:
        return self.rng.choices(range(len(items)), weights)[0]

    def _slots(self) -> dict[str, str]:
        return {name: self.rng.choice(values) for name, values in catalog.SLOTS.items()}

    def _requester(self, desk_slug: str, exclude: frozenset[str] = frozenset()) -> PersonSpec:
        people = [p for p in catalog.PEOPLE if p.weight > 0 and p.username not in exclude
                  and desk_slug not in {d for d, _ in p.desks}]
        return self.rng.choices(people, [p.weight for p in people])[0]

    def _arrival(self) -> datetime:
        while True:
            day = self.rng.choices(self.days, self.day_weights)[0]
            hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
            moment = _at(day, hour, self.rng.randrange(60), self.now)
            if self.start <= moment < self.now:
                return moment

    def _work(self, moment: datetime) -> datetime:
        """The same moment if within working hours, else shortly after the next working day starts."""
        local = moment
        if local.weekday() < 5 and OPEN_AT_DAY <= local.hour < CLOSE_AT_DAY:
            return moment
        day = local.date() if local.hour < OPEN_AT_DAY else local.date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return _at(day, OPEN_AT_DAY, self.rng.randrange(90), moment)

    def _after(self, moment: datetime, low: float, high: float, *, working: bool = True) -> datetime:
        later = moment + timedelta(minutes=self.rng.uniform(low, high))
        return self._work(later) if working else later

    # --- tickets -------------------------------------------------------------------------------------------

    def ticket(self) -> PlannedTicket:
        rng = self.rng
        desk = catalog.DESKS[self._pick(catalog.DESKS, [d.share for d in catalog.DESKS])]
        cat = desk.categories[self._pick(desk.categories, [c.weight for c in desk.categories])]
        template = cat.templates[self._pick(cat.templates, [t.weight for t in cat.templates])]
        requester = self._requester(desk.slug)
        slots = self._slots()
        impact, urgency = template.impact, template.urgency
        roll = rng.random()
        if roll < 0.12:
            urgency = max(1, urgency - 1)
        elif roll < 0.22:
            urgency = min(3, urgency + 1)
        if rng.random() < 0.04:
            impact = max(1, impact - 1)
        if requester.is_vip:
            urgency = max(1, urgency - 1)
        channel = rng.choices(CHANNELS, (55, 30, 15) if urgency > 1 else (35, 25, 40))[0]
        opened = self._arrival()
        # The watermelon service's recent tickets are all closed fast, and their requesters are not happy.
        prompt = (template.service == catalog.WATERMELON_SERVICE
                  and opened >= self.now - timedelta(days=catalog.WATERMELON_DAYS))
        service_impact = None
        if (not prompt and template.type == "incident" and impact <= 2
                and template.service in catalog.IMPACTFUL_SERVICES and _service_desk(template.service) == desk.slug
                and rng.random() < IMPACT_WINDOW_SHARE):
            service_impact = self._impact(template.service, opened)
        if prompt:
            steps = self._prompt(desk, cat, opened, slots, vip=requester.is_vip)
        else:
            steps = self._lifecycle(desk, cat, template.type, PRIORITY[(impact, urgency)], opened, slots,
                                    service_impact=service_impact)
        return PlannedTicket(
            desk=desk.slug, category=cat.name, service=template.service, type=template.type,
            title=_fill(template.title, slots)[:200], description=_fill(template.description, slots),
            requester=requester.username, channel=channel, impact=impact, urgency=urgency, opened_at=opened,
            # An incident that stops a service is worked until it is fixed: never left open by the cut.
            steps=self._cut(steps, opened, keep_open=not prompt and service_impact is None),
            service_impact=service_impact,
        )

    def _impact(self, service_slug: str, opened: datetime) -> PlannedImpact:
        """Part of a service's users stopped, from a little before the first report."""
        rng = self.rng
        served = next(s.users_served for s in catalog.SERVICES if s.slug == service_slug)
        start = opened - timedelta(minutes=rng.uniform(5, 45))
        hours = rng.uniform(0.75, 6)
        note = rng.choice(catalog.IMPACT_NOTES)
        if rng.random() < 0.5:
            users = max(1, round(served * rng.uniform(0.05, 0.4)))
            return PlannedImpact(start, hours, users_affected=users, note=note)
        return PlannedImpact(start, hours, fraction=Decimal(str(round(rng.uniform(0.1, 0.6), 2))), note=note)

    def _rating(self, add: _Add, resolved: datetime, weights: Sequence[float], comments: Sequence[str],
                share: float = SURVEY_ANSWER_SHARE, comment_share: float = 0.4) -> None:
        """Perhaps the requester answers the survey of the last resolution, within two days."""
        rng = self.rng
        if rng.random() >= share:
            return
        score = rng.choices(SCORES, weights)[0]
        text = rng.choice(comments or catalog.SURVEY_COMMENTS[score]) if rng.random() < comment_share else ""
        add(self._after(resolved, 20, 60 * 48, working=False), "rate", "requester", text, str(score))

    def _prompt(self, desk: DeskSpec, cat: CategorySpec, opened: datetime, slots: dict[str, str], *,
                vip: bool) -> list[PlannedStep]:
        """A ticket answered and resolved well within every target, whose requester still rates it low.

        Executives' tickets run around the clock with a 15-minute response: their agent answers at once."""
        rng = self.rng
        steps: list[PlannedStep] = []
        add = _adder(steps, opened, slots)
        if vip:
            t = add(opened + timedelta(minutes=rng.uniform(4, 12)), "reply", "agent", rng.choice(desk.first_replies))
            t = add(t + timedelta(minutes=rng.uniform(30, 150)), "resolve", "agent", rng.choice(cat.resolutions),
                    "solved")
        else:
            t = add(self._after(opened, 15, 90), "reply", "agent", rng.choice(desk.first_replies))
            t = add(self._after(t, 30, 240), "resolve", "agent", rng.choice(cat.resolutions), "solved")
        self._rating(add, t, WATERMELON_SCORE_WEIGHTS, catalog.WATERMELON_COMMENTS, share=0.75, comment_share=0.6)
        return steps

    def recurring(self, size: int) -> list[PlannedTicket]:
        """The watermelon service's recurring incident: the same failure reported again and again in the last
        four weeks, each ticket closed fast."""
        desk_slug, category, title, description = catalog.WATERMELON_ISSUE
        desk, cat = catalog.desk(desk_slug), catalog.category(desk_slug, category)
        vips = frozenset(p.username for p in catalog.PEOPLE if p.is_vip)
        out: list[PlannedTicket] = []
        for _ in range(size):
            slots = self._slots()
            requester = self._requester(desk_slug, vips)
            # Three days back at least: moved to working hours, it still lies before now.
            opened = self._work(self.now - timedelta(days=self.rng.uniform(3, 28)))
            steps = self._prompt(desk, cat, opened, slots, vip=False)
            out.append(PlannedTicket(
                desk=desk_slug, category=category, service=catalog.WATERMELON_SERVICE, type="incident",
                title=_fill(title, slots), description=_fill(description, slots), requester=requester.username,
                channel=self.rng.choice(CHANNELS), impact=3, urgency=2, opened_at=opened,
                steps=self._cut(steps, opened, keep_open=False),
            ))
        return out

    def outage(self, spec: tuple[str, str, str, str, str], size: int) -> list[PlannedTicket]:
        """A major incident: many people report the same failure within an hour; all resolved together."""
        desk_slug, category, service, title, resolution = spec
        slots = self._slots()
        began = self._work(self._arrival().replace(hour=9))
        if began >= self.now - timedelta(days=2):
            began -= timedelta(days=7)
        restored = began + timedelta(minutes=self.rng.uniform(90, 300))
        users, fraction = catalog.OUTAGE_REACH.get(service, (None, None))
        out: list[PlannedTicket] = []
        reporters: set[str] = set()
        for n in range(size):
            requester = self._requester(desk_slug, frozenset(reporters))
            reporters.add(requester.username)
            opened = began + timedelta(minutes=self.rng.uniform(2, 70))
            impact = 2 if n else 1
            reply_at = opened + timedelta(minutes=self.rng.uniform(3, 15))
            steps = [
                PlannedStep(reply_at, "reply", "agent", "We are aware of a major outage and working on it; "
                            "updates will follow on this ticket."),
            ]
            # The first report is the major incident: its agent records the window the service was down.
            service_impact = None
            if n == 0:
                hours = (restored - began).total_seconds() / 3600
                service_impact = PlannedImpact(began, hours, users, fraction,
                                               note=f"Major incident: {_fill(title, slots)}")
                steps.append(PlannedStep(reply_at + timedelta(minutes=self.rng.uniform(1, 4)), "impact", "agent"))
            resolved = max(restored, reply_at + timedelta(minutes=5))
            steps.append(PlannedStep(resolved, "resolve", "agent", _fill(resolution, slots), "solved"))
            self._rating(_adder(steps, opened, slots), resolved, SCORE_WEIGHTS, ())
            out.append(PlannedTicket(
                desk=desk_slug, category=category, service=service, type="incident",
                title=_fill(title, slots), description=f"{_fill(title, slots)}. "
                + self.rng.choice(("I cannot work at the moment.", "Colleagues around me have the same problem.",
                                   "It started a few minutes ago.", "Customers are waiting; please hurry.")),
                requester=requester.username, channel=self.rng.choice(CHANNELS), impact=impact, urgency=1,
                opened_at=opened, steps=self._cut(steps, opened, keep_open=False), service_impact=service_impact,
            ))
        return out

    def _lifecycle(self, desk: DeskSpec, cat: CategorySpec, ticket_type: str, priority: int, opened: datetime,
                   slots: dict[str, str], *, service_impact: PlannedImpact | None = None) -> list[PlannedStep]:
        rng = self.rng
        steps: list[PlannedStep] = []
        add = _adder(steps, opened, slots)

        urgent = priority <= 2
        low, high = RESPONSE_MINUTES[priority]
        t = self._after(opened, low, high, working=not urgent)
        if rng.random() < 0.03:  # the requester no longer needs it
            add(self._after(opened, 5, 600), "cancel", "requester", rng.choice((
                "Please cancel, it works again after a restart.", "Opened by mistake, sorry.",
                "No longer needed, a colleague helped me.")), "withdrawn")
            return steps
        if rng.random() < 0.13:  # the first group was the wrong one
            t = add(t, "reassign", "agent", detail=rng.choice(desk.groups).name)
            if rng.random() < 0.12:
                t = add(self._after(t, 20, 240), "reassign", "agent", detail=rng.choice(desk.groups).name)
            t = self._after(t, 10, 180, working=not urgent)
        if rng.random() < 0.012:
            add(t, "cancel", "agent", "Duplicate of an existing ticket for the same issue; following up there.",
                "duplicate")
            return steps
        resolution = rng.choice(cat.resolutions)
        code = "fulfilled" if ticket_type == "request" else rng.choices(("solved", "workaround"), (9, 1))[0]
        fast = rng.random() < (0.28 if ticket_type == "incident" else 0.15) and priority >= 3
        # Solved at the first contact: no separate "in progress" step, as agents do it in one go.
        t = add(t, "reply", "agent", rng.choice(desk.first_replies), "quick" if fast else "")
        if service_impact is not None:
            t = add(self._after(t, 2, 20, working=False), "impact", "agent")
            if service_impact.end > t:  # still down when recorded
                t = add(service_impact.end, "restore", "agent")
        if fast:  # solved during the first interaction
            t = add(self._after(t, 4, 25, working=False), "resolve", "agent", resolution, code)
        else:
            if rng.random() < 0.3:
                t = add(self._after(t, 10, 120), "note", "agent", rng.choice(desk.notes))
            if rng.random() < 0.28:
                t = add(self._after(t, 15, 240), "ask", "agent", rng.choice(desk.asks))
                t = add(self._after(t, 30, 60 * 30), "answer", "requester", rng.choice(desk.answers))
            if rng.random() < 0.05:
                t = add(self._after(t, 30, 300), "vendor", "agent", rng.choice(desk.notes))
                t = add(self._after(t, 60 * 24, 60 * 24 * 6), "resume", "agent",
                        "The supplier has answered; continuing the work now.")
            hours = RESOLVE_HOURS[priority] * math.exp(rng.gauss(0, 0.8))
            t = add(self._after(t, 60 * hours * 0.7, 60 * hours * 1.3, working=not urgent), "resolve", "agent",
                    resolution, code)
        if rng.random() < 0.065:  # it came back
            t = add(self._after(t, 60, 60 * 40, working=False), "reopen", "requester", rng.choice((
                "It happens again since this morning.", "Sorry, the problem is back.",
                "This is not solved: same error as before.")))
            t = add(self._after(t, 20, 240), "reply", "agent", "Sorry about that, I am looking at it again.")
            t = add(self._after(t, 60, 60 * 16), "resolve", "agent",
                    f"{_fill(rng.choice(cat.resolutions), slots)} Checked again with the requester.", code)
        resolved = t
        if rng.random() < 0.2:
            add(self._after(t, 10, 60 * 36, working=False), "confirm", "requester", rng.choice((
                "Thanks, all good now!", "Works again, thank you.", "Confirmed, you can close it.")))
        reopened = any(s.action == "reopen" for s in steps)
        self._rating(add, resolved, REOPENED_SCORE_WEIGHTS if reopened else SCORE_WEIGHTS, ())
        return steps

    def _cut(self, steps: list[PlannedStep], opened: datetime, *, keep_open: bool = True) -> tuple[PlannedStep, ...]:
        """Drop what has not happened yet; leave a realistic share of recent tickets unfinished."""
        steps = [s for s in steps if s.at < self.now]
        age_days = (self.now - opened).total_seconds() / 86400
        if keep_open and age_days < RECENT_DAYS:
            chance = 0.05 + 0.55 * (1 - age_days / RECENT_DAYS)
            if self.rng.random() < chance:
                resolve = next((i for i, s in enumerate(steps) if s.action in ("resolve", "cancel")), len(steps))
                steps = steps[: self.rng.randint(0, resolve)]
        return tuple(steps)


_Add = Callable[..., datetime]


def _service_desk(slug: str) -> str:
    return next(s.desk for s in catalog.SERVICES if s.slug == slug)


def _adder(steps: list[PlannedStep], opened: datetime, slots: dict[str, str]) -> _Add:
    """`add(at, action, by, text="", detail="")`: append a step at `at`, or a minute after the previous one."""

    def add(at: datetime, action: str, by: str, text: str = "", detail: str = "") -> datetime:
        previous = steps[-1].at if steps else opened
        at = max(at, previous + timedelta(minutes=1))
        steps.append(PlannedStep(at, action, by, _fill(text, slots), detail))
        return at

    return add


def _at(day: date, hour: int, minute: int, like: datetime) -> datetime:
    """A wall-clock time on `day` in the time zone of `like`."""
    return datetime.combine(day, time(hour, 0), tzinfo=like.tzinfo) + timedelta(minutes=minute)


def _fill(text: str, slots: dict[str, str]) -> str:
    filled = text.format_map(slots)
    return filled[:1].upper() + filled[1:]
