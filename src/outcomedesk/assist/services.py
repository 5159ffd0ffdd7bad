"""The one write path of the AI: training triage models, setting policies, triaging a ticket after it is
saved, and recording what agents did with each suggestion.

The AI acts as a user (`assistant()`): an account that cannot log in, whose rights the access policy declares
(it reads and works every desk's tickets, and manages nothing), and changes tickets through
`tickets.services.update_ticket` like anybody else, so that the audit trail, the SLA engine and the version
guard see it as they see a person.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.assist import similar, store
from outcomedesk.assist.evaluation import figures
from outcomedesk.assist.models import (
    Feature,
    Outcome,
    Policy,
    PolicyMode,
    Suggestion,
    SuggestionKind,
    TrainedModel,
    TriageField,
)
from outcomedesk.assist.switches import is_enabled
from outcomedesk.assist.triage import Prediction, TriageError, TriageModel, join_text
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from outcomedesk.core.models import AuditEvent, Channel
from outcomedesk.core.parsing import as_int
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import DONE_STATES, Level, State, Ticket

log = logging.getLogger(__name__)

MIN_ROWS = 20  # fewer resolved tickets with a value than this: nothing worth learning yet
DEFAULT_POLICY: tuple[str, float] = (PolicyMode.SUGGEST.value, 0.9)
# Ticket attribute holding each field's value (a primary key, or a level for impact and urgency).
ATTRIBUTE = {
    TriageField.GROUP: "group_id",
    TriageField.CATEGORY: "category_id",
    TriageField.SERVICE: "service_id",
    TriageField.IMPACT: "impact",
    TriageField.URGENCY: "urgency",
}
_applying: ContextVar[bool] = ContextVar("outcomedesk_assist_applying", default=False)


# --- the AI's account ---------------------------------------------------------------------------------------

def assistant() -> User:
    """The account the AI acts as: no password, not active (it never logs in, never appears among agents)."""
    username = settings.OUTCOMEDESK_ASSIST_USERNAME
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, display_name="Outcomedesk AI", is_active=False)
        user.set_unusable_password()
        user.save()
    return user


# --- text the models read -----------------------------------------------------------------------------------

def ticket_text(title: str, description: str, department: str = "") -> str:
    """What the triage model reads of a ticket: title, description and the requester's organisation unit."""
    parts: list[Any] = [title, description]
    if department.strip():
        parts.append(f"requester department {department}")
    return join_text(parts)


def input_hash(desk_id: int, text: str) -> str:
    return hashlib.sha256(f"{desk_id}\x1f{text}".encode()).hexdigest()


# --- training ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainingSkipped:
    field: str
    reason: str


def _training_rows(desk: Desk, field: str, limit: int) -> tuple[list[str], list[str], int]:
    """Texts and labels of the desk's newest resolved tickets that have a value, and how many carry a correction."""
    attribute = ATTRIBUTE[TriageField(field)]
    rows = (
        Ticket.objects.filter(desk=desk, state__in=DONE_STATES)
        .exclude(state=State.CANCELLED)
        .exclude(**{f"{attribute}__isnull": True})
        .order_by("-opened_at", "-id")
        .values_list("pk", "title", "description", "requester__department", attribute)[:limit]
    )
    texts, labels, ids = [], [], []
    for pk, title, description, department, value in rows:
        texts.append(ticket_text(title, description, department or ""))
        labels.append(str(value))
        ids.append(pk)
    corrected = Suggestion.objects.filter(ticket_id__in=ids, field=field, outcome__in=(
        Outcome.CORRECTED, Outcome.REJECTED)).values("ticket_id").distinct().count() if ids else 0
    return texts, labels, corrected


