"""The one access policy: who may view, work, manage and administer each kind of object.

Every door asks it (services, views, API handlers, exports, search, figures, admin pages, templates, the AI):
`can(actor, action, obj)` for one object or capability, `restrict(queryset, actor, action)` for lists, and
`desk_ids(actor, action, kind)` for the desks a figure, a list or a form may reach. No role is tested anywhere
else (`tests/test_policy.py` fails when one is).

Who is who:
- a **requester** (anyone signed in) reads the tickets they asked for or watch;
- an **agent** works the tickets of their desks and reads those of every non-confidential desk;
- a **desk manager** also manages their desks: shared queues, the AI's models and policies, knowledge drafts,
  improvement initiatives, maturity assessments;
- a **service manager** oversees every non-confidential desk: reads its tickets and figures, manages it, and
  configures service levels;
- an **executive** reads the figures of every non-confidential desk, and no ticket;
- a **platform admin** administers the platform (the admin site, the AI's switches, service levels) and
  oversees the non-confidential desks as a service manager does;
- a **confidential desk**'s tickets and everything derived from them (figures, AI rows, surveys, audit
  events) are seen by its members and the tickets' requesters only: not by service managers, executives or
  platform admins who are not members.

System principals act with declared rights, never with none: the AI (the account named by
`OUTCOMEDESK_ASSIST_USERNAME`) reads and works the tickets of every desk so that it can triage them; the
operator at the command line (`OPERATOR`: whoever runs `outcomedesk` on the server can run migrations anyway),
importers (`IMPORTER`) and periodic tasks (`SCHEDULER`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.db.models import Model, Q, QuerySet

from outcomedesk.accounts.models import Desk, DeskMembership, DeskRole, User

if TYPE_CHECKING:
    from collections.abc import Iterable


class Action(StrEnum):
    VIEW = "view"  # read
    WORK = "work"  # change tickets, take the AI's suggestions, draft articles
    MANAGE = "manage"  # configure a desk: shared queues, the AI, drafts' review, initiatives, assessments
    ADMINISTER = "administer"  # the platform: the admin site, the AI's switches, service levels


VIEW, WORK, MANAGE, ADMINISTER = Action.VIEW, Action.WORK, Action.MANAGE, Action.ADMINISTER


class Kind(StrEnum):
    """What a desk's rows are about: each kind has its own rule of who reads them."""

    TICKETS = "tickets"  # tickets and what hangs on them; staff read every non-confidential desk's
    FIGURES = "figures"  # the METRICS.md figures, drill-downs, initiatives; executives read them too
    DESK = "desk"  # a desk's own rows (AI models, policies, drafts, patterns, assessments): members, overseers


class Capability(StrEnum):
    """Things that are not rows: a part of the product a person may or may not enter."""

    WORKSPACE = "workspace"  # the agent workspace, search, exports
    INSIGHTS = "insights"  # the dashboards
    EXECUTIVE = "executive"  # the executive's dashboard and summary
    MATURITY = "maturity"  # maturity assessments
    ASSIST = "assist"  # the AI's models, quality, policies (of the desks one manages)
    ASSIST_SWITCHES = "assist_switches"  # the AI's kill switches
    SERVICE_LEVELS = "service_levels"  # calendars, SLA policies, escalation rules
    SURVEYS = "surveys"  # satisfaction answers
    ADMIN_SITE = "admin_site"  # Django's admin


@dataclass(frozen=True)
class System:
    """A principal that is not a person: it acts with the rights declared here, on every desk."""

    name: str
    label: str
    rights: frozenset[tuple[Action, str]]

    @property
    def pk(self) -> None:
        """System work is recorded without a person (the audit trail's channel says which door it came by)."""
        return None

    def __str__(self) -> str:
        return self.label


_EVERYTHING = frozenset((action, kind) for action in Action for kind in (*Kind, *Capability))
OPERATOR = System("operator", "the command line", _EVERYTHING)
IMPORTER = System("importer", "an import", frozenset({(VIEW, Kind.TICKETS), (WORK, Kind.TICKETS)}))
# Periodic tasks: the SLA sweep, auto-close, the AI's nightly training, pattern detection.
SCHEDULER = System("scheduler", "a periodic task", frozenset(
    {(action, kind) for action in (VIEW, WORK, MANAGE) for kind in Kind}
    | {(ADMINISTER, Capability.SERVICE_LEVELS)}
))
# The AI's account: it reads and works every desk's tickets to triage them; it manages nothing.
AI_RIGHTS = frozenset({(VIEW, Kind.TICKETS), (WORK, Kind.TICKETS)})

