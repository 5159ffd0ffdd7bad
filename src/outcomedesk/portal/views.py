"""The self-service portal: submit a ticket to a desk, follow your tickets, reply, reopen, close, rate.

Requesters see their own and watched tickets only, and never internal notes or internal files. The survey
pages need no login: the token of the e-mail's link is the credential.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.core import clock
from outcomedesk.core.errors import Conflict, InvalidInput
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_int
from outcomedesk.experience import services as experience
from outcomedesk.experience.models import SCORE_LABELS, SCORES, ResponseVia, Survey
from outcomedesk.experience.queries import survey_for_token, surveys_for
from outcomedesk.tickets import services
from outcomedesk.tickets.models import OPEN_STATES, Attachment, Category, Level, State, Ticket, TicketType
from outcomedesk.tickets.queries import get_visible_ticket

PER_PAGE = 50
URGENCY_CHOICES = [
    (str(Level.HIGH.value), "High: I cannot work"),
    (str(Level.MEDIUM.value), "Medium: I can work around it"),
    (str(Level.LOW.value), "Low: no rush"),
]


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _posted(data: QueryDict, name: str) -> str:
    return str(data.get(name, "")).strip()


def _mine(user: User) -> QuerySet[Ticket]:
    """Tickets the person asked for or watches: the portal shows no others, whatever their role."""
    watched = Ticket.watchers.through.objects.filter(user_id=user.pk).values("ticket_id")
    return policy.restrict(Ticket.objects.all(), user).filter(Q(requester_id=user.pk) | Q(pk__in=watched))


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The desks one can ask for help, and the person's open tickets."""
    user = _user(request)
    open_tickets = list(
        _mine(user).filter(state__in=OPEN_STATES).select_related("desk").order_by("-opened_at")[:10]
    )
    return render(request, "portal/home.html", {
        "desks": list(Desk.objects.filter(is_active=True)),
        "open_tickets": open_tickets,
    })


def _active_desk(slug: str) -> Desk:
    return get_object_or_404(Desk, slug=slug, is_active=True)


@login_required
def new_ticket(request: HttpRequest, desk_slug: str) -> HttpResponse:
    """The submission form of one desk; posting opens the ticket through `open_ticket`."""
    desk = _active_desk(desk_slug)
    errors: dict[str, str] = {}
    values: dict[str, str] = {"type": TicketType.INCIDENT, "urgency": str(Level.LOW.value)}
    if request.method == "POST":
        data = request.POST
        values = {
            name: _posted(data, name) for name in (
            "title", "description", "category", "urgency", "type")
        }
        try:
            ticket = services.open_ticket(
                _user(request), desk=desk, title=values["title"],
                description=str(data.get("description", "")),
                type=values["type"] or TicketType.INCIDENT, category=values["category"] or None,
                urgency=values["urgency"] or None, channel=Channel.PORTAL, door=Channel.PORTAL,
                attachments=list(request.FILES.getlist("attachments")),
            )
        except InvalidInput as exc:
            errors = exc.errors
        else:
            messages.success(request, f"Thank you. Your ticket {ticket.number} has been received.")
            return redirect("portal:ticket", ticket.number)
    elif request.method != "GET":
        return HttpResponse(status=405)
    return render(request, "portal/new_ticket.html", {
        "desk": desk,
        "categories": list(Category.objects.filter(desk=desk, is_active=True)),
        "urgencies": URGENCY_CHOICES,
        "types": TicketType.choices,
        "values": values,
        "errors": errors,
    }, status=400 if errors else 200)


@login_required
@require_GET
def my_tickets(request: HttpRequest) -> HttpResponse:
    """The person's tickets, newest first, 50 a page (one extra row says whether there is a next page)."""
    user = _user(request)
    show = request.GET.get("show", "open")
    qs = _mine(user).select_related("desk", "assignee").order_by("-opened_at", "-id")
    if show == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif show != "all":
        show = "all"
    raw = request.GET.get("page", "1")
    page = as_int(raw, minimum=1, maximum=99_999) or 1
    start = (page - 1) * PER_PAGE
    rows = list(qs[start : start + PER_PAGE + 1])
    return render(request, "portal/tickets.html", {
        "tickets": rows[:PER_PAGE], "page": page, "has_next": len(rows) > PER_PAGE, "has_previous": page > 1,
        "show": show,
    })