def train_field(desk: Desk, field: str, *, actor: policy.Actor = policy.SCHEDULER, limit: int | None = None,
                progress: Callable[[str], None] | None = None) -> TrainedModel | TrainingSkipped:
    """Train, measure on held-out tickets, store and activate the triage model of one field of one desk."""
    if not policy.can(actor, policy.MANAGE, desk):
        raise NotAllowed(f"only a manager of the {desk.name} desk or a service manager may train its models")
    if field not in TriageField.values:
        raise InvalidInput({"field": f"must be one of {', '.join(TriageField.values)}, not {field!r}"})
    limit = limit or settings.OUTCOMEDESK_ASSIST_TRAIN_LIMIT
    started = time.perf_counter()
    texts, labels, corrected = _training_rows(desk, field, limit)
    counts = Counter(labels)
    if len(texts) < MIN_ROWS:
        return TrainingSkipped(field, f"{len(texts)} resolved tickets with a {field}; {MIN_ROWS} needed")
    if len(counts) < 2:
        return TrainingSkipped(field, f"every resolved ticket has the same {field}: nothing to learn")
    if progress:
        progress(f"{desk.slug} {field}: {len(texts)} tickets, {len(counts)} values")
    try:
        model = TriageModel().fit(texts, labels)
    except TriageError as exc:
        return TrainingSkipped(field, str(exc))
    held = model.held_out
    measured: dict[str, Any] = {}
    if held is not None:
        measured = figures(held.predictions, held.truth)
    measured["train_seconds"] = round(time.perf_counter() - started, 2)
    measured["out_of_sample"] = "random 20 % of the training tickets, held out of the model that scored them"
    blob = store.dump(model)
    now = clock.now()
    with transaction.atomic():
        TrainedModel.objects.filter(desk=desk, field=field, is_active=True).update(is_active=False)
        row = TrainedModel.objects.create(
            desk=desk, field=field, version=model.version, trained_at=now, trained_by=policy.person(actor),
            rows=len(texts), classes=len(counts), corrections=corrected, figures=measured, blob=blob,
            size_bytes=len(blob), is_active=True,
        )
        audit = AuditBatch("assist_model", row.pk, policy.actor_id(actor), Channel.SYSTEM, now)
        audit.add("trained", field, None, f"{desk.slug} {model.version}")
        audit.save()
    return row


def train_desk(desk: Desk, *, actor: policy.Actor = policy.SCHEDULER, fields: Iterable[str] | None = None,
               limit: int | None = None,
               progress: Callable[[str], None] | None = None) -> list[TrainedModel | TrainingSkipped]:
    return [train_field(desk, f, actor=actor, limit=limit, progress=progress)
            for f in (fields or TriageField.values)]


def train_all(progress: Callable[[str], None] | None = None) -> list[TrainedModel | TrainingSkipped]:
    """Every active desk, every field: the scheduled retraining."""
    if not is_enabled(Feature.TRIAGE):
        return []
    found: list[TrainedModel | TrainingSkipped] = []
    for desk in Desk.objects.filter(is_active=True):
        found += train_desk(desk, progress=progress)
    return found


def activate_model(actor: User, model_id: int) -> TrainedModel:
    """Make an earlier model the active one again (a rollback)."""
    row = TrainedModel.objects.select_related("desk").filter(pk=model_id).first()
    if row is None or not policy.can(actor, policy.VIEW, row):
        raise NotFound(f"no trained model {model_id}", field="model")
    if not policy.can(actor, policy.MANAGE, row):
        raise NotAllowed(f"only a manager of the {row.desk.name} desk or a service manager may change its models")
    now = clock.now()
    with transaction.atomic():
        TrainedModel.objects.filter(desk_id=row.desk_id, field=row.field, is_active=True).update(is_active=False)
        TrainedModel.objects.filter(pk=row.pk).update(is_active=True)
        audit = AuditBatch("assist_model", row.pk, actor.pk, Channel.WEB, now)
        audit.add("activated", row.field, None, row.version)
        audit.save()
    row.is_active = True
    return row


# --- policy -------------------------------------------------------------------------------------------------

def set_policy(actor: User, desk: Desk, field: str, mode: str, threshold: Any = None,
               channel: str = Channel.WEB) -> Policy:
    """What the AI may do with one field of one desk; desk managers and service managers set it."""
    if not policy.can(actor, policy.MANAGE, desk):
        raise NotAllowed(f"only a manager of the {desk.name} desk or a service manager may set its AI policy")
    errors: dict[str, str] = {}
    if field not in TriageField.values:
        errors["field"] = f"must be one of {', '.join(TriageField.values)}, not {field!r}"
    if mode not in PolicyMode.values:
        errors["mode"] = f"must be one of {', '.join(PolicyMode.values)}, not {mode!r}"
    value = DEFAULT_POLICY[1]
    if threshold not in (None, ""):
        try:
            value = float(threshold)
        except (TypeError, ValueError):
            errors["threshold"] = f"must be a number from 0.5 to 1, not {threshold!r}"
        else:
            if not 0.5 <= value <= 1.0:
                errors["threshold"] = f"must be from 0.5 to 1, not {value}"
    if errors:
        raise InvalidInput(errors)
    now = clock.now()
    with transaction.atomic():
        row, _ = Policy.objects.update_or_create(
            desk=desk, field=field,
            defaults={"mode": mode, "threshold": value, "updated_by": actor, "updated_at": now},
        )
        audit = AuditBatch("assist_policy", row.pk, actor.pk, channel, now)
        audit.add("changed", field, None, f"{desk.slug}: {mode} at {value}")
        audit.save()
    return row


