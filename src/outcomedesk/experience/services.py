"""The one write path of surveys: asking when a ticket is resolved, and recording the requester's answer.

The e-mail link, the portal and the API all answer through `respond` / `respond_as`, which validate, write the
survey and its audit event on the ticket in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_int, is_digits
from outcomedesk.experience.models import (
    COMMENT_MAX,
    SCORE_LABELS,
    SCORES,
    ResponseVia,
    Survey,
    SurveyChannel,
)
from outcomedesk.mail import services as mail
from outcomedesk.mail.models import Kind as MailKind
from outcomedesk.mail.models import OutgoingMail
from outcomedesk.tickets import notifications
from outcomedesk.tickets.models import State, Ticket

AUDIT_CHANNEL = {ResponseVia.EMAIL: Channel.EMAIL, ResponseVia.PORTAL: Channel.PORTAL, ResponseVia.API: Channel.API}


# --- asking ------------------------------------------------------------------------------------------------

def on_ticket_changed(sender: Any, ticket: Ticket, now: datetime, **kwargs: Any) -> None:
    """`ticket_changed` receiver: ask about a resolution the moment it happens, in the resolving transaction.

    Replays of history (imports, the demo) run muted: nobody is asked about a resolution of long ago.
    """
    if ticket.state != State.RESOLVED or ticket.resolved_at != now or notifications.is_muted():
        return
    send_survey(ticket, now)


def send_survey(ticket: Ticket, now: datetime) -> Survey | None:
    """Create the survey of the ticket's current resolution and e-mail it after commit.

    None when the desk sends no surveys or the requester is inactive. A requester without an e-mail address (or
    who turned ticket e-mails off) finds the survey on the portal. Safe to call twice for one resolution.
    """
    if ticket.resolved_at is None or ticket.state not in (State.RESOLVED, State.CLOSED):
        raise InvalidInput({"ticket": f"{ticket.number} is not resolved"})
    requester: User = ticket.requester
    if not ticket.desk.send_surveys or not requester.is_active:
        return None
    existing = Survey.objects.filter(ticket=ticket, resolution_at=ticket.resolved_at).first()
    if existing is not None:
        return existing
    by_email = requester.pk in mail.receives([requester], MailKind.SURVEY) and not notifications.is_muted()
    try:
        with transaction.atomic():
            survey = Survey.objects.create(
                ticket=ticket, sent_at=now, resolution_at=ticket.resolved_at,
                channel=SurveyChannel.EMAIL if by_email else SurveyChannel.PORTAL,
            )
    except IntegrityError:
        # Another transaction asked about the same resolution first.
        return Survey.objects.get(ticket=ticket, resolution_at=ticket.resolved_at)
    # By e-mail, it is sent right after the "resolved" e-mail, by the same task (`after_notifications`): never
    # before it.
    return survey


def after_notifications(event: str, ticket_id: int, rows: list[Any] | None = None, **_: Any) -> None:
    """Once the "resolved" e-mails of a ticket are queued (and sent), queue its survey's e-mail after the
    requester's one (when it is to go by e-mail)."""
    if event != "resolved":
        return
    from outcomedesk.experience import notifications as survey_mail

    # Every survey of the ticket not e-mailed yet: the one of this resolution, and one whose "resolved" task
    # had not run before this one (a resolution, a reopening and a resolution again within moments).
    pending = list(Survey.objects.filter(ticket_id=ticket_id, channel=SurveyChannel.EMAIL, responded_at__isnull=True)
                   .order_by("pk").values_list("pk", flat=True))
    queued = set(OutgoingMail.objects.filter(key__in=[f"survey:{pk}" for pk in pending]).values_list("key", flat=True))
    for survey_id in pending:
        if f"survey:{survey_id}" in queued:
            continue
        survey_mail.send_safely(survey_id, rows)


# --- answering ---------------------------------------------------------------------------------------------

