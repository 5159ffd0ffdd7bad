"""The agent workspace: the queue, the ticket page and search.

Each view parses its input, calls one service and renders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.errors import Conflict, InvalidInput
from outcomedesk.core.parsing import as_int
from outcomedesk.tickets import impact, services
from outcomedesk.tickets.filters import NUMBER, SORTS, TicketFilter
from outcomedesk.tickets.models import (
    Attachment,
    Category,
    Level,
    PendingReason,
    Priority,
    SavedView,
    ServiceImpact,
    State,
    Ticket,
    TicketLink,
    TicketType,
)
from outcomedesk.tickets.queries import get_visible_ticket, timeline
from outcomedesk.tickets.search import search_tickets
from outcomedesk.web import forms, service_levels

PER_PAGE = 50
View = Callable[..., HttpResponseBase]
SORT_LABELS = {
    "priority": "Priority", "-opened": "Newest first", "opened": "Oldest first",
    "-updated": "Recently updated",
}
RESOLUTION_CODES = [
    ("solved", "Solved"), ("workaround", "Workaround"), ("no_fault", "No fault found"),
    ("guidance", "Guidance given"),
]
STATE_FILTERS = [("open", "Open"), ("done", "Done"), ("all", "All"), *State.choices]


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _is_htmx(request: HttpRequest) -> bool:
    """Set by django-htmx's middleware from the HX-Request header."""
    return bool(getattr(request, "htmx", False))


def agent_required(view: View) -> View:
    """Logged in and working on a desk (or a platform admin, who reads every non-confidential desk)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not policy.can(request.user, policy.VIEW, policy.Capability.WORKSPACE):
            raise PermissionDenied("the agent workspace is for desk staff")
        return view(request, *args, **kwargs)

    return wrapper


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Agents start at their queue, everyone else at the portal."""
    workspace = policy.can(request.user, policy.VIEW, policy.Capability.WORKSPACE)
    return redirect("web:queue" if workspace else "portal:home")


# --- the queue -------------------------------------------------------------------------------------------

def _page(raw: str | None) -> int:
    return as_int(raw, minimum=1, maximum=99_999) or 1


@agent_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """Tickets matching the filter, 50 a page; an HTMX request gets the table only."""
    user = _user(request)
    errors: dict[str, str] = {}
    try:
        ticket_filter = TicketFilter.from_params(request.GET)
    except InvalidInput as exc:
        errors = exc.errors
        ticket_filter = TicketFilter()
    # The SLA condition lives here, not in TicketFilter: tickets must not know about service levels.
    sla_filter, sla_errors = service_levels.parse_filter(request.GET)
    errors.update(sla_errors)
    now = clock.now()
    page = _page(request.GET.get("page"))
    start = (page - 1) * PER_PAGE
    # One row more than a page tells whether a next page exists, without counting the whole table.
    tickets = service_levels.apply_filter(ticket_filter.apply(user), sla_filter, now).select_related(
        "requester", "desk", "group", "assignee")
    rows = list(tickets[start : start + PER_PAGE + 1])
    shown = rows[:PER_PAGE]
    badges = service_levels.queue_badges(shown, now)  # one query for the page
    context: dict[str, Any] = {
        "tickets": shown,
        "rows": [(t, badges.get(t.pk)) for t in shown],
        "page": page,
        "has_next": len(rows) > PER_PAGE,
        "has_previous": page > 1,
        "filter_errors": errors,
        "query": services.clean_query(request.GET.urlencode()),
    }
    if _is_htmx(request) and not request.headers.get("HX-Boosted"):
        response = render(request, "web/partials/queue_table.html", context)
    else:
        context.update(_queue_options(user))
        response = render(request, "web/queue.html", context, status=400 if errors else 200)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _queue_options(user: User) -> dict[str, Any]:
    desk_ids = policy.desk_ids(user, policy.VIEW)
    work_desks = policy.desk_ids(user, policy.WORK)
    return {
        "desks": list(Desk.objects.filter(pk__in=desk_ids, is_active=True)),
        "groups": list(
            AssignmentGroup.objects.filter(desk_id__in=desk_ids, is_active=True).select_related("desk")
        ),
        "work_groups": list(
            AssignmentGroup.objects.filter(desk_id__in=work_desks, is_active=True)
            .select_related("desk")
        ),
        "managed_desks": list(Desk.objects.filter(pk__in=policy.desk_ids(user, policy.MANAGE))),
        "personal_views": list(SavedView.objects.filter(owner=user)),
        "desk_queues": list(
            SavedView.objects.filter(desk_id__in=work_desks, owner=None).select_related("desk")
        ),
        "state_filters": STATE_FILTERS,
        "priorities": Priority.choices,
        "types": TicketType.choices,
        "sorts": [(key, SORT_LABELS.get(key, key)) for key in SORTS if key in SORT_LABELS],
        "states": State.choices,
        "pending_reasons": PendingReason.choices,
        "sla_filters": service_levels.SLA_FILTERS,
    }


