"""The insights dashboards under /insights/: service manager, service owner, executive; the drill-down list of
the tickets behind any number, CSV export and the printable monthly report.

Views parse the request (params.parse), ask insights.dashboard for the data, draw the charts and render.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from outcomedesk.accounts.models import Desk
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core.charts import Series, radar_chart
from outcomedesk.core.errors import InvalidInput
from outcomedesk.improvement import queries as improvement
from outcomedesk.insights import dashboard, periods, report
from outcomedesk.insights.drilldown import SETS, tickets_behind
from outcomedesk.insights.periods import zone
from outcomedesk.insights.scope import DIMENSIONS
from outcomedesk.intake.queries import mailbox_health
from outcomedesk.tickets.models import Ticket
from outcomedesk.web.insights import charts
from outcomedesk.web.insights.params import PRESETS, Ask, parse, today


def _base(request: HttpRequest, ask: Ask, page: str) -> dict[str, Any]:
    scope_desks = sorted(ask.scope.desk_ids or [])
    return {
        "ask": ask, "page": page, "presets": PRESETS, "errors": ask.errors,
        "desk_choices": _desk_choices(scope_desks),
        "previous_period": ask.period.previous(),
    }


def _desk_choices(desk_ids: list[int]) -> list[tuple[str, str]]:
    return list(Desk.objects.filter(pk__in=desk_ids).order_by("name").values_list("slug", "name"))


def _status(ask: Ask) -> int:
    return 400 if ask.errors else 200


@require_GET
@login_required
def manager(request: HttpRequest) -> HttpResponse:
    """The service manager's dashboard: every figure of the scope and period beside the previous period."""
    ask = parse(request)
    view = dashboard.service_manager(ask.scope, ask.period)
    services = [
        {"group": g, "links": {
            "ticket_volume": ask.drill("ticket_volume", service=g.key),
            "mttr": ask.drill("mttr", service=g.key), "sla": ask.drill("sla_breaches", service=g.key),
            "csat": ask.drill("csat", service=g.key), "reopen": ask.drill("reopen_rate", service=g.key),
            "cost": ask.drill("downtime_cost", service=g.key),
        }} for g in view.services
    ]
    context = _base(request, ask, "manager") | {
        "view": view, "services": services,
        "headlines": [(h, ask.drill(h.drilldown)) for h in view.headlines],
        "charts": charts.trend_charts(ask, view.trend) | {
            "services": charts.service_bars(ask, view.services),
            "priorities": charts.priority_bars(ask, view.priorities),
            "distribution": charts.resolution_histogram(view.resolution_bands),
        },
        "watermelons": _flags(ask, view.watermelons),
        "suggestions": [(s, ask.drill(**s.drilldown)) for s in view.suggestions],
        "csv": f"?{ask.query(by='service')}",
        "mailboxes": mailbox_health(request.user, desk=ask.scope.desk),
    }
    return render(request, "web/insights/manager.html", context, status=_status(ask))


def _flags(ask: Ask, flags: list[Any]) -> list[dict[str, Any]]:
    ids = {i for f in flags for r in f.reasons for i in r.ticket_ids}
    numbers = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "number")) if ids else {}
    return [{
        "flag": f,
        "reasons": [{"reason": r, "href": ask.drill(**r.drilldown),
                     "tickets": [numbers[i] for i in r.ticket_ids[:20] if i in numbers]} for r in f.reasons],
    } for f in flags]


@require_GET
@login_required
def owner(request: HttpRequest) -> HttpResponse:
    """The service owner's view of one service: its figures, trend, watermelon status and its value (what it
    cost the business this quarter, and why)."""
    ask = parse(request, default_preset="last90")
    choices = _services(request, ask)
    chosen = next((s for s in choices if s.pk == ask.scope.service), None)
    if chosen is None and choices and not ask.values.get("service"):
        owned = [s for s in choices if s.owner_id == request.user.pk]
        chosen = (owned or choices)[0]
    context = _base(request, ask, "owner") | {"services": choices, "service": chosen}
    if chosen is not None:
        ask = Ask(ask.period, ask.scope.narrowed(service=chosen.pk), {**ask.values, "service": str(chosen.pk)},
                  ask.errors, ask.executive)
        view = dashboard.service_owner(ask.scope, chosen, ask.period)
        context |= {
            "ask": ask, "view": view,
            "headlines": [(h, ask.drill(h.drilldown)) for h in view.headlines],
            "charts": charts.trend_charts(ask, view.trend),
            "watermelons": _flags(ask, [view.watermelon] if view.watermelon else []),
            "quarter_cost": ask.drill("downtime_cost", period=view.value.period),
            "quarter_number": (view.value.period.start.astimezone(zone()).month - 1) // 3 + 1,
        }
    return render(request, "web/insights/owner.html", context, status=_status(ask))


def _services(request: HttpRequest, ask: Ask) -> list[BusinessService]:
    desks = sorted(ask.scope.desk_ids or [])
    return list(BusinessService.objects.filter(Q(desk_id__in=desks) | Q(owner_id=request.user.pk), is_active=True)
                .select_related("desk").order_by("name"))


