"""Maturity pages under /insights/maturity/: the overview, a practice's history and the questionnaire.

For service managers, admins and desk managers (see improvement.queries); `?desk=<slug>` shows one desk's
assessments instead of the whole organisation's.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods

from outcomedesk.accounts.models import Desk, User
from outcomedesk.core.charts import Series, line_chart, radar_chart
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.improvement import queries, services
from outcomedesk.improvement.models import Assessment
from outcomedesk.improvement.questionnaire import LEVEL_NAMES, Practice, practice_of

View = Callable[..., HttpResponseBase]


def maturity_required(view: View) -> View:
    """Logged in, and a service manager, an admin or a desk manager."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not queries.can_see_maturity(request.user):
            raise PermissionDenied("maturity is for service managers, admins and desk managers")
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _scope(request: HttpRequest) -> Desk | None:
    slug = (request.GET.get("desk") or "").strip()
    if not slug:
        return None
    found = queries.visible_desk(request.user, slug)
    if found is None:
        raise Http404(f"no desk {slug}")
    return found


def _practice(key: str) -> Practice:
    found = practice_of(key)
    if found is None:
        raise Http404(f"no practice {key}")
    return found


def _with_scope(url: str, desk: Desk | None) -> str:
    return f"{url}?{urlencode({'desk': desk.slug})}" if desk else url


def _change(change: Decimal | None) -> str:
    """"+0.40", "-0.20" or "0.00" since the assessment before; empty for a first one."""
    if change is None:
        return ""
    return f"{change:+.2f}" if change else "0.00"


def _scope_context(request: HttpRequest, scope: Desk | None) -> dict[str, Any]:
    return {
        "scope": scope,
        "scope_name": scope.name if scope else "the whole organisation",
        "scopes": list(queries.visible_desks(request.user).filter(is_active=True).order_by("name")),
        "may_assess": queries.may_assess(request.user, scope.pk if scope else None),
    }


# --- the overview ------------------------------------------------------------------------------------------

@maturity_required
@require_GET
def maturity(request: HttpRequest) -> HttpResponse:
    """The latest score of each practice on a radar, the assessment before it dashed, and a table of both."""
    scope = _scope(request)
    summaries = queries.practice_summaries(scope)
    rows = [{
        "practice": summary.practice, "last": summary.latest, "level_label": summary.level_label,
        "change": _change(summary.change) if summary.latest else "",
        "assess_url": _with_scope(reverse("improvement:assess", args=[summary.practice.key]), scope),
        "history_url": _with_scope(reverse("improvement:history", args=[summary.practice.key]), scope),
    } for summary in summaries]
    chart = SafeString("")
    if any(summary.latest for summary in summaries):
        latest = [float(s.latest.score) if s.latest else None for s in summaries]
        previous = [float(s.previous.score) if s.previous else None for s in summaries]
        series = [Series("Latest", latest)]
        if any(value is not None for value in previous):
            series.append(Series("Previous", previous, dashed=True))
        chart = radar_chart([s.practice.chart_label for s in summaries], series, max_value=5, size=400,
                            title=f"Maturity of {_scope_name(scope)} by practice")
    return render(request, "improvement/maturity.html", {
        **_scope_context(request, scope), "rows": rows, "chart": chart, "levels": LEVEL_NAMES.items(),
    })


def _scope_name(scope: Desk | None) -> str:
    return scope.name if scope else "the organisation"


# --- a practice's history ----------------------------------------------------------------------------------

@maturity_required
@require_GET
def history(request: HttpRequest, practice: str) -> HttpResponse:
    """The scores of a practice over time, and the answers of each assessment, newest first."""
    found = _practice(practice)
    scope = _scope(request)
    rows = list(queries.history(found.key, scope))
    chart = SafeString("")
    if rows:
        chart = line_chart(
            [Series(found.label, [float(row.score) for row in rows])],
            x_labels=[f"{timezone.localtime(row.assessed_at):%Y-%m-%d}" for row in rows],
            title=f"{found.label} maturity of {_scope_name(scope)} over time",
            hrefs=[f"#assessment-{row.pk}" for row in rows],
        )
    entries = []
    for index, row in enumerate(rows):
        before = rows[index - 1] if index else None
        entries.append({
            "assessment": row, "level_label": queries.level_label(row.score),
            "change": _change(row.score - before.score if before else None),
            "answers": _answers(found, row),
        })
    entries.reverse()
    return render(request, "improvement/history.html", {
        **_scope_context(request, scope), "practice": found, "entries": entries, "chart": chart,
        "assess_url": _with_scope(reverse("improvement:assess", args=[found.key]), scope),
        "maturity_url": _with_scope(reverse("improvement:maturity"), scope),
    })


