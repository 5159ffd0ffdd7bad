"""The AI assist panel of the ticket page: suggestions with their confidence and why, likely duplicates, and
resolved tickets like this one. Loaded after the page (HTMX), so the ticket never waits on the AI."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from outcomedesk.accounts import policy
from outcomedesk.assist import patterns, queries, services, writing
from outcomedesk.assist.models import DraftStatus, Outcome, PatternKind, PatternStatus, SuggestionKind
from outcomedesk.core.errors import InvalidInput, ServiceError
from outcomedesk.tickets.models import Ticket
from outcomedesk.tickets.queries import get_visible_ticket
from outcomedesk.web.views import _user, agent_required

SUMMARY_LABELS = (("happened", "What happened"), ("tried", "What was tried"), ("state", "Where it stands"),
                  ("next", "Next step"))


def _workable(request: HttpRequest, number: str) -> Ticket:
    ticket = get_visible_ticket(request.user, number)
    if ticket is None:
        raise Http404(f"no ticket {number}")
    if not policy.can(request.user, policy.WORK, ticket):
        raise PermissionDenied(f"only agents of the {ticket.desk.name} desk see its AI suggestions")
    return ticket


@agent_required
@require_GET
def panel(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _workable(request, number)
    suggestions = [queries.suggestion_dict(s) for s in queries.open_suggestions(ticket)]
    summary = queries.summary_dict(writing.summarize(ticket))
    return render(request, "web/partials/assist_panel.html", {
        "ticket": ticket,
        "fields": [s for s in suggestions if s["kind"] == SuggestionKind.FIELD],
        "duplicates": [s for s in suggestions if s["kind"] == SuggestionKind.DUPLICATE
                       and s["outcome"] == Outcome.OPEN],
        "similar": queries.similar_dicts(_user(request), ticket),
        "summary": summary,
        "summary_lines": [(label, summary["sections"].get(name)) for name, label in SUMMARY_LABELS
                          if summary["sections"].get(name)],
        "open": Outcome.OPEN,
        "can_draft": ticket.state in ("resolved", "closed"),
    })


@agent_required
@require_POST
def decide(request: HttpRequest, number: str, suggestion_id: int) -> HttpResponse:
    ticket = _workable(request, number)
    accept = request.POST.get("decision") == "accept"
    try:
        done = services.decide(_user(request), suggestion_id, accept)
    except InvalidInput as exc:  # refusals (403, 404) are the middleware's
        messages.error(request, exc.message)
    else:
        verb = "Applied" if accept else "Dismissed"
        messages.success(request, f"{verb} the suggestion {done.display}.")
    return redirect("web:ticket", ticket.number)


@agent_required
@require_POST
def draft(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _workable(request, number)
    try:
        made = writing.draft_article(_user(request), [ticket])
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:ticket", ticket.number)
    messages.success(request, f"Drafted \u201c{made.title}\u201d: it waits for review.")
    return redirect(f"{reverse('web:assist_home')}#draft-{made.pk}")


@agent_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Patterns among recent incidents and knowledge drafts of the desks the agent works on."""
    user = _user(request)
    found = queries.patterns_for(user)
    drafts = queries.drafts_for(user)
    return render(request, "web/assist.html", {
        "problem_candidates": [p for p in found if p.kind == PatternKind.PROBLEM_CANDIDATE],
        "spikes": [p for p in found if p.kind == PatternKind.SPIKE],
        "gaps": [p for p in found if p.kind == PatternKind.KNOWLEDGE_GAP],
        "drafts": [d for d in drafts if d.status == DraftStatus.IN_REVIEW],
        "reviewed": [d for d in drafts if d.status != DraftStatus.IN_REVIEW][:20],
        "reviewable_desks": policy.desk_ids(user, policy.MANAGE),
    })


@agent_required
@require_POST
def review(request: HttpRequest, draft_id: int) -> HttpResponse:
    try:
        done = writing.review_draft(_user(request), draft_id, request.POST.get("decision") == "approve",
                                    request.POST.get("note", ""))
    except InvalidInput as exc:  # refusals (403, 404) are the middleware's
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{done.get_status_display()}: {done.title}.")
    return redirect("web:assist_home")


@agent_required
@require_POST
def pattern(request: HttpRequest, pattern_id: int) -> HttpResponse:
    status = PatternStatus.ACTED if request.POST.get("decision") == "acted" else PatternStatus.DISMISSED
    try:
        patterns.decide(_user(request), pattern_id, status)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("web:assist_home")