def _back_to_queue(request: HttpRequest) -> HttpResponseRedirect:
    query = services.clean_query(forms.posted(request.POST, "query"))
    return redirect(reverse("web:queue") + (f"?{query}" if query else ""))


@agent_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """One action on the selected tickets, all or none."""
    user = _user(request)
    data = request.POST
    action = forms.posted(data, "action")
    kwargs: dict[str, Any]
    if action == "assign_me":
        kwargs = {"changes": {"assignee": user.pk}}
    elif action == "group":
        kwargs = {"changes": {"group": forms.posted(data, "group")}}
    elif action == "state":
        kwargs = {
            "state": forms.posted(data, "state"),
            "pending_reason": forms.posted(data, "pending_reason"),
            "resolution_code": forms.posted(data, "resolution_code"),
            "resolution_notes": forms.posted(data, "resolution_notes"),
        }
    else:
        messages.error(request, "Choose an action for the selected tickets.")
        return _back_to_queue(request)
    try:
        done = services.bulk_update(user, data.getlist("numbers"), **kwargs)
    except InvalidInput as exc:
        messages.error(request, "Nothing changed: " + "; ".join(exc.errors.values()))
    else:
        messages.success(request, f"Updated {len(done)} ticket{'s' if len(done) != 1 else ''}.")
    return _back_to_queue(request)


@agent_required
@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    data = request.POST
    try:
        view = services.save_view(
            _user(request), name=forms.posted(data, "name"), query=forms.posted(data, "query"),
            desk=forms.posted(data, "desk") or None,
        )
    except InvalidInput as exc:
        reasons = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
        messages.error(request, f"The view was not saved: {reasons}")
        return _back_to_queue(request)
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(reverse("web:queue") + (f"?{view.query}" if view.query else ""))


@agent_required
@require_POST
def delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    services.delete_view(_user(request), view_id)
    messages.success(request, "Removed the saved view.")
    return redirect("web:queue")


# --- search ----------------------------------------------------------------------------------------------

