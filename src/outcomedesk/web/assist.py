"""The AI assist panel of the ticket page: suggestions with their confidence and why, likely duplicates, and
resolved tickets like this one. Loaded after the page (HTMX), so the ticket never waits on the AI."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from outcomedesk.assist import queries, services
from outcomedesk.assist.models import Outcome, SuggestionKind
from outcomedesk.core.errors import ServiceError
from outcomedesk.tickets.models import Ticket
from outcomedesk.tickets.queries import can_work, get_visible_ticket
from outcomedesk.web.views import _user, agent_required


def _workable(request: HttpRequest, number: str) -> Ticket:
    ticket = get_visible_ticket(request.user, number)
    if ticket is None:
        raise Http404(f"no ticket {number}")
    if not can_work(request.user, ticket):
        raise PermissionDenied(f"only agents of the {ticket.desk.name} desk see its AI suggestions")
    return ticket


@agent_required
@require_GET
def panel(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _workable(request, number)
    suggestions = [queries.suggestion_dict(s) for s in queries.open_suggestions(ticket)]
    return render(request, "web/partials/assist_panel.html", {
        "ticket": ticket,
        "fields": [s for s in suggestions if s["kind"] == SuggestionKind.FIELD],
        "duplicates": [s for s in suggestions if s["kind"] == SuggestionKind.DUPLICATE
                       and s["outcome"] == Outcome.OPEN],
        "similar": queries.similar_dicts(_user(request), ticket),
        "open": Outcome.OPEN,
    })


@agent_required
@require_POST
def decide(request: HttpRequest, number: str, suggestion_id: int) -> HttpResponse:
    ticket = _workable(request, number)
    accept = request.POST.get("decision") == "accept"
    try:
        done = services.decide(_user(request), suggestion_id, accept)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        verb = "Applied" if accept else "Dismissed"
        messages.success(request, f"{verb} the suggestion {done.display}.")
    return redirect("web:ticket", ticket.number)
