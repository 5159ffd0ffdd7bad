"""The survey e-mail: five one-click score links and a link to the ticket on the portal, queued in the outbox
right after the "resolved" e-mail and sent only after it (`after`)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats

from outcomedesk.experience.models import SCORE_LABELS, SCORES, Survey
from outcomedesk.mail import composing
from outcomedesk.mail import services as mail
from outcomedesk.mail.models import Kind, OutgoingMail

log = logging.getLogger(__name__)


def _absolute(path: str) -> str:
    return f"{settings.OUTCOMEDESK_BASE_URL}{path}"


def context_for(survey: Survey) -> dict[str, Any]:
    """What the e-mail shows (composing.SAMPLE lists the same names): plain values, absolute links."""
    ticket = survey.ticket
    requester = ticket.requester
    links = [{"score": n, "label": SCORE_LABELS[n],
              "url": _absolute(reverse("portal:survey_score", args=[survey.token, n]))} for n in SCORES]
    return {
        "ticket": {"number": ticket.number, "title": ticket.title, "state": ticket.get_state_display(),
                   "priority": ticket.get_priority_display(), "type": ticket.get_type_display(),
                   "desk": ticket.desk.name, "url": _absolute(reverse("portal:ticket", args=[ticket.number])),
                   "resolution": ticket.resolution_notes},
        "recipient": {"name": str(requester), "email": requester.email,
                      "is_staff": False},
        "survey": {"url": _absolute(reverse("portal:survey", args=[survey.token])), "links": links,
                   "closes": formats.date_format(survey.closes_at, "j F Y")},
        "site": {"url": settings.OUTCOMEDESK_BASE_URL},
    }


def queue(survey_id: int, after: list[OutgoingMail] | None = None) -> OutgoingMail | None:
    """Queue the survey's e-mail to its requester (once per survey), after the requester's e-mail in `after`
    (the "resolved" one); None when it is answered already or its requester receives no surveys."""
    survey = Survey.objects.select_related("ticket__requester", "ticket__desk").filter(pk=survey_id).first()
    if survey is None or survey.responded_at is not None:
        return None
    ticket, requester = survey.ticket, survey.ticket.requester
    if requester.pk not in mail.receives([requester], Kind.SURVEY):
        return None
    values = context_for(survey)
    words = composing.compose(Kind.SURVEY, ticket.desk_id, values)
    # The built-in words come with their HTML twin (the buttons); a desk's own words go as they were written.
    html = "" if words.custom else render_to_string("experience/email/survey.html", values)
    before = next((row.key for row in after or [] if row.recipient_id == requester.pk), "")
    [row] = mail.queue([mail.Draft(key=f"survey:{survey.pk}", kind=Kind.SURVEY, recipient=requester,
                                   subject=words.subject, text=words.text, html=html, desk_id=ticket.desk_id,
                                   ticket_number=ticket.number, sender=ticket.desk.email_from,
                                   after_key=before)])
    return row


def send_safely(survey_id: int, after: list[OutgoingMail] | None = None) -> int:
    """Queue and send; a failed e-mail never fails the change that caused it (the outbox tries again)."""
    try:
        row = queue(survey_id, after)
        return mail.deliver([row.pk]) if row is not None else 0
    except Exception:
        log.exception("survey e-mail failed: survey %s", survey_id)
        return 0
