"""Reads of maturity assessments (the improvement register's reads are in register/queries.py).

Service managers and admins see and assess every scope; a desk manager sees the organisation's assessments and
those of the desks they manage, and assesses only the latter. Requesters and agents see none.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk
from outcomedesk.core.parsing import as_id
from outcomedesk.improvement.models import Assessment
from outcomedesk.improvement.questionnaire import LEVEL_NAMES, PRACTICES, Practice, level_of

RELATED = ("assessed_by", "desk")


# --- who ---------------------------------------------------------------------------------------------------

def can_see_maturity(user: Any) -> bool:
    return policy.can(user, policy.VIEW, policy.Capability.MATURITY)


def may_assess(user: Any, desk_id: int | None) -> bool:
    """Service managers and admins assess the organisation and the desks they oversee; a desk manager the desks
    they manage."""
    return policy.can(user, policy.MANAGE, Assessment(desk_id=desk_id))


def may_assess_organisation(user: Any) -> bool:
    return may_assess(user, None)


def visible_desks(user: Any) -> QuerySet[Desk]:
    """Desks whose assessments `user` may read (the organisation's are readable by all who see maturity)."""
    if not can_see_maturity(user):
        return Desk.objects.none()
    return Desk.objects.filter(pk__in=sorted(policy.desk_ids(user, policy.MANAGE, policy.Kind.DESK)))


def assessable_desks(user: Any) -> QuerySet[Desk]:
    return visible_desks(user).filter(is_active=True)


def visible_desk(user: Any, ref: int | str) -> Desk | None:
    """The desk with this id or slug, if `user` may read its assessments."""
    desks = visible_desks(user)
    desk_id = as_id(ref)
    if desk_id is not None:
        return desks.filter(pk=desk_id).first()
    return desks.filter(slug=ref).first()


# --- assessments -------------------------------------------------------------------------------------------

def _in_scope(desk: Desk | int | None) -> Q:
    return Q(desk__isnull=True) if desk is None else Q(desk=desk)


def latest_assessments(desk: Desk | int | None = None, *, per_practice: int = 1) -> dict[str, list[Assessment]]:
    """The newest `per_practice` assessments of each practice in the scope, newest first, in one query.

    `desk=None` is the whole organisation's assessments, not every desk's.
    """
    ranked = Assessment.objects.filter(_in_scope(desk)).annotate(
        rank=Window(RowNumber(), partition_by=[F("practice")], order_by=[F("assessed_at").desc(), F("id").desc()])
    )
    rows = ranked.filter(rank__lte=per_practice).select_related(*RELATED).order_by("practice", "-assessed_at", "-id")
    found: dict[str, list[Assessment]] = {}
    for row in rows:
        found.setdefault(row.practice, []).append(row)
    return found


def latest_by_practice(desk: Desk | int | None = None) -> dict[str, Assessment]:
    """The newest assessment of each practice assessed in the scope."""
    return {practice: rows[0] for practice, rows in latest_assessments(desk).items()}


@dataclass(frozen=True)
class PracticeSummary:
    """A practice's latest assessment in a scope and the one before it (either may be missing)."""

    practice: Practice
    latest: Assessment | None
    previous: Assessment | None

    @property
    def change(self) -> Decimal | None:
        """The score's change since the assessment before; None for a first assessment or none."""
        if self.latest is None or self.previous is None:
            return None
        return self.latest.score - self.previous.score

    @property
    def level_label(self) -> str:
        return level_label(self.latest.score if self.latest else None)


def practice_summaries(desk: Desk | int | None = None) -> list[PracticeSummary]:
    """Every practice in questionnaire order with its two newest assessments in the scope, in one query."""
    found = latest_assessments(desk, per_practice=2)
    summaries = []
    for practice in PRACTICES:
        newest = found.get(practice.key, [])
        summaries.append(PracticeSummary(practice, newest[0] if newest else None,
                                         newest[1] if len(newest) > 1 else None))
    return summaries


def history(practice: str, desk: Desk | int | None = None) -> QuerySet[Assessment]:
    """The assessments of a practice in the scope, oldest first."""
    return Assessment.objects.filter(_in_scope(desk), practice=practice).select_related(*RELATED).order_by(
        "assessed_at", "id")


def latest_of(practice: str, desk: Desk | int | None = None) -> Assessment | None:
    return Assessment.objects.filter(_in_scope(desk), practice=practice).order_by("-assessed_at", "-id").first()


def level_label(score: Decimal | float | None) -> str:
    """"2 - Repeatable" for a score of 2.00 to 2.99 (a level counts once fully reached); empty for no score."""
    if score is None:
        return ""
    level = level_of(score)
    return f"{level} - {LEVEL_NAMES[level]}"
