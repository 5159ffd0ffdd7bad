"""The survey e-mail: five one-click score links and a link to the ticket on the portal, sent after commit."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from outcomedesk.experience.models import SCORE_LABELS, SCORES, Survey

log = logging.getLogger(__name__)
SUBJECT = "[{number}] How did we do? {title}"


def _absolute(path: str) -> str:
    return f"{settings.OUTCOMEDESK_BASE_URL}{path}"


def context_for(survey: Survey) -> dict[str, Any]:
    """What the e-mail shows: absolute links, as the ticket e-mails build theirs."""
    ticket = survey.ticket
    return {
        "survey": survey,
        "ticket": ticket,
        "requester": ticket.requester,
        "score_links": [
            {"score": n, "label": SCORE_LABELS[n], "url": _absolute(reverse("portal:survey_score",
                                                                            args=[survey.token, n]))}
            for n in SCORES
        ],
        "survey_url": _absolute(reverse("portal:survey", args=[survey.token])),
        "ticket_url": _absolute(reverse("portal:ticket", args=[ticket.number])),
    }


def send(survey_id: int) -> int:
    """E-mail one survey to its requester; 0 when it is answered already or nobody can receive it."""
    survey = Survey.objects.select_related("ticket__requester", "ticket__desk").filter(pk=survey_id).first()
    if survey is None or survey.responded_at is not None:
        return 0
    requester = survey.ticket.requester
    if not requester.email or not requester.is_active:
        return 0
    context = context_for(survey)
    message = EmailMultiAlternatives(
        SUBJECT.format(number=survey.ticket.number, title=survey.ticket.title),
        render_to_string("experience/email/survey.txt", context),
        to=[requester.email],
    )
    message.attach_alternative(render_to_string("experience/email/survey.html", context), "text/html")
    return message.send()


def send_safely(survey_id: int) -> int:
    """A failed e-mail never fails the change that caused it."""
    try:
        return send(survey_id)
    except Exception:
        log.exception("survey e-mail failed: survey %s", survey_id)
        return 0
