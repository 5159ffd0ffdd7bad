"""Reads of the AI's work for the workspace and the API: a ticket's suggestions, its similar tickets, the
models and their figures, the policies. Only a desk's own staff see its suggestions."""

from __future__ import annotations

from typing import Any

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk
from outcomedesk.assist import similar
from outcomedesk.assist.models import (
    Feature,
    KnowledgeDraft,
    Outcome,
    Pattern,
    PatternStatus,
    Suggestion,
    Summary,
    TrainedModel,
)
from outcomedesk.assist.services import policies_for
from outcomedesk.assist.switches import is_enabled
from outcomedesk.core.errors import NotAllowed
from outcomedesk.tickets.models import Ticket


def open_suggestions(ticket: Ticket) -> list[Suggestion]:
    return list(Suggestion.objects.filter(ticket=ticket).exclude(outcome=Outcome.SUPERSEDED)
                .order_by("kind", "field", "-confidence"))


def suggestion_dict(s: Suggestion) -> dict[str, Any]:
    return {
        "id": s.pk, "kind": s.kind, "field": s.field, "value": s.value, "display": s.display,
        "confidence": s.confidence, "threshold": s.threshold, "outcome": s.outcome, "final_value": s.final_value,
        "model": s.model_name, "version": s.version, "input_hash": s.input_hash, "created_at": s.created_at,
        "decided_at": s.decided_at, "why": s.explanation,
    }


def similar_dicts(reader: Any, ticket: Ticket, limit: int = 5) -> dict[str, Any]:
    """Resolved tickets like this one (live, with the reader's visibility), and how they were found."""
    if not is_enabled(Feature.SIMILAR):
        return {"enabled": False, "retriever": None, "input_hash": None, "tickets": []}
    hits = similar.similar_resolved(reader, ticket, limit)
    return {
        "enabled": True,
        "retriever": similar.version(),
        "input_hash": similar.text_hash(similar.ticket_text(ticket)),
        "tickets": [
            {"number": h.entry.key, "title": h.entry.title, "state": h.entry.extra["state"], "score": h.score,
             "matching_words": list(h.words), "passage": h.passage, "resolution": h.entry.extra["resolution"]}
            for h in hits
        ],
    }


def models_for(user: Any, desk: Desk | None = None) -> list[TrainedModel]:
    """The models of the desks `user` manages."""
    if not policy.can(user, policy.VIEW, policy.Capability.ASSIST):
        raise NotAllowed("only desk managers and service managers see the AI's models")
    rows = policy.restrict(TrainedModel.objects.select_related("desk", "trained_by").defer("blob"), user,
                           policy.MANAGE)
    if desk is not None:
        rows = rows.filter(desk=desk)
    return list(rows)


def policy_rows(desk: Desk) -> list[dict[str, Any]]:
    active = {m.field: m for m in TrainedModel.objects.filter(desk=desk, is_active=True).defer("blob")}
    rows = []
    for field, (mode, threshold) in policies_for(desk.pk).items():
        model = active.get(field)
        rows.append({"field": field, "mode": mode, "threshold": threshold,
                     "model": model.version if model else None,
                     "model_accuracy": model.figures.get("accuracy") if model else None,
                     "coverage_at_threshold": _coverage(model, threshold) if model else None})
    return rows


def _coverage(model: TrainedModel, threshold: float) -> dict[str, float] | None:
    """Precision and share of held-out tickets at the policy's threshold: what the service manager buys."""
    points = [p for p in model.figures.get("precision_coverage", []) if p["threshold"] <= threshold]
    return points[-1] if points else None


def drafts_for(user: Any, desk: Desk | None = None, status: str | None = None) -> list[KnowledgeDraft]:
    rows = policy.restrict(KnowledgeDraft.objects.select_related("desk"), user)
    if desk is not None:
        rows = rows.filter(desk=desk)
    if status:
        rows = rows.filter(status=status)
    return list(rows.prefetch_related("tickets")[:200])


def draft_dict(d: KnowledgeDraft) -> dict[str, Any]:
    return {"id": d.pk, "desk": d.desk.slug, "title": d.title, "symptoms": d.symptoms, "cause": d.cause,
            "resolution": d.resolution, "status": d.status, "method": d.method, "model": d.model_name,
            "version": d.version, "input_hash": d.input_hash, "tickets": [t.number for t in d.tickets.all()],
            "sources": d.sources, "created_at": d.created_at, "reviewed_at": d.reviewed_at,
            "review_note": d.review_note}


def patterns_for(user: Any, desk: Desk | None = None, kind: str | None = None,
                 status: str = PatternStatus.OPEN) -> list[Pattern]:
    rows = policy.restrict(Pattern.objects.select_related("desk"), user)
    if desk is not None:
        rows = rows.filter(desk=desk)
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    return list(rows[:200])


def pattern_dict(p: Pattern) -> dict[str, Any]:
    return {"id": p.pk, "desk": p.desk.slug, "kind": p.kind, "title": p.title, "score": p.score,
            "evidence": p.evidence, "status": p.status, "version": p.version, "first_seen": p.first_seen,
            "last_seen": p.last_seen}


def summary_dict(s: Summary | None) -> dict[str, Any]:
    if s is None:
        return {"enabled": False, "method": None, "sections": {}, "model": None, "version": None,
                "input_hash": None, "note": "", "created_at": None}
    return {"enabled": True, "method": s.method, "sections": s.sections, "model": s.model_name,
            "version": s.version, "input_hash": s.input_hash, "note": s.note, "created_at": s.created_at}
