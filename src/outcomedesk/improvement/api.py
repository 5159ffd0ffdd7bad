"""Maturity endpoints, mounted under /api/v1/maturity: thin doors onto improvement.services and .queries.

Service managers, admins and desk managers read assessments; a desk manager reads the organisation's and their
own desks' and assesses only their own desks. `?desk=` (id or slug) picks a desk's assessments; without it,
the whole organisation's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from outcomedesk.accounts.models import Desk
from outcomedesk.core.errors import NotAllowed, NotFound
from outcomedesk.improvement import queries, services
from outcomedesk.improvement.models import Assessment
from outcomedesk.improvement.questionnaire import LEVEL_NAMES, PRACTICES, Practice, level_of, practice_of

router = Router(tags=["maturity"])


# --- shapes ------------------------------------------------------------------------------------------------

class LevelOut(Schema):
    level: int
    name: str
    description: str


class QuestionOut(Schema):
    id: str
    text: str
    levels: list[LevelOut]


class PracticeOut(Schema):
    practice: str
    label: str
    questions: list[QuestionOut]


class AssessmentIn(Schema):
    answers: dict[str, Any] = Field(description='Every question id of the practice with a level 1 to 5: '
                                                '{"incident.logging": 3, ...}')
    desk: int | str | None = Field(None, description="Desk id or slug; empty: the whole organisation")
    notes: str = ""


class AssessmentOut(Schema):
    id: int
    practice: str
    practice_label: str
    desk: str | None = Field(description="The desk's slug; empty: the whole organisation")
    assessed_at: datetime
    assessed_by: str | None = Field(description="Username; empty once the account is deleted")
    score: float = Field(description="The mean of the answers' levels, two decimals")
    level: int = Field(description="The level fully reached: the score rounded down")
    level_label: str = Field(description='For example "2 - Repeatable"')
    answers: dict[str, int]
    notes: str


class LatestOut(Schema):
    practice: str
    label: str
    score: float | None = Field(description="Empty: never assessed in this scope")
    level: int | None
    level_label: str | None
    change: float | None = Field(description="Score change since the assessment before; empty for a first one")
    assessment: AssessmentOut | None


# --- helpers -----------------------------------------------------------------------------------------------

def _reader(request: HttpRequest) -> None:
    if not queries.can_see_maturity(request.user):
        raise NotAllowed("maturity is for service managers, admins and desk managers")


def _scope(request: HttpRequest, desk: str | None) -> Desk | None:
    _reader(request)
    if not desk:
        return None
    found = queries.visible_desk(request.user, desk)
    if found is None:
        raise NotFound(f"no desk {desk!r}", field="desk")
    return found


def _practice(key: str) -> Practice:
    found = practice_of(key)
    if found is None:
        raise NotFound(f"no practice {key!r}", field="practice")
    return found


def _assessment(row: Assessment) -> dict[str, Any]:
    return {
        "id": row.pk, "practice": row.practice, "practice_label": row.practice_label,
        "desk": row.desk.slug if row.desk else None, "assessed_at": row.assessed_at,
        "assessed_by": row.assessed_by.username if row.assessed_by else None, "score": float(row.score),
        "level": level_of(row.score), "level_label": queries.level_label(row.score), "answers": row.answers,
        "notes": row.notes,
    }


# --- routes (the questionnaire before /{practice}, which would otherwise take its name) --------------------

@router.get("/questionnaire", response=list[PracticeOut], summary="The questions of each practice and their levels")
def questionnaire(request: HttpRequest) -> list[dict[str, Any]]:
    _reader(request)
    return [
        {"practice": p.key, "label": p.label, "questions": [
            {"id": q.id, "text": q.text, "levels": [
                {"level": n, "name": LEVEL_NAMES[n], "description": q.describe(n)} for n in LEVEL_NAMES]}
            for q in p.questions]}
        for p in PRACTICES
    ]


@router.get("/", response=list[LatestOut], summary="The latest assessment of each practice, with its score")
def latest(request: HttpRequest, desk: str | None = None) -> list[dict[str, Any]]:
    return [{
        "practice": summary.practice.key, "label": summary.practice.label,
        "score": float(summary.latest.score) if summary.latest else None,
        "level": level_of(summary.latest.score) if summary.latest else None,
        "level_label": summary.level_label or None,
        "change": float(summary.change) if summary.change is not None else None,
        "assessment": _assessment(summary.latest) if summary.latest else None,
    } for summary in queries.practice_summaries(_scope(request, desk))]


@router.get("/{practice}", response=list[AssessmentOut], summary="The assessments of a practice, oldest first")
def practice_history(request: HttpRequest, practice: str, desk: str | None = None) -> list[dict[str, Any]]:
    scope = _scope(request, desk)
    return [_assessment(row) for row in queries.history(_practice(practice).key, scope)]


@router.post("/{practice}", response={201: AssessmentOut},
             summary="Record an assessment; errors name the practice, the desk or the question id")
def assess(request: HttpRequest, practice: str, payload: AssessmentIn) -> Status[dict[str, Any]]:
    row = services.record_assessment(
        request.user, practice, payload.answers, desk=payload.desk, notes=payload.notes,  # type: ignore[arg-type]
    )
    return Status(201, _assessment(row))