@agent_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Words or a ticket number; a number that matches goes straight to its ticket."""
    q = (request.GET.get("q") or "").strip()[:200]
    results = search_tickets(_user(request), q, limit=50) if q else []
    if q and NUMBER.match(q) and len(results) == 1:
        return redirect("web:ticket", results[0].number)
    return render(request, "web/search.html", {"q": q, "search_q": q, "results": results})


# --- the ticket page -------------------------------------------------------------------------------------

def _visible_ticket(request: HttpRequest, number: str) -> Ticket:
    # Whether it has impact windows comes with the ticket (an EXISTS on an indexed key): the many tickets without
    # any then cost the page no query for its business impact panel.
    with_impacts = Ticket.objects.annotate(has_impacts=Exists(ServiceImpact.objects.filter(ticket=OuterRef("pk"))))
    ticket = get_visible_ticket(request.user, number, with_impacts)
    if ticket is None:
        raise Http404(f"no ticket {number}")
    return ticket


def _working_ticket(request: HttpRequest, number: str) -> Ticket:
    """A ticket the person works on: refused before any of the form is read."""
    ticket = _visible_ticket(request, number)
    if not policy.can(request.user, policy.WORK, ticket):
        raise PermissionDenied(f"you are not an agent of the {ticket.desk.name} desk")
    return ticket


def _ticket_context(
    request: HttpRequest, ticket: Ticket, *, errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None, reply: dict[str, str] | None = None, conflict: str = "",
) -> dict[str, Any]:
    user = _user(request)
    staff = policy.can(user, policy.WORK, ticket)
    tags = sorted(t.name for t in ticket.tags.all())
    attachments = ticket.attachments.filter(comment__isnull=True)
    if not staff:
        attachments = attachments.filter(is_public=True)
    context: dict[str, Any] = {
        "ticket": ticket,
        "staff": staff,
        "tags": tags,
        "timeline": timeline(ticket, include_internal=staff),
        "attachments": list(attachments),
        "links": list(
            TicketLink.objects.filter(Q(source=ticket) | Q(target=ticket)).select_related("source", "target")
        ),
        "errors": errors or {},
        "conflict": conflict,
        "state_errors": next((e for name, e in (errors or {}).items() if name.startswith("state_")), {}),
        "resolution_codes": RESOLUTION_CODES,
        # What the person typed into the small forms (state, links), shown again beside their errors.
        "posted": request.POST if request.method == "POST" and errors else {},
        "values": values or forms.ticket_values(
            ticket, tags, sorted(ticket.watchers.values_list("username", flat=True))
        ),
        "reply": reply or {"visibility": "reply"},
        "sla_targets": service_levels.panel(ticket, clock.now()),
        "impact_windows": (
            impact.impact_windows(ticket, clock.now())
            if ticket.type == TicketType.INCIDENT and getattr(ticket, "has_impacts", True) else []
        ),
        "states": State,
        "pending_reasons": PendingReason.choices,
        "levels": Level.choices,
        "priorities": Priority.choices,
    }
    if staff:
        chosen = context["values"]
        # (value, label, selected) triples: the template then does no lookups per option.
        context.update(
            groups=_options(AssignmentGroup.objects.filter(desk_id=ticket.desk_id, is_active=True).values_list(
                "pk", "name"), chosen.get("group")),
            agents=_options(((a.pk, str(a)) for a in policy.people(policy.WORK, [ticket.desk_id]).order_by(
                "username").only("id", "username", "display_name", "first_name", "last_name")), chosen.get("assignee")),
            categories=_options(Category.objects.filter(desk_id=ticket.desk_id, is_active=True).values_list(
                "pk", "name"), chosen.get("category")),
            services=_options(BusinessService.objects.filter(is_active=True).values_list("pk", "name"),
                              chosen.get("service")),
        )
    return context


def _options(pairs: Iterable[tuple[int, str]], chosen: Any) -> list[tuple[int, str, bool]]:
    chosen = str(chosen or "")
    return [(value, label, str(value) == chosen) for value, label in pairs]


def _render_ticket(request: HttpRequest, ticket: Ticket, status: int = 200, **kwargs: Any) -> HttpResponse:
    return render(request, "web/ticket.html", _ticket_context(request, ticket, **kwargs), status=status)


@agent_required
@require_GET
def ticket(request: HttpRequest, number: str) -> HttpResponse:
    return _render_ticket(request, _visible_ticket(request, number))


def _perform(
    request: HttpRequest, ticket: Ticket, form: str, action: Callable[[], object], done: str,
    values: dict[str, str] | None = None,
) -> HttpResponse:
    """Run one service call; show its complaints beside the fields of `form`, or go back to the ticket."""
    try:
        action()
    except Conflict as exc:
        # Never re-apply the change: show the ticket as it is now, with the message.
        fresh = _visible_ticket(request, ticket.number)
        return _render_ticket(request, fresh, status=409, errors={form: {"version": exc.message}},
                              conflict=exc.message)
    except InvalidInput as exc:
        return _render_ticket(request, ticket, status=400, errors={form: exc.errors}, values=values)
    messages.success(request, done)
    return redirect("web:ticket", ticket.number)


@agent_required
@require_POST
def ticket_edit(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _working_ticket(request, number)
    data = request.POST
    tags = sorted(t.name for t in ticket.tags.all())
    watchers = sorted(ticket.watchers.values_list("username", flat=True))
    values = {name: forms.posted(data, name) for name in forms.EDIT_FIELDS}

    def change() -> Ticket:
        version = forms.expected_version(data)
        return services.update_ticket(
            _user(request), ticket, forms.edit_changes(data, ticket, tags, watchers), expected_version=version
        )

    return _perform(request, ticket, "edit", change, f"Saved {ticket.number}.", values=values)


@agent_required
@require_POST
def ticket_state(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _working_ticket(request, number)
    data = request.POST
    state = forms.posted(data, "state")

    def change() -> Ticket:
        return services.change_state(
            _user(request), ticket, state,
            pending_reason=forms.posted(data, "pending_reason"),
            resolution_code=forms.posted(data, "resolution_code"),
            resolution_notes=forms.posted(data, "resolution_notes"),
            expected_version=forms.expected_version(data),
        )

    label = State(state).label.lower() if state in State.values else state
    return _perform(request, ticket, f"state_{state}", change, f"{ticket.number} is now {label}.")


@agent_required
@require_POST
def ticket_reopen(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _working_ticket(request, number)
    data = request.POST
    return _perform(
        request, ticket, "reopen",
        lambda: services.reopen_ticket(
            _user(request), ticket, reason=forms.posted(data, "reason"),
            expected_version=forms.expected_version(data),
        ),
        f"Reopened {ticket.number}.",
    )


@agent_required
@require_POST
def ticket_link(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _working_ticket(request, number)
    related = forms.posted(request.POST, "related")
    return _perform(
        request, ticket, "link", lambda: services.link_tickets(_user(request), ticket, related),
        f"Related {ticket.number} to {related.upper()}.",
    )


@agent_required
@require_POST
def ticket_parent(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _working_ticket(request, number)
    data = request.POST
    parent = forms.posted(data, "parent")
    return _perform(
        request, ticket, "parent",
        lambda: services.update_ticket(
            _user(request), ticket, {"parent": parent or None}, expected_version=forms.expected_version(data)
        ),
        f"Set the parent of {ticket.number}." if parent else f"Removed the parent of {ticket.number}.",
    )


@agent_required
@require_POST
def ticket_merge(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _working_ticket(request, number)
    into = forms.posted(request.POST, "duplicate_of")
    return _perform(
        request, ticket, "merge", lambda: services.merge_tickets(_user(request), ticket, into),
        f"Merged {ticket.number} into {into.upper()}.",
    )


@agent_required
@require_POST
def ticket_impact_add(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    fields = forms.impact_fields(request.POST)
    return _perform(
        request, ticket, "impact", lambda: impact.record_impact(_user(request), ticket, **fields),
        f"Recorded the business impact on {ticket.number}.",
    )


@agent_required
@require_POST
def ticket_impact_end(request: HttpRequest, number: str, impact_id: int) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    return _perform(
        request, ticket, "impact_window", lambda: impact.end_impact(_user(request), _impact_of(ticket, impact_id)),
        "Ended the impact window.",
    )


@agent_required
@require_POST
def ticket_impact_remove(request: HttpRequest, number: str, impact_id: int) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    return _perform(
        request, ticket, "impact_window",
        lambda: impact.remove_impact(_user(request), _impact_of(ticket, impact_id)), "Removed the impact window.",
    )


def _impact_of(ticket: Ticket, impact_id: int) -> int:
    """The window's id if it belongs to this ticket: a window of another ticket is not found through this one."""
    if not ServiceImpact.objects.filter(pk=impact_id, ticket=ticket).exists():
        raise Http404(f"no impact window {impact_id} on {ticket.number}")
    return impact_id


