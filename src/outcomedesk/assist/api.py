"""AI assist endpoints, mounted under /api/v1/assist: thin doors onto assist.services and assist.queries.

A ticket's suggestions and similar tickets are for the agents of its desk; models, figures and policies for
the desk's managers and service managers; the kill switches for platform admins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.assist import patterns, queries, services, switches, writing
from outcomedesk.assist.models import TriageField
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import Id
from outcomedesk.tickets.models import Ticket
from outcomedesk.tickets.queries import get_visible_ticket

router = Router(tags=["assist"])


class SuggestionOut(Schema):
    id: int
    kind: str = Field(description="field or duplicate")
    field: str = Field(description="The ticket field, or duplicate_of")
    value: str = Field(description="Primary key, level (1-4) or ticket number")
    display: str
    confidence: float = Field(description="Calibrated: the share of such suggestions that were right")
    threshold: float | None = Field(description="The policy's threshold when the AI could apply it")
    outcome: str = Field(description="open, applied, accepted, rejected, corrected or superseded")
    final_value: str
    model: str
    version: str
    input_hash: str = Field(description="SHA-256 of what the model read")
    created_at: datetime
    decided_at: datetime | None
    why: dict[str, Any] = Field(description="Words that weighed most, alternatives, policy, model figures")


class SimilarTicketOut(Schema):
    number: str
    title: str
    state: str
    score: float = Field(description="Character-gram cosine with this ticket, 0 to 1")
    matching_words: list[str]
    passage: str
    resolution: str


class SimilarOut(Schema):
    enabled: bool
    retriever: str | None
    input_hash: str | None
    tickets: list[SimilarTicketOut]


class ModelOut(Schema):
    id: int
    desk: str
    field: str
    version: str
    trained_at: datetime
    rows: int
    classes: int
    corrections: int
    size_bytes: int
    is_active: bool
    figures: dict[str, Any]


class AssistPolicyIn(Schema):
    mode: str = Field(description="off, suggest or auto")
    threshold: float | None = Field(None, description="0.5 to 1: calibrated confidence needed to apply (auto)")


class AssistPolicyOut(Schema):
    field: str
    mode: str
    threshold: float
    model: str | None
    model_accuracy: float | None
    coverage_at_threshold: dict[str, float] | None


class SwitchIn(Schema):
    enabled: bool
    reason: str = ""


class TrainIn(Schema):
    fields: list[str] = Field(default_factory=list, description="Empty: every field")


def _me(request: HttpRequest) -> User:
    """The authenticated person (both authenticators refuse anonymous requests)."""
    return cast(User, request.user)


def _ticket_for_work(request: HttpRequest, number: str) -> Ticket:
    ticket = get_visible_ticket(request.user, number)
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    if not policy.can(request.user, policy.WORK, ticket):
        raise NotAllowed(f"only agents of the {ticket.desk.name} desk see its AI suggestions")
    return ticket


def _desk(slug: str) -> Desk:
    desk = Desk.objects.filter(slug=slug).first()
    if desk is None:
        raise NotFound(f"no desk {slug!r}")
    return desk


def _manage(request: HttpRequest, desk: Desk) -> None:
    if policy.can(request.user, policy.MANAGE, desk):
        return
    if not policy.can(request.user, policy.VIEW, desk):
        raise NotFound(f"no desk {desk.slug!r}")
    raise NotAllowed(f"only managers of the {desk.name} desk and service managers see its AI settings")


@router.get("/tickets/{number}/suggestions", response=list[SuggestionOut], summary="A ticket's AI suggestions")
def ticket_suggestions(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    ticket = _ticket_for_work(request, number)
    return [queries.suggestion_dict(s) for s in queries.open_suggestions(ticket)]


@router.get("/tickets/{number}/similar", response=SimilarOut, summary="Resolved tickets like this one")
def ticket_similar(request: HttpRequest, number: str, limit: int = 5) -> dict[str, Any]:
    if not 1 <= limit <= 20:
        raise InvalidInput({"limit": "must be 1 to 20"})
    return queries.similar_dicts(request.user, _ticket_for_work(request, number), limit)


@router.post("/suggestions/{suggestion_id}/accept", response=SuggestionOut, summary="Apply a suggestion")
def accept(request: HttpRequest, suggestion_id: Id) -> dict[str, Any]:
    return queries.suggestion_dict(services.decide(_me(request), suggestion_id, True, channel=Channel.API))


@router.post("/suggestions/{suggestion_id}/reject", response=SuggestionOut, summary="Turn a suggestion down")
def reject(request: HttpRequest, suggestion_id: Id) -> dict[str, Any]:
    return queries.suggestion_dict(services.decide(_me(request), suggestion_id, False, channel=Channel.API))


@router.get("/models", response=list[ModelOut], summary="Trained triage models and their held-out figures")
def models(request: HttpRequest, desk: str | None = None) -> list[dict[str, Any]]:
    found = queries.models_for(request.user, _desk(desk) if desk else None)
    return [{"id": m.pk, "desk": m.desk.slug, "field": m.field, "version": m.version, "trained_at": m.trained_at,
             "rows": m.rows, "classes": m.classes, "corrections": m.corrections, "size_bytes": m.size_bytes,
             "is_active": m.is_active, "figures": m.figures} for m in found]


@router.post("/models/{model_id}/activate", response=ModelOut, summary="Make an earlier model the active one")
def activate(request: HttpRequest, model_id: Id) -> dict[str, Any]:
    m = services.activate_model(_me(request), model_id)
    return {"id": m.pk, "desk": m.desk.slug, "field": m.field, "version": m.version, "trained_at": m.trained_at,
            "rows": m.rows, "classes": m.classes, "corrections": m.corrections, "size_bytes": m.size_bytes,
            "is_active": True, "figures": m.figures}


@router.post("/desks/{desk}/train", response={202: dict[str, Any]}, summary="Retrain a desk's triage models")
def train(request: HttpRequest, desk: str, payload: TrainIn) -> Status[dict[str, Any]]:
    found = _desk(desk)
    _manage(request, found)
    unknown = [f for f in payload.fields if f not in TriageField.values]
    if unknown:
        raise InvalidInput({"fields": f"unknown {', '.join(unknown)}; known: {', '.join(TriageField.values)}"})
    from outcomedesk.assist.tasks import train_desk_models

    train_desk_models.delay(found.pk, payload.fields or None, _me(request).pk)
    return Status(202, {"queued": True, "desk": found.slug, "fields": payload.fields or TriageField.values})


@router.get("/desks/{desk}/policies", response=list[AssistPolicyOut], summary="What the AI may do on a desk")
def policies(request: HttpRequest, desk: str) -> list[dict[str, Any]]:
    found = _desk(desk)
    _manage(request, found)
    return queries.policy_rows(found)


@router.put("/desks/{desk}/policies/{field}", response=list[AssistPolicyOut], summary="Set the policy of one field")
def set_policy(request: HttpRequest, desk: str, field: str, payload: AssistPolicyIn) -> list[dict[str, Any]]:
    found = _desk(desk)
    _manage(request, found)
    services.set_policy(_me(request), found, field, payload.mode, payload.threshold, channel=Channel.API)
    return queries.policy_rows(found)


@router.get("/quality", response=dict[str, dict[str, Any]],
            summary="How agents received the suggestions, per field (the AI's live precision)")
def quality(request: HttpRequest) -> dict[str, dict[str, Any]]:
    if not policy.can(request.user, policy.VIEW, policy.Capability.ASSIST):
        raise NotAllowed("only desk managers and service managers see the AI's quality")
    return services.live_quality(policy.desk_ids(request.user, policy.MANAGE))


@router.get("/switches", response=dict[str, dict[str, Any]], summary="Each AI feature: on or off, and why")
def get_switches(request: HttpRequest) -> dict[str, dict[str, Any]]:
    if not policy.can(request.user, policy.ADMINISTER, policy.Capability.ASSIST_SWITCHES):
        raise NotAllowed("only platform admins see the AI switches")
    return switches.states()


@router.put("/switches/{feature}", response=dict[str, dict[str, Any]], summary="Turn an AI feature on or off")
def put_switch(request: HttpRequest, feature: str, payload: SwitchIn) -> dict[str, dict[str, Any]]:
    switches.set_switch(_me(request), feature, payload.enabled, payload.reason, channel=Channel.API)
    return switches.states()



# --- summaries, drafts, patterns ----------------------------------------------------------------------------

class SummaryOut(Schema):
    enabled: bool
    method: str | None = Field(description="extractive or generated")
    sections: dict[str, list[dict[str, Any]]] = Field(
        description="happened, tried, state, next: sentences {text, cites: [{n, ref}]}; ref is the timeline "
                    "entry (description, comment-ID, event-ID)")
    model: str | None
    version: str | None
    input_hash: str | None
    note: str = Field(description="Why a generated summary fell back to the extractive one, if it did")
    created_at: datetime | None


class DraftOut(Schema):
    id: int
    desk: str
    title: str
    symptoms: str
    cause: str
    resolution: str = Field(description="Steps, one per line")
    status: str = Field(description="in_review, approved or rejected")
    method: str
    model: str
    version: str
    input_hash: str
    tickets: list[str]
    sources: dict[str, Any]
    created_at: datetime
    reviewed_at: datetime | None
    review_note: str


class DraftIn(Schema):
    tickets: list[str] = Field(default_factory=list, description="More resolved tickets of the same desk")


class ReviewIn(Schema):
    approve: bool
    note: str = ""


class PatternOut(Schema):
    id: int
    desk: str
    kind: str = Field(description="problem_candidate, spike or knowledge_gap")
    title: str
    score: float
    evidence: dict[str, Any]
    status: str
    version: str
    first_seen: datetime
    last_seen: datetime


class PatternDecisionIn(Schema):
    status: str = Field(description="dismissed or acted")


@router.get("/tickets/{number}/summary", response=SummaryOut, summary="Hand-over summary citing the timeline")
def ticket_summary(request: HttpRequest, number: str) -> dict[str, Any]:
    return queries.summary_dict(writing.summarize(_ticket_for_work(request, number)))


@router.post("/tickets/{number}/draft", response={201: DraftOut}, summary="Draft a knowledge article for review")
def ticket_draft(request: HttpRequest, number: str, payload: DraftIn) -> Status[dict[str, Any]]:
    ticket = _ticket_for_work(request, number)
    others = []
    for other in payload.tickets:
        found = get_visible_ticket(request.user, other)
        if found is None:
            raise InvalidInput({"tickets": f"no ticket {other!r}"})
        others.append(found)
    draft = writing.draft_article(_me(request), [ticket, *others], channel=Channel.API)
    return Status(201, queries.draft_dict(draft))


@router.get("/drafts", response=list[DraftOut], summary="Knowledge drafts of the desks you work on")
def drafts(request: HttpRequest, desk: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    return [queries.draft_dict(d) for d in queries.drafts_for(request.user, _desk(desk) if desk else None, status)]


@router.post("/drafts/{draft_id}/review", response=DraftOut, summary="Approve or reject a draft")
def review(request: HttpRequest, draft_id: Id, payload: ReviewIn) -> dict[str, Any]:
    draft = writing.review_draft(_me(request), draft_id, payload.approve, payload.note, channel=Channel.API)
    return queries.draft_dict(draft)


@router.get("/patterns", response=list[PatternOut], summary="Problem candidates, spikes and knowledge gaps")
def patterns_list(request: HttpRequest, desk: str | None = None, kind: str | None = None,
                  status: str = "open") -> list[dict[str, Any]]:
    found = queries.patterns_for(request.user, _desk(desk) if desk else None, kind, status)
    return [queries.pattern_dict(p) for p in found]


@router.post("/desks/{desk}/patterns/detect", response=list[PatternOut], summary="Look for patterns now")
def detect(request: HttpRequest, desk: str) -> list[dict[str, Any]]:
    found = _desk(desk)
    _manage(request, found)
    return [queries.pattern_dict(p) for p in patterns.detect(found)]


@router.post("/patterns/{pattern_id}", response=PatternOut, summary="Dismiss a pattern or mark it acted on")
def decide_pattern(request: HttpRequest, pattern_id: Id, payload: PatternDecisionIn) -> dict[str, Any]:
    return queries.pattern_dict(patterns.decide(_me(request), pattern_id, payload.status))