def policies_for(desk_id: int) -> dict[str, tuple[str, float]]:
    found: dict[str, tuple[str, float]] = {f: DEFAULT_POLICY for f in TriageField.values}
    for row in Policy.objects.filter(desk_id=desk_id):
        found[row.field] = (row.mode, row.threshold)
    return found


# --- triage -------------------------------------------------------------------------------------------------

def fields_set_by_people(ticket: Ticket, bot_id: int) -> set[str]:
    """Fields that a person gave or changed: the AI never touches them."""
    names = (
        AuditEvent.objects.filter(object_type="ticket", object_id=ticket.pk, field__in=TriageField.values)
        .exclude(actor_id__isnull=True).exclude(actor_id=bot_id)
        .values_list("field", flat=True)
    )
    found = set(names)
    # Values a person gave when opening the ticket; routing's group is the desk's rule: also left alone.
    for field in (TriageField.GROUP, TriageField.CATEGORY, TriageField.SERVICE):
        if getattr(ticket, ATTRIBUTE[field]) is not None:
            found.add(field)
    return found


def _display(field: str, value: str, desk_id: int) -> str | None:
    """The value as people read it, or None when it no longer exists on the desk (a retired group)."""
    from outcomedesk.accounts.models import AssignmentGroup
    from outcomedesk.cmdb.models import BusinessService
    from outcomedesk.tickets.models import Category

    if field in (TriageField.IMPACT, TriageField.URGENCY):
        level = as_int(value)
        return Level(level).label if level in Level.values else None
    found: object
    if field == TriageField.GROUP:
        found = AssignmentGroup.objects.filter(pk=value, desk_id=desk_id, is_active=True).first()
    elif field == TriageField.CATEGORY:
        found = Category.objects.filter(pk=value, desk_id=desk_id, is_active=True).first()
    else:
        found = BusinessService.objects.filter(pk=value).first()
    return str(found) if found is not None else None


def triage_ticket(ticket_id: int) -> list[Suggestion]:
    """Suggest, and where the policy allows apply, the fields of a saved ticket. Runs after the ticket is
    committed (a task); whatever goes wrong here leaves the ticket as it was."""
    if not is_enabled(Feature.TRIAGE):
        return []
    ticket = Ticket.objects.select_related("desk", "requester").filter(pk=ticket_id).first()
    if ticket is None or ticket.state in DONE_STATES:
        return []
    active = {m.field: m for m in TrainedModel.objects.filter(desk_id=ticket.desk_id, is_active=True)
              .defer("blob")}
    if not active:
        return []
    policy = policies_for(ticket.desk_id)
    bot = assistant()
    untouchable = fields_set_by_people(ticket, bot.pk)
    text = ticket_text(ticket.title, ticket.description, ticket.requester.department)
    digest = input_hash(ticket.desk_id, text)
    now = clock.now()
    made: list[Suggestion] = []
    apply: dict[str, Any] = {}
    for field, row in sorted(active.items()):
        mode, threshold = policy[field]
        if mode == PolicyMode.OFF or field in untouchable:
            continue
        model = store.load(row.pk)
        prediction: Prediction = model.predict([text])[0]
        current = getattr(ticket, ATTRIBUTE[TriageField(field)])
        if str(current) == prediction.label:
            continue
        display = _display(field, prediction.label, ticket.desk_id)
        if display is None:
            continue
        suggestion = Suggestion(
            ticket=ticket, kind=SuggestionKind.FIELD, field=field, value=prediction.label, display=display,
            confidence=round(prediction.confidence, 4), threshold=threshold if mode == PolicyMode.AUTO else None,
            model=row, model_name="triage", version=row.version, input_hash=digest, created_at=now,
            explanation={
                "words": model.explain(text, prediction.label),
                "was": "" if current is None else str(current),
                "alternatives": [
                    {"value": value, "display": _display(field, value, ticket.desk_id) or value}
                    for value, _ in prediction.alternatives[:2]
                ],
                "policy": {"mode": mode, "threshold": threshold},
                "model_figures": {k: row.figures.get(k) for k in ("accuracy", "macro_f1", "test_rows")},
            },
        )
        made.append(suggestion)
        if mode == PolicyMode.AUTO and prediction.confidence >= threshold:
            apply[field] = int(prediction.label)
    if not made:
        return []
    with transaction.atomic():
        Suggestion.objects.filter(ticket=ticket, kind=SuggestionKind.FIELD, outcome=Outcome.OPEN,
                                  field__in=[s.field for s in made]).update(outcome=Outcome.SUPERSEDED)
        Suggestion.objects.bulk_create(made)
    if apply:
        _apply(bot, ticket, made, apply)
    return made