@agent_required
@require_POST
def ticket_comment(request: HttpRequest, number: str) -> HttpResponse:
    """A reply or an internal note; an HTMX post gets the conversation (timeline and reply box) back."""
    ticket = _visible_ticket(request, number)
    data = request.POST
    visibility = "note" if forms.posted(data, "visibility") == "note" else "reply"
    body = str(data.get("body", ""))
    errors: dict[str, dict[str, str]] = {}
    try:
        services.add_comment(
            _user(request), ticket, body, public=visibility == "reply", attachments=forms.uploads(request)
        )
    except InvalidInput as exc:
        errors = {"reply": exc.errors}
    status = 400 if errors else 200
    reply = {"visibility": visibility, "body": body if errors else ""}
    if _is_htmx(request):
        context = _ticket_context(request, ticket, errors=errors, reply=reply)
        # htmx does not swap 4xx answers by default; the partial carries the errors itself.
        return render(request, "web/partials/conversation.html", context)
    if errors:
        return _render_ticket(request, ticket, status=status, errors=errors, reply=reply)
    messages.success(request, "Added the internal note." if visibility == "note" else "Sent the reply.")
    return redirect("web:ticket", ticket.number)


@login_required
@require_GET
def attachment(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Download a file: visible ticket, and internal files only for the ticket's desk staff."""
    found = Attachment.objects.select_related("ticket__desk").filter(pk=attachment_id).first()
    if found is None or not policy.can(request.user, policy.VIEW, found.ticket):
        raise Http404("no such attachment")
    if not found.is_public and not policy.can(request.user, policy.WORK, found.ticket):
        raise Http404("no such attachment")
    return FileResponse(found.file.open("rb"), as_attachment=True, filename=found.filename)



@agent_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponseBase:
    """The queue's tickets as CSV, with the same filter and visibility as the page."""
    from django.http import StreamingHttpResponse

    from outcomedesk.tickets.export import csv_lines

    sla_filter, errors = service_levels.parse_filter(request.GET)
    try:
        tickets = TicketFilter.from_params(request.GET).apply(_user(request))
    except InvalidInput as exc:
        errors = {**exc.errors, **errors}
    if errors:
        return HttpResponse("; ".join(f"{k}: {v}" for k, v in errors.items()), status=400,
                            content_type="text/plain")
    tickets = service_levels.apply_filter(tickets, sla_filter, clock.now())
    response = StreamingHttpResponse(csv_lines(tickets), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="tickets.csv"'
    return response