def check_score(raw: Any) -> int:
    """The score as a whole number from 1 to 5, or InvalidInput naming `score`."""
    text = str(raw if raw is not None else "").strip()
    choices = f"choose 1 ({SCORE_LABELS[1].lower()}) to 5 ({SCORE_LABELS[5].lower()})"
    if not text:
        raise InvalidInput({"score": f"is required: {choices}"})
    score = as_int(text) if is_digits(text) else None
    if score is None or score not in SCORES:
        raise InvalidInput({"score": f"{choices}, not {text[:20]!r}"})
    return score


def closed_message(survey: Survey) -> str:
    closed = timezone.localtime(survey.closes_at)
    done = "changed" if survey.responded_at else "answered"
    return (f"This survey closed on {closed.day} {closed:%B %Y}, 30 days after it was sent; "
            f"it can no longer be {done}.")


def _check_comment(errors: dict[str, str], comment: str | None) -> str | None:
    if comment is None:
        return None
    text = str(comment).replace("\r\n", "\n").strip()
    if len(text) > COMMENT_MAX:
        errors["comment"] = f"is {len(text):,} characters long; at most {COMMENT_MAX:,}"
    return text


def _record(survey: Survey, score: Any, comment: str | None, via: str, actor_id: int | None) -> Survey:
    """Validate and store one answer (or a change of it) of a locked survey, with its audit event."""
    now = clock.now()
    if not survey.is_open(now):
        raise InvalidInput({"survey": closed_message(survey)})
    errors: dict[str, str] = {}
    if via not in ResponseVia.values:
        errors["via"] = f"must be one of {', '.join(ResponseVia.values)}, not {via!r}"
    try:
        value = check_score(score)
    except InvalidInput as exc:
        errors.update(exc.errors)
    text = _check_comment(errors, comment)
    if errors:
        raise InvalidInput(errors)

    audit = AuditBatch("ticket", survey.ticket_id, actor_id, AUDIT_CHANNEL[ResponseVia(via)], now)
    if value != survey.score:
        audit.add("survey", "score", survey.score, value)
        survey.score = value
    if text is not None and text != survey.comment:
        audit.add("survey", "comment", survey.comment, text)
        survey.comment = text
    if survey.responded_at is None:
        # The first answer is the response the figures count; later changes are in the audit trail.
        survey.responded_at = now
        survey.responded_via = via
    survey.save(update_fields=["score", "comment", "responded_at", "responded_via"])
    audit.save()
    return survey


def respond(token: str, score: Any, comment: str | None = None, *, via: str = ResponseVia.EMAIL) -> Survey:
    """Answer (or change the answer of) the survey with this token; the token is the credential.

    `comment` None leaves a comment given earlier as it is; "" removes it.
    """
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(of=("self",)).select_related("ticket")
            .filter(token=str(token)).first()
        )
        if survey is None:
            raise NotFound("no survey with this link; it may have been mistyped", field="token")
        return _record(survey, score, comment, via, survey.ticket.requester_id)


def respond_as(user: User, ticket: Ticket, score: Any, comment: str | None = None) -> Survey:
    """The requester rates their resolved or closed ticket on the portal: its latest survey."""
    with transaction.atomic():
        if ticket.requester_id != user.pk:
            if policy.can(user, policy.VIEW, ticket):
                raise NotAllowed(f"only the requester of {ticket.number} rates it")
            raise NotFound(f"no ticket {ticket.number}")
        survey = (
            Survey.objects.select_for_update(of=("self",)).filter(ticket=ticket)
            .order_by("-sent_at", "-id").first()
        )
        if survey is None:
            raise InvalidInput({"survey": f"{ticket.number} has no satisfaction survey"})
        current = Ticket.objects.filter(pk=ticket.pk).values_list("state", flat=True).first()
        if current not in (State.RESOLVED, State.CLOSED):
            raise InvalidInput({"survey": f"{ticket.number} is open again; rate it once it is resolved"})
        return _record(survey, score, comment, ResponseVia.PORTAL, user.pk)