Actor: TypeAlias = "User | System"


@dataclass(frozen=True)
class Principal:
    """What the policy knows of one actor, read once per request (two queries at most)."""

    user_id: int | None
    member_of: frozenset[int]
    manager_of: frozenset[int]
    service_manager: bool = False
    executive: bool = False
    admin: bool = False
    rights: frozenset[tuple[Action, str]] = frozenset()  # a system principal's declared rights
    # desk_ids() answers, kept for the request (the principal is cached on the user object)
    answers: dict[tuple[Action, str], frozenset[int]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def staff(self) -> bool:
        """Works tickets on at least one desk, or oversees the service."""
        return bool(self.member_of) or self.service_manager

    @property
    def overseer(self) -> bool:
        return self.service_manager or self.admin


ANONYMOUS = Principal(None, frozenset(), frozenset())


def principal(actor: Any) -> Principal:
    """The principal of a user (cached on the object for the request), of a system principal, or anonymous."""
    if isinstance(actor, System):
        return Principal(None, frozenset(), frozenset(), rights=actor.rights)
    if actor is None:
        return ANONYMOUS
    cached: Principal | None = getattr(actor, "_outcomedesk_principal", None)
    if cached is not None:
        return cached
    if actor.pk is not None and not actor.is_active and actor.username == settings.OUTCOMEDESK_ASSIST_USERNAME:
        found = Principal(actor.pk, frozenset(), frozenset(), rights=AI_RIGHTS)
    elif not getattr(actor, "is_authenticated", False) or not actor.is_active:
        found = ANONYMOUS
    else:
        rows = list(DeskMembership.objects.filter(user_id=actor.pk, desk__is_active=True)
                    .values_list("desk_id", "role"))
        found = Principal(
            user_id=actor.pk,
            member_of=frozenset(desk for desk, _ in rows),
            manager_of=frozenset(desk for desk, role in rows if role == DeskRole.MANAGER),
            service_manager=bool(actor.is_service_manager),
            executive=bool(actor.is_executive),
            admin=bool(actor.is_superuser),
        )
    actor._outcomedesk_principal = found
    return found


def forget(user: Any) -> None:
    """Drop the cached principal after the user's roles changed in this request."""
    if user is not None:
        user.__dict__.pop("_outcomedesk_principal", None)


def actor_id(actor: Any) -> int | None:
    """The person an audit event names: None for system principals."""
    return None if actor is None or isinstance(actor, System) else actor.pk


@dataclass(frozen=True)
class Roles:
    """A person's roles as the API reports them (`/api/v1/me`); decisions ask `can`, never these."""

    agent: bool  # works on a desk or oversees the service
    desk_agent: bool  # an agent (not a manager) of at least one desk
    desk_manager: bool
    service_manager: bool
    executive: bool
    admin: bool


def roles(actor: Any) -> Roles:
    who = principal(actor)
    return Roles(agent=who.staff, desk_agent=bool(who.member_of - who.manager_of),
                 desk_manager=bool(who.manager_of), service_manager=who.service_manager,
                 executive=who.executive, admin=who.admin)


def person(actor: Any) -> User | None:
    """The person behind an actor, to store as who did something: None for system principals."""
    return None if actor is None or isinstance(actor, System) else actor


def is_system(actor: Any) -> bool:
    """A system principal or the AI's account: work that no person did by hand."""
    return isinstance(actor, System) or bool(principal(actor).rights)


# --- desks -------------------------------------------------------------------------------------------------

def _open_desks() -> frozenset[int]:
    return frozenset(Desk.objects.filter(confidential=False).values_list("pk", flat=True))


def _all_desks() -> frozenset[int]:
    return frozenset(Desk.objects.values_list("pk", flat=True))


@dataclass(frozen=True)
class Reach:
    """The desks an actor may do one action on: their own, plus every non-confidential desk, or every desk."""

    own: frozenset[int] = frozenset()
    open_desks: bool = False
    every: bool = False


NOWHERE = Reach()


def _reach(who: Principal, action: Action, kind: Kind) -> Reach:
    """THE rule of desks: everything about desks is derived from here."""
    if who.rights:
        return Reach(every=True) if (action, kind) in who.rights else NOWHERE
    if who.user_id is None:
        return NOWHERE
    if action == WORK:
        return Reach(who.member_of)
    if action == MANAGE:
        return Reach(who.manager_of, open_desks=who.overseer)
    if action == ADMINISTER:
        return Reach(every=who.admin)
    readers = {
        Kind.TICKETS: who.staff or who.admin,
        Kind.FIGURES: who.staff or who.admin or who.executive,
        Kind.DESK: who.overseer,
    }
    return Reach(who.member_of, open_desks=readers[kind])


def desk_ids(actor: Any, action: Action, kind: Kind = Kind.TICKETS) -> frozenset[int]:
    """The desks on whose rows of `kind` the actor may do `action`."""
    who = principal(actor)
    known = who.answers.get((action, kind))
    if known is None:
        found = _reach(who, action, kind)
        known = _all_desks() if found.every else (found.own | _open_desks() if found.open_desks else found.own)
        who.answers[(action, kind)] = known
    return known


def _on_desk(who: Principal, action: Action, kind: Kind, desk_id: int, holder: Any) -> bool:
    """`desk_ids` for one desk, without reading every desk: `holder` is the row (or Desk) whose loaded desk tells
    whether it is confidential."""
    found = _reach(who, action, kind)
    if found.every or desk_id in found.own:
        return True
    if not found.open_desks:
        return False
    known = who.answers.get((action, kind))
    if known is not None:
        return desk_id in known
    desk = holder if isinstance(holder, Desk) else holder._state.fields_cache.get("desk")
    if isinstance(desk, Desk) and desk.pk == desk_id:
        return not desk.confidential
    return Desk.objects.filter(pk=desk_id, confidential=False).exists()


def _capability(who: Principal, action: Action, capability: Capability) -> bool:
    if who.rights:
        return (action, capability) in who.rights
    if who.user_id is None:
        return False
    desk_staff = who.staff or who.admin
    if capability == Capability.WORKSPACE:
        return desk_staff
    if capability == Capability.INSIGHTS:
        return desk_staff or who.executive
    if capability == Capability.EXECUTIVE:
        return who.executive
    if capability == Capability.MATURITY:  # the organisation's assessments: desk managers read, overseers assess
        return who.overseer or (action == VIEW and bool(who.manager_of))
    if capability == Capability.ASSIST:
        return who.overseer or bool(who.manager_of)
    if capability == Capability.SERVICE_LEVELS:
        return who.overseer if action in (MANAGE, ADMINISTER) else desk_staff
    if capability == Capability.SURVEYS:
        return desk_staff
    if capability in (Capability.ASSIST_SWITCHES, Capability.ADMIN_SITE):
        return who.admin
    return False


# --- objects -----------------------------------------------------------------------------------------------

# Rows that belong to a desk: the path to their desk and the kind that says who reads them. A row with no desk
# (an organisation-wide assessment, a policy for every desk) is read by whoever holds the capability named.
DESK_ROWS: dict[str, tuple[str, Kind, Capability | None]] = {
    "accounts.desk": ("pk", Kind.TICKETS, None),
    "accounts.assignmentgroup": ("desk_id", Kind.TICKETS, None),
    "tickets.category": ("desk_id", Kind.TICKETS, None),
    "tickets.assignmentrule": ("desk_id", Kind.TICKETS, None),
    "cmdb.businessservice": ("desk_id", Kind.TICKETS, None),
    "sla.slapolicy": ("desk_id", Kind.TICKETS, Capability.SERVICE_LEVELS),
    "assist.trainedmodel": ("desk_id", Kind.DESK, None),
    "assist.policy": ("desk_id", Kind.DESK, None),
    "assist.knowledgedraft": ("desk_id", Kind.DESK, None),
    "assist.pattern": ("desk_id", Kind.DESK, None),
    "improvement.initiative": ("desk_id", Kind.FIGURES, None),
    "intake.mailbox": ("desk_id", Kind.DESK, None),
    "intake.inboundmessage": ("desk_id", Kind.DESK, None),
    "intake.alertsource": ("desk_id", Kind.DESK, None),
    "intake.chatchannel": ("desk_id", Kind.DESK, None),
    "intake.chatevent": ("desk_id", Kind.DESK, None),
    "intake.webhooksource": ("desk_id", Kind.DESK, None),
    "intake.webhooksubscription": ("desk_id", Kind.DESK, None),
    "intake.webhookdelivery": ("desk_id", Kind.DESK, None),
    "improvement.assessment": ("desk_id", Kind.DESK, Capability.MATURITY),
    "mail.outgoingmail": ("desk_id", Kind.DESK, Capability.ADMIN_SITE),
    "mail.mailtemplate": ("desk_id", Kind.DESK, Capability.ADMIN_SITE),
}
# Rows that hang on a ticket: read as the ticket is read, changed by those who work it.
TICKET_ROWS: dict[str, str] = {
    "tickets.comment": "ticket",
    "tickets.attachment": "ticket",
    "tickets.serviceimpact": "ticket",
    "tickets.ticketlink": "source",
    "assist.suggestion": "ticket",
    "assist.summary": "ticket",
    "experience.survey": "ticket",
    "sla.tickettarget": "ticket",
    "intake.alert": "ticket",
    "intake.chatthread": "ticket",
    "intake.chatpost": "comment__ticket",
    "sla.escalationfiring": "target__ticket",
}
# Audit events name their object by type and id.
AUDITED: dict[str, str] = {
    "ticket": "tickets.ticket",
    "knowledge_draft": "assist.knowledgedraft",
    "assist_model": "assist.trainedmodel",
    "assist_pattern": "assist.pattern",
    "assist_policy": "assist.policy",
    "initiative": "improvement.initiative",
}


def _label(model: type[Model] | Model) -> str:
    return model._meta.label_lower


def has_rule(model: type[Model]) -> bool:
    """Whether `restrict` knows this model."""
    return _label(model) in RULED


def can(actor: Any, action: Action, obj: Any) -> bool:
    """May `actor` do `action` on `obj`: a model instance, a Desk, or a Capability."""
    who = principal(actor)
    if isinstance(obj, Capability):
        return _capability(who, action, obj)
    if who.user_id is None and not who.rights:
        return False
    label = _label(obj)
    if label == "tickets.ticket":
        return _can_ticket(actor, who, action, obj)
    if label in TICKET_ROWS:
        ticket = obj
        for step in TICKET_ROWS[label].split("__"):
            ticket = getattr(ticket, step)
        return _can_ticket(actor, who, VIEW if action == VIEW else WORK, ticket)
    if label in DESK_ROWS:
        path, kind, capability = DESK_ROWS[label]
        desk_id = obj.pk if path == "pk" else getattr(obj, path)
        if desk_id is None:
            return capability is not None and _capability(who, action, capability)
        return _on_desk(who, action, kind, desk_id, obj)
    if label == "tickets.savedview":
        if obj.owner_id is not None:
            return obj.owner_id == who.user_id
        return obj.desk_id in desk_ids(actor, WORK if action == VIEW else MANAGE)
    if label == "core.auditevent":
        model = AUDITED.get(obj.object_type)
        return model is not None and restrict(_model(model).objects.filter(pk=obj.object_id), actor, VIEW).exists()
    if label == "accounts.user":
        return obj.pk == who.user_id or (action == VIEW and who.admin)
    return False


def _can_ticket(actor: Any, who: Principal, action: Action, ticket: Any) -> bool:
    if _on_desk(who, action, Kind.TICKETS, ticket.desk_id, ticket):
        return True
    if action != VIEW or who.user_id is None:
        return False
    if ticket.requester_id == who.user_id:
        return True
    return bool(ticket.watchers.filter(pk=who.user_id).exists())


def _model(label: str) -> Any:
    from django.apps import apps

    return apps.get_model(label)


def ticket_filter(actor: Any, action: Action = VIEW, prefix: str = "") -> Q:
    """The tickets `actor` may do `action` on, as a condition on the ticket (`prefix`: the path to it)."""
    who = principal(actor)
    if _reach(who, action, Kind.TICKETS).every:
        return Q()  # every ticket: no condition to plan (the sweep and auto-close read millions)
    desks = desk_ids(actor, action, Kind.TICKETS)
    condition = Q(**{f"{prefix}desk_id__in": sorted(desks)}) if desks else Q(pk__in=[])
    if action == VIEW and who.user_id is not None and not who.rights:
        ticket_model = _model("tickets.ticket")
        watched = ticket_model.watchers.through.objects.filter(user_id=who.user_id).values("ticket_id")
        own = Q(**{f"{prefix}requester_id": who.user_id}) | Q(**{f"{prefix}pk__in": watched})
        condition = condition | own if desks else own
    return condition


RULED = {"tickets.ticket", *DESK_ROWS, *TICKET_ROWS, "tickets.savedview", "core.auditevent", "accounts.user"}


def restrict(queryset: QuerySet[Any], actor: Any, action: Action = VIEW) -> QuerySet[Any]:
    """The rows of `queryset` the actor may do `action` on (NetBox's RestrictedQuerySet.restrict)."""
    who = principal(actor)
    label = _label(queryset.model)
    if label == "tickets.ticket":
        return queryset.filter(ticket_filter(actor, action))
    if label in TICKET_ROWS:
        prefix = f"{TICKET_ROWS[label]}__"
        return queryset.filter(ticket_filter(actor, VIEW if action == VIEW else WORK, prefix=prefix))
    if label in DESK_ROWS:
        path, kind, capability = DESK_ROWS[label]
        if _reach(who, action, kind).every:
            return queryset
        desks = sorted(desk_ids(actor, action, kind))
        condition = Q(**{f"{path.removesuffix('_id')}__in" if path != "pk" else "pk__in": desks})
        if capability is not None and _capability(who, action, capability):
            condition |= Q(desk__isnull=True)
        return queryset.filter(condition)
    if label == "tickets.savedview":
        shared = desk_ids(actor, WORK if action == VIEW else MANAGE)
        own = Q(owner_id=who.user_id) if who.user_id else Q(pk__in=[])
        return queryset.filter(own | Q(owner__isnull=True, desk_id__in=sorted(shared)))
    if label == "core.auditevent":
        condition = Q(pk__in=[])
        for object_type, model in AUDITED.items():
            rows = restrict(_model(model).objects.all(), actor, VIEW).values("pk")
            condition |= Q(object_type=object_type, object_id__in=rows)
        if who.admin or who.rights:
            condition |= ~Q(object_type__in=list(AUDITED))  # platform rows (switches) are the admin's
        return queryset.filter(condition)
    if label == "accounts.user":
        if who.admin or who.rights:
            return queryset
        return queryset.filter(pk=who.user_id) if who.user_id else queryset.none()
    raise LookupError(f"the access policy has no rule for {label}")


def people(action: Action | tuple[Action, ...], desks: Iterable[int], *, overseers: bool = True, active: bool = True
           ) -> QuerySet[User]:
    """People who may do `action` (WORK or MANAGE, or any of several) on the tickets of at least one of `desks`:
    for WORK their agents and managers; for MANAGE their managers and, for a non-confidential desk, the service
    managers and platform admins (`overseers=False`: the desk managers alone). `active=False`: people disabled
    since too (a replay of history)."""
    wanted = sorted(desks)
    members = Q(desk_memberships__desk_id__in=wanted)
    condition = Q(pk__in=[])
    for one in action if isinstance(action, tuple) else (action,):
        if one == WORK:
            condition |= members
        elif one == MANAGE:
            condition |= members & Q(desk_memberships__role=DeskRole.MANAGER)
            if overseers and Desk.objects.filter(pk__in=wanted, confidential=False).exists():
                condition |= Q(is_service_manager=True) | Q(is_superuser=True)
        else:
            raise ValueError(f"people() answers for work and manage, not {one}")
    rows = User.objects.filter(condition)
    return (rows.filter(is_active=True) if active else rows).distinct()