def _portal_ticket(request: HttpRequest, number: str) -> Ticket:
    ticket = get_visible_ticket(request.user, number, queryset=_mine(_user(request)))
    if ticket is None:
        raise Http404(f"no ticket {number}")
    return ticket


def _rating_context(request: HttpRequest, ticket: Ticket, comment: str | None = None) -> dict[str, Any]:
    """The latest survey of the requester's own resolved or closed ticket, for the rating form."""
    survey = None
    if ticket.requester_id == request.user.pk and ticket.state in (State.RESOLVED, State.CLOSED):
        survey = surveys_for(ticket).first()
    return {
        "survey": survey,
        "survey_open": survey is not None and survey.is_open(clock.now()),
        "survey_closed": experience.closed_message(survey) if survey is not None else "",
        "score_choices": [(n, SCORE_LABELS[n]) for n in SCORES],
        "rating_comment": comment if comment is not None else (survey.comment if survey else ""),
    }


def _ticket_context(request: HttpRequest, ticket: Ticket, errors: dict[str, dict[str, str]],
                    reply_body: str = "", rating_comment: str | None = None) -> dict[str, Any]:
    public_files = Attachment.objects.filter(is_public=True)
    comments = (
        ticket.comments.filter(is_public=True)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=public_files))
    )
    return {
        "ticket": ticket,
        "comments": list(comments),
        "attachments": list(ticket.attachments.filter(comment__isnull=True, is_public=True)),
        "errors": errors,
        "reply_body": reply_body,
        "own": ticket.requester_id == request.user.pk,
        "states": State,
        **_rating_context(request, ticket, rating_comment),
    }


@login_required
@require_GET
def ticket(request: HttpRequest, number: str) -> HttpResponse:
    found = _portal_ticket(request, number)
    return render(request, "portal/ticket.html", _ticket_context(request, found, {}))


def _perform(request: HttpRequest, ticket: Ticket, form: str, action: Callable[[], object], done: str,
             reply_body: str = "") -> HttpResponse:
    """Run one service call; show its complaint beside the form's button or field, else back to the ticket."""
    try:
        action()
    except (InvalidInput, Conflict) as exc:
        errors = exc.errors if isinstance(exc, InvalidInput) else {"state": exc.message}
        context = _ticket_context(request, ticket, {form: errors}, reply_body=reply_body)
        return render(request, "portal/ticket.html", context, status=exc.status)
    messages.success(request, done)
    return redirect("portal:ticket", ticket.number)


@login_required
@require_POST
def reply(request: HttpRequest, number: str) -> HttpResponse:
    found = _portal_ticket(request, number)
    body = str(request.POST.get("body", ""))
    return _perform(
        request, found, "reply",
        lambda: services.add_comment(
            _user(request), found, body, public=True, channel=Channel.PORTAL,
            attachments=list(request.FILES.getlist("attachments")),
        ),
        "Your reply was sent.", reply_body=body,
    )


@login_required
@require_POST
def reopen(request: HttpRequest, number: str) -> HttpResponse:
    found = _portal_ticket(request, number)
    reason = _posted(request.POST, "reason")
    return _perform(
        request, found, "reopen",
        lambda: services.reopen_ticket(_user(request), found, reason=reason, channel=Channel.PORTAL),
        f"{found.number} is open again.",
    )


@login_required
@require_POST
def close(request: HttpRequest, number: str) -> HttpResponse:
    """Confirm a resolved ticket is done."""
    found = _portal_ticket(request, number)
    return _perform(
        request, found, "close",
        lambda: services.change_state(_user(request), found, State.CLOSED, channel=Channel.PORTAL),
        f"{found.number} is closed. Thank you.",
    )


@login_required
@require_POST
def cancel(request: HttpRequest, number: str) -> HttpResponse:
    """Withdraw an open ticket one no longer needs."""
    found = _portal_ticket(request, number)
    return _perform(
        request, found, "cancel",
        lambda: services.change_state(
            _user(request), found, State.CANCELLED, resolution_code="withdrawn", channel=Channel.PORTAL
        ),
        f"{found.number} is cancelled.",
    )