def _apply(bot: User, ticket: Ticket, made: list[Suggestion], values: dict[str, Any]) -> None:
    """Apply the confident values as the AI's own change; a person's change in between wins."""
    token = _applying.set(True)
    try:
        with transaction.atomic():
            tickets.update_ticket(bot, ticket.pk, values, expected_version=ticket.version, channel=Channel.ASSIST)
            Suggestion.objects.filter(pk__in=[s.pk for s in made if s.field in values]).update(
                outcome=Outcome.APPLIED, decided_at=clock.now())
    except (Conflict, InvalidInput, NotAllowed) as exc:
        log.info("assist: %s changed before the AI could apply %s (%s); left as suggestions",
                 ticket.number, sorted(values), exc)
    finally:
        _applying.reset(token)
    for s in made:
        if s.field in values:
            s.outcome = Outcome.APPLIED


def find_duplicates(ticket_id: int) -> list[Suggestion]:
    """Open tickets of the same desk that look like the same report, kept as suggestions for its agents."""
    if not is_enabled(Feature.SIMILAR):
        return []
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None or ticket.state in DONE_STATES or ticket.duplicate_of_id:
        return []
    hits = similar.likely_duplicates(ticket)
    if not hits:
        return []
    text = similar.ticket_text(ticket)
    digest, version, now = input_hash(ticket.desk_id, text), similar.version(), clock.now()
    made = [
        Suggestion(ticket=ticket, kind=SuggestionKind.DUPLICATE, field="duplicate_of", value=hit.entry.key,
                   display=f"{hit.entry.key} {hit.entry.title}"[:200], confidence=hit.score, model_name="retriever",
                   version=version, input_hash=digest, created_at=now,
                   explanation={"words": [{"word": w} for w in hit.words], "passage": hit.passage,
                                "score": "character-gram cosine of the two tickets' text"})
        for hit in hits
    ]
    with transaction.atomic():
        Suggestion.objects.filter(ticket=ticket, kind=SuggestionKind.DUPLICATE, outcome=Outcome.OPEN).update(
            outcome=Outcome.SUPERSEDED)
        Suggestion.objects.bulk_create(made)
    return made


def triage_safely(ticket_id: int) -> int:
    """The task body: any failure is logged and leaves the ticket as it was."""
    made = 0
    for step, name in ((triage_ticket, "triage"), (find_duplicates, "duplicate search")):
        try:
            made += len(step(ticket_id))
        except Exception:  # the AI must never break the ticket flow
            log.exception("assist: %s of ticket %s failed; the ticket is unchanged", name, ticket_id)
    return made


def on_ticket_opened(sender: Any, ticket: Ticket, now: Any, **_: Any) -> None:
    """Triage a new ticket once it is committed; the ticket flow never waits on the model. Replays of history
    (imports, the demo: notifications muted) are not triaged."""
    from outcomedesk.assist.tasks import triage_new_ticket
    from outcomedesk.tickets import notifications

    if notifications.is_muted():
        return

    transaction.on_commit(lambda: triage_new_ticket.delay(ticket.pk))


# --- what agents do with suggestions ------------------------------------------------------------------------

