"""Pages of the continual improvement register under /insights/improvement/: the list, an initiative with
its measured benefit, the form and the status buttons.

Whoever sees figures reads the initiatives of the desks whose figures they see; desk managers of the desk,
service managers and admins register and change them (register.queries). Requesters get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.charts import Series, line_chart
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.improvement.models import Initiative, InitiativeStatus
from outcomedesk.improvement.register import queries, services
from outcomedesk.improvement.register.tracked import (
    SUPPORT_LABELS,
    TRACKED_FIGURES,
    TrackedFigure,
    show,
    show_support,
    value_at,
)
from outcomedesk.insights import periods
from outcomedesk.insights.periods import Period
from outcomedesk.tickets.models import Category

View = Callable[..., HttpResponseBase]
PAGE_SIZE = 25


def register_required(view: View) -> View:
    """Logged in, and someone who sees figures (desk staff, service managers, executives, admins)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not queries.can_see_register(request.user):
            raise PermissionDenied("the improvement register is for desk staff, service managers and executives")
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _initiative(request: HttpRequest, pk: int) -> tuple[Initiative, bool]:
    """The initiative if the person may read it, and whether they may change it."""
    visible = queries.register_desk_ids(request.user)
    found = queries.visible_initiatives(request.user, visible).filter(pk=pk).first()
    if found is None:
        raise Http404(f"no initiative {pk}")
    return found, found.desk_id in queries.editable_desk_ids(request.user, visible)


def _progress(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} %"


def _signed(value: float | None, unit: str) -> str:
    return "—" if value is None else ("+" if value > 0 else "") + show(unit, value)


# --- the list ----------------------------------------------------------------------------------------------

@register_required
@require_GET
def register(request: HttpRequest) -> HttpResponse:
    """The initiatives the person may read, newest first, each with its figure measured now."""
    user = _user(request)
    visible = queries.register_desk_ids(user)
    status, desk = request.GET.get("status", ""), request.GET.get("desk", "")
    errors: dict[str, str] = {}
    try:
        rows = queries.filter_initiatives(queries.visible_initiatives(user, visible), status=status, desk=desk)
    except InvalidInput as exc:
        errors, rows = exc.errors, Initiative.objects.none()
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    initiatives = list(page.object_list)
    measured = queries.benefits(initiatives)
    table = []
    for row in initiatives:
        unit, found = row.tracked.unit, measured[row.pk]
        table.append({
            "initiative": row, "figure": row.tracked.label, "baseline": show(unit, row.baseline_value),
            "target": show(unit, row.target_value), "current": show(unit, found.current),
            "progress": _progress(found.progress_percent), "improved": found.improved,
            "url": reverse("improvement_register:detail", args=[row.pk]),
        })
    return render(request, "improvement/register/list.html", {
        "rows": table, "page": page, "errors": errors, "status": status, "desk": desk,
        "statuses": InitiativeStatus.choices,
        "desks": Desk.objects.filter(pk__in=sorted(visible)).order_by("name"),
        "may_create": bool(queries.editable_desk_ids(user, visible)),
    }, status=400 if errors else 200)


# --- one initiative ----------------------------------------------------------------------------------------

