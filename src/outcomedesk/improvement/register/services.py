"""The one write path of the continual improvement register: registering an initiative, changing it and
moving it along its statuses. Pages and API both record through here; the baseline is measured from the
tickets (register.queries), never typed."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_id
from outcomedesk.improvement.models import CLOSED_STATUSES, STATUS_TRANSITIONS, Initiative, InitiativeStatus
from outcomedesk.improvement.register import queries
from outcomedesk.improvement.register.tracked import TRACKED_FIGURES, TrackedFigure, show
from outcomedesk.tickets.models import Category

INITIATIVE_FIELDS = ("title", "description", "owner", "desk", "service", "category", "figure", "baseline_from",
                     "baseline_to", "target_value", "started_on", "due_on")
# What the baseline is measured over: changing one re-measures it, and only before the work starts.
MEASURED_FIELDS = ("desk", "service", "category", "figure", "baseline_from", "baseline_to")
BEFORE_WORK = (InitiativeStatus.PROPOSED, InitiativeStatus.APPROVED)
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
AUDIT_TYPE = "initiative"


def create_initiative(actor: User, values: dict[str, Any], *, channel: str = Channel.WEB,
                      now: datetime | None = None) -> Initiative:
    """Register an initiative; its baseline is measured from the tickets of the baseline period, now.

    `values` holds the INITIATIVE_FIELDS (references as objects, ids, slugs or names; dates as ISO text;
    numbers as text or numbers). Every complaint is raised at once in one InvalidInput keyed by field.
    """
    if not queries.editable_desk_ids(actor):
        raise NotAllowed("initiatives are registered by desk managers, service managers and admins")
    now = now or clock.now()
    # Whoever registers an initiative owns it unless they name someone else.
    cleaned = _cleaned(actor, {**values, "owner": values.get("owner") or actor}, None, now)
    with transaction.atomic():
        row = Initiative.objects.create(**cleaned, created_at=now, updated_at=now)
        audit = AuditBatch(AUDIT_TYPE, row.pk, actor.pk, channel, now)
        audit.add("created", "", None, row.title)
        audit.add("measured", "baseline_value", None, show(row.tracked.unit, row.baseline_value))
        audit.save()
    return row


def update_initiative(actor: User, initiative: Initiative | int, changes: dict[str, Any], *,
                      channel: str = Channel.WEB, now: datetime | None = None) -> Initiative:
    """Change fields of an initiative; a change of what the baseline measures re-measures it."""
    now = now or clock.now()
    with transaction.atomic():
        row = _locked(actor, initiative)
        if row.status in CLOSED_STATUSES:
            raise InvalidInput({"status": f"the initiative is {row.get_status_display().lower()}; it cannot change"})
        current = {name: getattr(row, name) for name in INITIATIVE_FIELDS}
        cleaned = _cleaned(actor, {**current, **changes}, row, now)
        audit = AuditBatch(AUDIT_TYPE, row.pk, actor.pk, channel, now)
        units = (row.tracked.unit, TRACKED_FIGURES[cleaned["figure"]].unit)  # before and after
        for name, value in cleaned.items():
            old = getattr(row, name)
            if value == old or name == "baseline_measured_at":
                continue
            if name in ("baseline_value", "target_value"):
                audit.add("measured" if name == "baseline_value" else "changed", name, show(units[0], old),
                          show(units[1], value))
            else:
                audit.add("changed", name, old, value)
        for name, value in cleaned.items():
            setattr(row, name, value)
        if audit.events:
            row.updated_at = now
            row.save()
            audit.save()
    return row


def change_initiative_status(actor: User, initiative: Initiative | int, status: str, *,
                             channel: str = Channel.WEB, now: datetime | None = None) -> Initiative:
    """Move an initiative along proposed, approved, in progress, done (or abandoned); starting it dates it."""
    now = now or clock.now()
    with transaction.atomic():
        row = _locked(actor, initiative)
        if status not in InitiativeStatus.values:
            raise InvalidInput({"status": f"must be one of {', '.join(InitiativeStatus.values)}, not {status!r}"})
        if status not in STATUS_TRANSITIONS[row.status]:
            allowed = ", ".join(label.lower() for _, label in row.next_statuses) or "nothing: it is final"
            raise InvalidInput({"status": f"cannot go from {row.get_status_display().lower()} to "
                                          f"{InitiativeStatus(status).label.lower()} (it may go to {allowed})"})
        audit = AuditBatch(AUDIT_TYPE, row.pk, actor.pk, channel, now)
        audit.add("status", "status", row.status, status)
        row.status = status
        if status == InitiativeStatus.IN_PROGRESS and row.started_on is None:
            row.started_on = queries.day_of(now)
            audit.add("changed", "started_on", None, row.started_on)
        row.updated_at = now
        row.save()
        audit.save()
    return row


def _locked(actor: User, ref: Initiative | int) -> Initiative:
    pk = ref.pk if isinstance(ref, Initiative) else ref
    row = Initiative.objects.select_for_update().filter(pk=pk, desk_id__in=queries.register_desk_ids(actor)).first()
    if row is None:
        raise NotFound(f"no initiative {pk}")
    if row.desk_id not in queries.editable_desk_ids(actor):
        raise NotAllowed("initiatives are changed by the desk's managers, service managers and admins")
    return row


def _cleaned(actor: User, values: dict[str, Any], row: Initiative | None, now: datetime) -> dict[str, Any]:
    """The fields to store, baseline included, from `values`; raises InvalidInput naming each bad field."""
    unknown = sorted(set(values) - set(INITIATIVE_FIELDS))
    errors: dict[str, str] = {name: "is not a field of an initiative" for name in unknown}
    today = queries.day_of(now)
    out: dict[str, Any] = {"title": _text(errors, "title", values.get("title"), TITLE_MAX, required=True),
                           "description": _text(errors, "description", values.get("description"), DESCRIPTION_MAX)}
    desk = out["desk"] = _desk_of(actor, errors, values.get("desk"), row)
    out["owner"] = _owner(errors, values.get("owner"), desk)
    out["service"] = _ref(errors, "service", values.get("service"), BusinessService.objects.all(), "slug")
    categories = Category.objects.filter(desk=desk) if desk else Category.objects.none()
    out["category"] = _ref(errors, "category", values.get("category"), categories, "name")
    tracked = TRACKED_FIGURES.get(str(values.get("figure") or ""))
    if tracked is None:
        errors["figure"] = (f"is required: one of {', '.join(TRACKED_FIGURES)}" if not values.get("figure") else
                            f"unknown figure {values.get('figure')!r}; one of {', '.join(TRACKED_FIGURES)}")
    out["figure"] = tracked.key if tracked else None
    for name in ("baseline_from", "baseline_to", "started_on", "due_on"):
        out[name] = _day(errors, name, values.get(name), required=name.startswith("baseline"))
    first, last = out["baseline_from"], out["baseline_to"]
    if first and last and last < first:
        errors["baseline_to"] = f"the baseline ends ({last}) before it starts ({first})"
    elif last and last >= today:
        errors["baseline_to"] = f"the baseline must be over: end it on {today - timedelta(days=1)} at the latest"
    if out["started_on"] and out["due_on"] and out["due_on"] < out["started_on"]:
        errors["due_on"] = f"is before the start ({out['started_on']})"
    out["target_value"] = _number(errors, values.get("target_value"), tracked)
    remeasure = row is None or any(out[name] != getattr(row, name) for name in MEASURED_FIELDS)
    if row is not None and remeasure and row.status not in BEFORE_WORK:
        for name in MEASURED_FIELDS:
            if out[name] != getattr(row, name) and name not in errors:
                errors[name] = "is fixed once the work has started: the benefit is measured against it"
    if errors:
        raise InvalidInput(errors)
    assert tracked is not None and desk is not None and first is not None and last is not None
    if remeasure:
        scope = queries.scope_for(desk.pk, out["service"].pk if out["service"] else None,
                                  out["category"].pk if out["category"] else None)
        baseline = queries.measure(tracked, scope, queries.days_period(first, last), now)
        if baseline is None:
            raise InvalidInput({"baseline_from": f"{tracked.label} has no value from {first} to {last} (nothing "
                                                 "to measure): choose a period with tickets"})
        out["baseline_value"], out["baseline_measured_at"] = baseline, now
    else:
        assert row is not None
        baseline = row.baseline_value
    _check_target(tracked, baseline, out["target_value"])
    return out


def _check_target(tracked: TrackedFigure, baseline: float, target: float) -> None:
    if tracked.direction == "lower" and not target < baseline:
        raise InvalidInput({"target_value": f"must be below the baseline of {show(tracked.unit, baseline)}: "
                                            f"{tracked.label}, {tracked.better}"})
    if tracked.direction == "higher" and not target > baseline:
        raise InvalidInput({"target_value": f"must be above the baseline of {show(tracked.unit, baseline)}: "
                                            f"{tracked.label}, {tracked.better}"})


def _text(errors: dict[str, str], name: str, value: Any, limit: int, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors[name] = "is required"
    elif len(text) > limit:
        errors[name] = f"is too long ({len(text)} characters, at most {limit})"
    return text


def _desk_of(actor: User, errors: dict[str, str], ref: Any, row: Initiative | None) -> Desk | None:
    if ref is None or ref == "":
        errors["desk"] = "is required"
        return None
    found = _ref(errors, "desk", ref, Desk.objects.filter(pk__in=queries.register_desk_ids(actor)), "slug")
    if found is None:
        return None
    if row is None or found.pk != row.desk_id:
        if not found.is_active:
            errors["desk"] = f"{found.name} is not active"
        elif found.pk not in queries.editable_desk_ids(actor):
            raise NotAllowed(f"initiatives of {found.name} are registered by its desk managers", field="desk")
    return found


def _owner(errors: dict[str, str], ref: Any, desk: Desk | None) -> User | None:
    if ref is None or ref == "":
        errors["owner"] = "is required"
        return None
    found: User | None = _ref(errors, "owner", ref, User.objects.filter(is_active=True), "username")
    if found is not None and desk is not None and not (
        policy.can(found, policy.WORK, desk) or policy.can(found, policy.MANAGE, desk)
    ):
        errors["owner"] = f"{found} does not work on the {desk.name} desk"
    return found


def _ref(errors: dict[str, str], name: str, ref: Any, rows: Any, text_field: str) -> Any:
    """The row `ref` names (an instance, an id, or its slug/name/username) among `rows`; None if empty."""
    if ref is None or ref == "":
        return None
    model = rows.model
    if isinstance(ref, model):
        ref = ref.pk
    text = str(ref).strip()
    pk = as_id(text)
    found = rows.filter(Q(**{text_field: text}) | (Q(pk=pk) if pk is not None else Q(pk__in=[]))).first()
    if found is None:
        errors[name] = f"no {name} {text!r}"
    return found


def _day(errors: dict[str, str], name: str, value: Any, *, required: bool) -> date | None:
    if value is None or value == "":
        if required:
            errors[name] = "is required (YYYY-MM-DD)"
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[name] = f"{value!r} is not a date (YYYY-MM-DD)"
        return None


def _number(errors: dict[str, str], value: Any, tracked: TrackedFigure | None) -> Any:
    if value is None or value == "":
        errors["target_value"] = "is required"
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
        if not math.isfinite(number):
            raise ValueError
    except (TypeError, ValueError):
        errors["target_value"] = f"must be a number, not {value!r}"
        return None
    if tracked is not None:
        low, high = tracked.bounds
        if number < low or (high is not None and number > high):
            errors["target_value"] = f"must be {tracked.unit_hint}" + (
                "" if high is not None else f" from {low:g} up")
    return number