@login_required
@require_POST
def rate(request: HttpRequest, number: str) -> HttpResponse:
    """The requester rates their resolved or closed ticket (its latest survey), with an optional comment."""
    found = _portal_ticket(request, number)
    score = _posted(request.POST, "score")
    comment = str(request.POST.get("comment", ""))
    try:
        experience.respond_as(_user(request), found, score, comment)
    except InvalidInput as exc:
        context = _ticket_context(request, found, {"rate": exc.errors}, rating_comment=comment)
        return render(request, "portal/ticket.html", context, status=exc.status)
    messages.success(request, "Thank you for your rating.")
    return redirect("portal:ticket", found.number)


@login_required
@require_GET
def attachment(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Download a public file of one of the person's tickets."""
    found = Attachment.objects.filter(pk=attachment_id, is_public=True).select_related("ticket").first()
    if found is None or not _mine(_user(request)).filter(pk=found.ticket_id).exists():
        raise Http404("no such attachment")
    return FileResponse(found.file.open("rb"), as_attachment=True, filename=found.filename)


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """A person's own settings: ticket e-mails on or off; for agents, away (skipped by automatic assignment)."""
    from outcomedesk.accounts import services as accounts
    from outcomedesk.mail import services as mail
    from outcomedesk.mail.models import Kind

    user = _user(request)
    is_agent = policy.can(user, policy.VIEW, policy.Capability.WORKSPACE)
    if request.method == "POST":
        accounts.set_notifications(user, request.POST.get("email_notifications") == "on")
        mail.set_preferences(user, {kind: request.POST.get(f"kind-{kind}") == "on" for kind in mail.preferences(user)})
        if is_agent:
            accounts.set_away(user, request.POST.get("away") == "on")
        messages.success(request, "Your preferences are saved.")
        return redirect("portal:preferences")
    kinds = [{"kind": kind, "label": Kind(kind).label, "on": on} for kind, on in mail.preferences(user).items()]
    return render(request, "portal/preferences.html", {"is_agent": is_agent, "kinds": kinds})


# --- satisfaction surveys (no login: the link's token is the credential) -------------------------------------

def _survey(token: str) -> Survey:
    found = survey_for_token(token)
    if found is None:
        raise Http404("no survey with this link")
    return found


def _survey_page(request: HttpRequest, survey: Survey, *, chosen: int | None = None,
                 errors: dict[str, str] | None = None, comment: str | None = None, status: int = 200) -> HttpResponse:
    return render(request, "portal/survey.html", {
        "survey": survey,
        "ticket": survey.ticket,
        "is_open": survey.is_open(clock.now()),
        "closed_message": experience.closed_message(survey),
        "choices": [(n, SCORE_LABELS[n]) for n in SCORES],
        "score_label": SCORE_LABELS.get(survey.score or 0, ""),
        "chosen": chosen,
        "chosen_label": SCORE_LABELS.get(chosen or 0, ""),
        "comment": comment if comment is not None else survey.comment,
        "errors": errors or {},
    }, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the five scores (or, once answered, thanks and a comment box). POST: record a score or a comment."""
    found = _survey(token)
    if request.method == "POST":
        posted = request.POST.get("comment")
        comment = None if posted is None else str(posted)  # a score alone keeps an earlier comment
        try:
            experience.respond(found.token, _posted(request.POST, "score"), comment, via=ResponseVia.EMAIL)
        except InvalidInput as exc:
            return _survey_page(request, found, errors=exc.errors, comment=comment, status=exc.status)
        messages.success(request, "Your comment is saved. Thank you." if comment is not None
                         else "Thank you for your answer.")
        return redirect("portal:survey", found.token)
    return _survey_page(request, found)


@never_cache
@require_safe
def survey_score(request: HttpRequest, token: str, score: str) -> HttpResponse:
    """The one-click link of the e-mail. It records nothing itself, so mail scanners that fetch links answer
    nothing: the page's form posts the score at once when scripts run, or with its Send button."""
    found = _survey(token)
    try:
        chosen = experience.check_score(score)
    except InvalidInput as exc:
        return _survey_page(request, found, errors=exc.errors, status=exc.status)
    return _survey_page(request, found, chosen=chosen)
