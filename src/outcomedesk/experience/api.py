"""Survey endpoints, mounted under /api/v1/surveys: thin doors onto experience.services and experience.queries.

The response endpoint needs no login: the survey's token is the credential (as in the e-mail link). The list
is for desk staff and follows the ticket's visibility: a confidential desk's surveys are not found elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from outcomedesk.accounts import policy
from outcomedesk.core.errors import NotAllowed, NotFound
from outcomedesk.experience import queries, services
from outcomedesk.experience.models import ResponseVia, Survey
from outcomedesk.tickets.queries import get_visible_ticket

router = Router(tags=["surveys"])


class ResponseIn(Schema):
    score: int | str = Field(description="1 (very dissatisfied) to 5 (very satisfied)")
    comment: str | None = Field(None, description="Plain text, at most 2,000 characters; omitted keeps the "
                                                   "comment given earlier, empty removes it")


class SurveyOut(Schema):
    id: int
    ticket: str = Field(description="The ticket's number")
    sent_at: datetime
    resolution_at: datetime = Field(description="The resolution the survey asks about")
    channel: str = Field(description="email, or portal when the requester has no e-mail")
    closes_at: datetime = Field(description="Answers are accepted and may be changed until then")
    score: int | None
    comment: str
    responded_at: datetime | None = Field(description="When first answered")
    responded_via: str = Field(description="email (the e-mail's link), portal or api; empty until answered")

    @staticmethod
    def resolve_ticket(obj: Survey) -> str:
        return obj.ticket.number


def _staff(request: HttpRequest) -> None:
    if not policy.can(request.user, policy.VIEW, policy.Capability.SURVEYS):
        raise NotAllowed("survey answers are for desk staff")


@router.post("/{token}/response", response=SurveyOut, auth=None,
             summary="Answer a survey (or change the answer) with the token of its link; no login needed")
def respond(request: HttpRequest, token: str, payload: ResponseIn) -> Survey:
    return services.respond(token, payload.score, payload.comment, via=ResponseVia.API)


@router.get("/", response=list[SurveyOut], summary="The surveys of one ticket, newest first (desk staff)")
def list_surveys(request: HttpRequest, ticket: str) -> Any:
    _staff(request)
    found = get_visible_ticket(request.user, ticket, related=("desk",))
    if found is None:
        raise NotFound(f"no ticket {ticket}", field="ticket")
    return queries.surveys_for(found).select_related("ticket")