@require_GET
@login_required
def executive(request: HttpRequest) -> HttpResponse:
    """Every visible desk side by side, business outcomes per service, watermelons and maturity."""
    ask = parse(request, default_preset="quarter")
    view = dashboard.executive(ask.scope, ask.period)
    maturity = _maturity_radar() if improvement.can_see_maturity(request.user) or ask.executive else None
    context = _base(request, ask, "executive") | {
        "view": view,
        "headlines": [(h, ask.drill(h.drilldown)) for h in view.headlines],
        "desks": [{"group": g, "href": ask.drill("ticket_volume", desk=g.key)} for g in view.desks],
        "charts": charts.trend_charts(ask, view.trend) | {
            "desks": charts.desk_bars(ask, view.desks),
            "costs": charts.cost_bars(view.outcomes, "Downtime cost by service"),
        },
        "outcomes": [{"row": r, "href": ask.drill("downtime_cost", service=r["service"].pk)} for r in view.outcomes],
        "watermelons": _flags(ask, view.watermelons),
        "maturity": maturity,
    }
    return render(request, "web/insights/executive.html", context, status=_status(ask))


def _maturity_radar() -> charts.Chart | None:
    """The organisation's latest maturity by practice, the assessment before dashed."""
    summaries = improvement.practice_summaries(None)
    if not any(s.latest for s in summaries):
        return None
    series = [Series("Latest", [float(s.latest.score) if s.latest else None for s in summaries])]
    if any(s.previous for s in summaries):
        series.append(Series("Previous", [float(s.previous.score) if s.previous else None for s in summaries],
                             dashed=True))
    svg = radar_chart([s.practice.chart_label for s in summaries], series, max_value=5, size=360,
                      title="Maturity of the organisation by practice")
    return charts.Chart("Maturity", svg, "latest self-assessment per practice (1-5); dashed: the one before")


@require_GET
@login_required
def tickets(request: HttpRequest) -> HttpResponse:
    """The tickets behind a figure (`figure=` one of drilldown.SETS), in the period and scope."""
    ask = parse(request)
    figure = (request.GET.get("figure") or "ticket_volume").strip()
    title = (request.GET.get("title") or "").strip()
    try:
        chosen, qs = tickets_behind(figure, ask.scope, ask.period, title)
    except InvalidInput as exc:
        ask.errors.update(exc.errors)
        chosen, qs = tickets_behind("ticket_volume", ask.scope, ask.period)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    context = _base(request, ask, "tickets") | {
        "figure": figure, "set": chosen, "page_obj": page, "sets": SETS,
        "page_query": ask.query(figure=figure, title=title or None), "title": title,
    }
    return render(request, "web/insights/tickets.html", context, status=_status(ask))


@require_GET
@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    """The figures of the period and the previous period as CSV, optionally `by` one dimension."""
    ask = parse(request)
    by = (request.GET.get("by") or "").strip() or None
    if by is not None and by not in DIMENSIONS:
        ask.errors["by"] = f"must be one of {', '.join(DIMENSIONS)}"
    if ask.errors:
        return HttpResponse("; ".join(f"{k}: {v}" for k, v in ask.errors.items()), status=400,
                            content_type="text/plain; charset=utf-8")
    body = report.to_csv(report.build(ask.scope, ask.period, by))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"outcomedesk-figures-{ask.first_day}-{ask.last_day}{'-by-' + by if by else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@login_required
def monthly(request: HttpRequest) -> HttpResponse:
    """The printable monthly report: `month=YYYY-MM`, by default the last full month."""
    ask = parse(request)
    text = (request.GET.get("month") or "").strip()
    last_month = today().replace(day=1) - timedelta(days=1)
    try:
        period = periods.between(text or f"{last_month:%Y-%m}", "")
        if not period.is_month():
            raise InvalidInput({"month": "give a month as YYYY-MM"})
    except InvalidInput as exc:
        ask.errors["month"] = "; ".join(exc.errors.values()) if "month" not in exc.errors else exc.errors["month"]
        period = periods.month(last_month.year, last_month.month)
    ask = Ask(period, ask.scope, ask.values, ask.errors, ask.executive)
    view = dashboard.service_manager(ask.scope, period)
    context = _base(request, ask, "monthly") | {
        "view": view, "month": period.start.astimezone(zone()).strftime("%B %Y"),
        "month_value": period.start.astimezone(zone()).strftime("%Y-%m"),
        "headlines": [(h, ask.drill(h.drilldown)) for h in view.headlines],
        "charts": charts.trend_charts(ask, view.trend) | {
            "services": charts.service_bars(ask, view.services),
            "distribution": charts.resolution_histogram(view.resolution_bands),
        },
        "watermelons": _flags(ask, view.watermelons),
        "suggestions": [(s, ask.drill(**s.drilldown)) for s in view.suggestions],
        "table": [(name, report.human(name, now), report.human(name, before))
                  for name, now, before in _table_rows(view.figures, view.previous)],
    }
    return render(request, "web/insights/monthly.html", context, status=_status(ask))


def _table_rows(now: dict[str, Any], before: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    flat_now, flat_before = dict(report.flatten(now)), dict(report.flatten(before))
    return [(name, flat_now.get(name), flat_before.get(name)) for name in report.TABLE_FIGURES]
