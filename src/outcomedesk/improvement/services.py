"""The one write path of maturity assessments: recording an assessment of a practice, of the whole
organisation or of one desk. Pages and API both record through here (the improvement register's writes are
in register/services.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.core.parsing import as_id, as_int
from outcomedesk.improvement.models import Assessment
from outcomedesk.improvement.queries import may_assess
from outcomedesk.improvement.questionnaire import BY_KEY, LEVELS, Practice, score_of

NOTES_MAX = 10_000


def record_assessment(
    actor: User, practice: str, answers: dict[str, Any], *, desk: Desk | int | str | None = None,
    notes: str = "", now: datetime | None = None,
) -> Assessment:
    """Store an assessment of `practice` (of `desk`, or of the whole organisation) scored from `answers`.

    `answers` maps every question id of the practice to a level 1 to 5 (an int, or its digits as a form sends
    them). Every complaint is raised at once in one InvalidInput, keyed by the field or question id; nothing
    is stored then.
    """
    if not policy.can(actor, policy.VIEW, policy.Capability.MATURITY):
        raise NotAllowed("maturity is assessed by service managers, admins and desk managers")
    desk_row = _desk(desk)
    if not may_assess(actor, desk_row.pk if desk_row else None):
        raise NotAllowed("a desk manager assesses the practices of the desks they manage only", field="desk")
    found = BY_KEY.get(str(practice))
    if found is None:
        raise InvalidInput({"practice": f"unknown practice {practice!r}; one of {', '.join(BY_KEY)}"})
    levels, errors = _levels(found, answers)
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        errors["notes"] = f"is too long ({len(notes)} characters, at most {NOTES_MAX})"
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        return Assessment.objects.create(
            practice=found.key, assessed_at=now or clock.now(), assessed_by=actor, desk=desk_row,
            answers=levels, score=score_of(list(levels.values())), notes=notes,
        )


def _desk(ref: Desk | int | str | None) -> Desk | None:
    if ref is None or ref == "":
        return None
    if isinstance(ref, Desk):
        found: Desk | None = ref
    elif (desk_id := as_id(ref)) is not None:
        found = Desk.objects.filter(pk=desk_id).first()
    else:
        found = Desk.objects.filter(slug=str(ref)).first()
    if found is None:
        raise InvalidInput({"desk": f"no desk {ref!r}"})
    if not found.is_active:
        raise InvalidInput({"desk": f"{found.name} is not active"})
    return found


def _levels(practice: Practice, answers: Any) -> tuple[dict[str, int], dict[str, str]]:
    """The level of each question in questionnaire order, and the complaints keyed by question id."""
    if not isinstance(answers, dict):
        return {}, {"answers": "must map each question id to a level from 1 to 5"}
    levels: dict[str, int] = {}
    errors: dict[str, str] = {}
    for question in practice.questions:
        raw = answers.get(question.id)
        if raw is None or raw == "":
            errors[question.id] = "is not answered: choose a level from 1 to 5"
            continue
        level = _level(raw)
        if level is None:
            errors[question.id] = f"must be a level from 1 to 5, not {raw!r}"
        else:
            levels[question.id] = level
    for unknown in answers:
        if unknown not in levels and unknown not in errors:
            errors[str(unknown)] = f"is not a question of {practice.label}"
    return levels, errors


def _level(raw: Any) -> int | None:
    # bool is an int in Python, but `true` is no level (as_int says so).
    value = as_int(raw)
    return value if value in LEVELS else None