@register_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The benefit (figure now against baseline and target), the figures behind it, its trend and history."""
    row, may_edit = _initiative(request, pk)
    tracked, now = row.tracked, clock.now()
    chosen: Period | None = None
    errors: dict[str, str] = {}
    if request.GET.get("from"):
        try:
            chosen = periods.between(request.GET["from"], request.GET.get("to", ""))
        except InvalidInput as exc:
            errors = exc.errors
    measured = queries.benefit(row, chosen, now=now)
    baseline_period = queries.baseline_period(row)
    before = queries.figures_over(queries.initiative_scope(row), baseline_period, now)
    support = [{"label": SUPPORT_LABELS.get(path, path), "baseline": show_support(path, value_at(before, path)),
                "current": show_support(path, value_at(measured.figures, path)) if measured.figures else "—"}
               for path in tracked.support]
    return render(request, "improvement/register/detail.html", {
        "initiative": row, "tracked": tracked, "benefit": measured, "support": support, "errors": errors,
        "baseline": show(tracked.unit, row.baseline_value), "target": show(tracked.unit, row.target_value),
        "current": show(tracked.unit, measured.current), "change": _signed(measured.change, tracked.unit),
        "change_percent": "—" if measured.change_percent is None else f"{measured.change_percent:+.1f} %",
        "progress": _progress(measured.progress_percent), "baseline_period": baseline_period,
        "chart": _trend_chart(row, tracked), "events": [(e, _event_text(e)) for e in queries.initiative_events(row)],
        "may_edit": may_edit and not row.is_closed,
        "chosen_from": request.GET.get("from", ""), "chosen_to": request.GET.get("to", ""),
    }, status=400 if errors else 200)


def _event_text(event: Any) -> str:
    """One line of the history: what changed, from what to what."""
    if event.action == "created":
        return f"registered “{event.new_value}”"
    if event.action == "measured":
        return "baseline measured: " + (f"{event.old_value} → " if event.old_value else "") + event.new_value
    if event.action == "status":
        labels = dict(InitiativeStatus.choices)
        return f"status {labels.get(event.old_value, event.old_value)} → {labels.get(event.new_value, event.new_value)}"
    return f"{event.field.replace('_', ' ')}: {event.old_value or '—'} → {event.new_value or '—'}"


def _trend_chart(row: Initiative, tracked: TrackedFigure) -> SafeString:
    """The figure per month, with the baseline and the target drawn across as dashed reference lines."""
    trend = queries.monthly_trend(row)
    scale, unit = (100.0, "%") if tracked.unit == "share" else (1.0, "h" if tracked.unit == "hours" else "")
    values = [None if v is None else v * scale for _, v in trend]
    return line_chart([
        Series(tracked.label, values),
        Series("Baseline", [row.baseline_value * scale] * len(trend), dashed=True),
        Series("Target", [row.target_value * scale] * len(trend), dashed=True),
    ], x_labels=[f"{p.start.astimezone(periods.zone()):%b %Y}" for p, _ in trend],
        title=f"{tracked.label} per month", unit=unit)


@register_required
@require_POST
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        row = services.change_initiative_status(_user(request), pk, request.POST.get("status", ""))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except InvalidInput as exc:
        messages.error(request, f"The status did not change: {exc.errors.get('status', exc.message)}")
        return redirect("improvement_register:detail", pk)
    messages.success(request, f"{row.title} is now {row.get_status_display().lower()}.")
    return redirect("improvement_register:detail", pk)


# --- the form ----------------------------------------------------------------------------------------------

@register_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not queries.editable_desk_ids(user):
        raise PermissionDenied("initiatives are registered by desk managers, service managers and admins")
    if request.method == "POST":
        values = _posted(request.POST)
        try:
            row = services.create_initiative(user, values)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except InvalidInput as exc:
            return _form(request, None, values, exc.errors, status=400)
        messages.success(request, f"Registered {row.title}: baseline {show(row.tracked.unit, row.baseline_value)}.")
        return redirect("improvement_register:detail", row.pk)
    today = queries.day_of(clock.now())
    last = today.replace(day=1) - timedelta(days=1)  # the baseline: the last three whole months
    first = date(last.year - (last.month <= 2), (last.month - 3) % 12 + 1, 1)
    return _form(request, None, {"desk": request.GET.get("desk", ""), "baseline_from": first.isoformat(),
                                 "baseline_to": last.isoformat(), "owner": user.username}, {})


@register_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    row, may_edit = _initiative(request, pk)
    if not may_edit:
        raise PermissionDenied("initiatives are changed by the desk's managers, service managers and admins")
    if request.method == "POST":
        values = _posted(request.POST)
        try:
            row = services.update_initiative(_user(request), row, values)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except InvalidInput as exc:
            return _form(request, row, values, exc.errors, status=400)
        messages.success(request, f"Saved {row.title}.")
        return redirect("improvement_register:detail", row.pk)
    return _form(request, row, {
        "title": row.title, "description": row.description, "owner": row.owner.username, "desk": row.desk.slug,
        "service": row.service.slug if row.service else "", "category": str(row.category_id or ""),
        "figure": row.figure, "baseline_from": row.baseline_from.isoformat(),
        "baseline_to": row.baseline_to.isoformat(), "target_value": f"{row.target_value:g}",
        "started_on": row.started_on.isoformat() if row.started_on else "",
        "due_on": row.due_on.isoformat() if row.due_on else "",
    }, {})


def _posted(data: QueryDict) -> dict[str, Any]:
    """The form's fields as the service takes them; a field the form did not show is left unchanged."""
    return {name: data.get(name, "") for name in services.INITIATIVE_FIELDS if name in data}


def _form(request: HttpRequest, row: Initiative | None, values: dict[str, Any], errors: dict[str, str],
          status: int = 200) -> HttpResponse:
    editable = sorted(queries.editable_desk_ids(request.user))
    desks = list(Desk.objects.filter(pk__in=editable, is_active=True).order_by("name"))
    people = policy.people((policy.WORK, policy.MANAGE), editable).order_by("username")
    return render(request, "improvement/register/form.html", {
        "initiative": row, "values": values, "errors": errors, "desks": desks, "people": people,
        "services": BusinessService.objects.order_by("name"),
        "categories": Category.objects.filter(desk_id__in=editable, is_active=True).select_related("desk"),
        "figures": TRACKED_FIGURES.values(),
        "fixed": row is not None and row.status not in services.BEFORE_WORK,
        "baseline_shown": show(row.tracked.unit, row.baseline_value) if row else "",
        "other_errors": {k: v for k, v in errors.items() if k not in services.INITIATIVE_FIELDS},
        "cancel_url": reverse("improvement_register:detail", args=[row.pk]) if row else
        reverse("improvement_register:list"),
    }, status=status)
