"""Reads about surveys that other layers (the portal, the API) use. Figures are computed in insights."""

from __future__ import annotations

from django.db.models import QuerySet

from outcomedesk.experience.models import Survey
from outcomedesk.tickets.models import Ticket


def surveys_for(ticket: Ticket) -> QuerySet[Survey]:
    """The surveys of one ticket, newest first (one per resolution)."""
    return Survey.objects.filter(ticket_id=ticket.pk).order_by("-sent_at", "-id")


def survey_for_token(token: str) -> Survey | None:
    """The survey a link's token opens, with its ticket; None for an unknown token."""
    return Survey.objects.select_related("ticket", "ticket__desk").filter(token=str(token)).first()