def decide(actor: User, suggestion_id: int, accept: bool, *, channel: str = Channel.WEB) -> Suggestion:
    """An agent accepts (the value is applied as their change; a duplicate is merged into the ticket it
    repeats) or rejects an open suggestion."""
    found = Suggestion.objects.select_related("ticket", "ticket__desk").filter(pk=suggestion_id).first()
    if found is None or not policy.can(actor, policy.VIEW, found):
        raise NotFound(f"no suggestion {suggestion_id}", field="suggestion")
    if not policy.can(actor, policy.WORK, found):
        raise NotAllowed(f"only agents of the {found.ticket.desk.name} desk decide its AI suggestions")
    now = clock.now()
    with transaction.atomic():
        # Lock the ticket, then the suggestion (the order every ticket change takes: the change locks the ticket
        # and then records corrections on its suggestions), and look at the outcome again under the lock: of
        # two agents accepting at once, the second finds it decided.
        tickets.lock_for_change(found.ticket_id)
        suggestion = Suggestion.objects.select_for_update().select_related("ticket", "ticket__desk").get(pk=found.pk)
        if suggestion.outcome != Outcome.OPEN:
            raise Conflict(f"was already {suggestion.get_outcome_display().lower()}", field="suggestion")
        if accept and suggestion.kind == SuggestionKind.FIELD:
            value: Any = int(suggestion.value)
            token = _applying.set(True)
            try:
                tickets.update_ticket(actor, suggestion.ticket_id, {suggestion.field: value}, channel=channel)
            finally:
                _applying.reset(token)
        elif accept:  # the new ticket joins the one reported first
            tickets.merge_tickets(actor, suggestion.ticket_id, suggestion.value, channel=channel)
        suggestion.outcome = Outcome.ACCEPTED if accept else Outcome.REJECTED
        suggestion.decided_at, suggestion.decided_by = now, actor
        suggestion.save(update_fields=["outcome", "decided_at", "decided_by"])
    return suggestion


def on_ticket_changed(sender: Any, ticket: Ticket, now: Any, created: bool = False, **_: Any) -> None:
    """A person changed a field the AI had applied or suggested: record the correction (it feeds training and
    the live precision figures). A ticket just opened has no suggestions yet: the triage comes after commit."""
    if _applying.get() or created:
        return
    pending = list(Suggestion.objects.filter(ticket_id=ticket.pk, kind=SuggestionKind.FIELD,
                                             outcome__in=(Outcome.APPLIED, Outcome.OPEN)))
    for suggestion in pending:
        current = getattr(ticket, ATTRIBUTE[TriageField(suggestion.field)])
        current_text = "" if current is None else str(current)
        if suggestion.outcome == Outcome.APPLIED and current_text != suggestion.value:
            suggestion.outcome, suggestion.final_value = Outcome.CORRECTED, current_text
        elif suggestion.outcome == Outcome.OPEN and current_text == suggestion.value:
            suggestion.outcome = Outcome.ACCEPTED
        elif suggestion.outcome == Outcome.OPEN and current_text != suggestion.explanation.get("was", ""):
            # The agent chose another value than the one the AI saw and the one it proposed.
            suggestion.outcome, suggestion.final_value = Outcome.REJECTED, current_text
        else:
            continue
        suggestion.decided_at = now
        suggestion.save(update_fields=["outcome", "final_value", "decided_at"])


def live_quality(desk_ids: Iterable[int] | None = None) -> dict[str, dict[str, Any]]:
    """Per field: how agents received the suggestions (the production precision of the AI)."""
    rows = Suggestion.objects.filter(kind=SuggestionKind.FIELD).exclude(outcome=Outcome.SUPERSEDED)
    if desk_ids is not None:
        rows = rows.filter(ticket__desk_id__in=list(desk_ids))
    found: dict[str, dict[str, Any]] = {}
    for field, outcome, n in _count_by(rows):
        entry = found.setdefault(field, {o: 0 for o in Outcome.values})
        entry[outcome] = n
    for entry in found.values():
        kept = entry[Outcome.APPLIED] + entry[Outcome.ACCEPTED]
        decided = kept + entry[Outcome.REJECTED] + entry[Outcome.CORRECTED]
        entry["precision"] = round(kept / decided, 4) if decided else None
    return found


def _count_by(rows: Any) -> list[tuple[str, str, int]]:
    from django.db.models import Count

    return [(r["field"], r["outcome"], r["n"]) for r in rows.values("field", "outcome").annotate(n=Count("id"))]