def _answers(practice: Practice, row: Assessment) -> list[dict[str, Any]]:
    """Each answer with its question and level description; answers to retired questions by their id."""
    known = {q.id: q for q in practice.questions}
    answers = []
    for question_id, level in row.answers.items():
        question = known.get(question_id)
        answers.append({
            "id": question_id, "text": question.text if question else question_id, "level": level,
            "name": LEVEL_NAMES.get(level, ""),
            "description": question.describe(level) if question and level in LEVEL_NAMES else "",
        })
    return answers


# --- the questionnaire -------------------------------------------------------------------------------------

@maturity_required
@require_http_methods(["GET", "POST"])
def assess(request: HttpRequest, practice: str) -> HttpResponse:
    """One radio group per question; errors beside their question and the answers given kept."""
    found = _practice(practice)
    user = _user(request)
    if request.method == "POST":
        data = request.POST
        answers = {qid: data.get(qid, "") for qid in found.question_ids}
        desk = (data.get("desk") or "").strip()
        notes = data.get("notes", "")
        try:
            row = services.record_assessment(user, found.key, answers, desk=desk or None, notes=notes)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except InvalidInput as exc:
            return _render_form(request, found, chosen_desk=desk, answers=answers, notes=notes, errors=exc.errors,
                                status=400)
        messages.success(request, f"Recorded the assessment of {found.label}: {row.score} "
                                  f"({queries.level_label(row.score)}).")
        return redirect(_with_scope(reverse("improvement:maturity"), row.desk))
    scope = _scope(request)
    if not queries.may_assess(user, scope.pk if scope else None):
        # A desk manager opening the organisation's questionnaire gets their first desk's.
        scope = queries.assessable_desks(user).order_by("name").first()
        if scope is None:
            raise PermissionDenied("you may not assess this scope")
    return _render_form(request, found, chosen_desk=scope.slug if scope else "", answers={}, notes="", errors={})


def _render_form(request: HttpRequest, practice: Practice, *, chosen_desk: str, answers: dict[str, str], notes: str,
                 errors: dict[str, str], status: int = 200) -> HttpResponse:
    user = _user(request)
    desks = list(queries.assessable_desks(user).order_by("name"))
    scope = next((d for d in desks if d.slug == chosen_desk), None)
    latest = queries.latest_of(practice.key, scope)
    previous = latest.answers if latest else {}
    questions = []
    for number, question in enumerate(practice.questions, start=1):
        given = str(answers.get(question.id, ""))
        questions.append({
            "number": number, "id": question.id, "text": question.text, "error": errors.get(question.id, ""),
            "options": [
                {"level": level, "name": name, "description": question.describe(level),
                 "checked": given == str(level), "previous": previous.get(question.id) == level}
                for level, name in LEVEL_NAMES.items()
            ],
        })
    question_ids = set(practice.question_ids)
    return render(request, "improvement/assess.html", {
        "practice": practice, "questions": questions, "notes": notes, "errors": errors,
        "question_errors": [(q["id"], q["number"], q["error"]) for q in questions if q["error"]],
        "other_errors": {k: v for k, v in errors.items() if k not in question_ids and k not in ("desk", "notes")},
        "organisation_allowed": queries.may_assess_organisation(user), "desks": desks, "chosen_desk": chosen_desk,
        "previous": latest, "previous_label": queries.level_label(latest.score) if latest else "",
        "maturity_url": _with_scope(reverse("improvement:maturity"), scope),
    }, status=status)
