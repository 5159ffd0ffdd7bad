"""The write path of the AI's texts: hand-over summaries and knowledge drafts, extractive by default, generated
by the configured OpenAI-compatible endpoint when there is one, and the review of drafts. A draft is never
published by the AI: it waits for a desk manager's review (and, until the knowledge base exists, stays here)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from outcomedesk.assist import generation, summary
from outcomedesk.assist.models import DraftStatus, Feature, KnowledgeDraft, Method, Summary
from outcomedesk.assist.switches import is_enabled
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.core.html import html_to_text
from outcomedesk.core.models import Channel
from outcomedesk.tickets.models import Comment, State, Ticket

DRAFT_VERSION = "draft-extractive-1"
CAUSE = re.compile(r"\b(because|due to|caused|cause|root cause|reason|turned out|was the)\b", re.IGNORECASE)


def _client() -> generation.ChatClient | None:
    return generation.from_settings() if is_enabled(Feature.GENERATION) else None


# --- summaries ----------------------------------------------------------------------------------------------

def summarize(ticket: Ticket) -> Summary | None:
    """The ticket's hand-over summary for its current timeline (reused while the timeline is unchanged);
    None when summaries are switched off."""
    if not is_enabled(Feature.SUMMARY):
        return None
    items = summary.entries(ticket)
    digest = summary.input_hash(items, ticket)
    client = _client()
    wanted = Method.GENERATED if client is not None else Method.EXTRACTIVE
    cached = Summary.objects.filter(ticket=ticket, input_hash=digest, method=wanted).first()
    if cached is not None:
        return cached
    note = ""
    sections: dict[str, list[dict[str, Any]]] | None = None
    model_name, version = "extractive", summary.VERSION
    if client is not None:
        try:
            completion = client.complete(summary.SYSTEM_PROMPT, summary.prompt(ticket, items))
            sections = summary.parse_generated(completion.text, items)
            model_name, version = completion.model[:80], f"generated:{completion.model}"[:80]
        except (generation.GenerationError, ValueError) as exc:
            note = f"the generated summary was not used: {exc}"[:300]
    method = Method.GENERATED if sections is not None else Method.EXTRACTIVE
    if sections is None:
        sections = summary.extractive(ticket, items)
    return Summary.objects.create(ticket=ticket, method=method, sections=sections, model_name=model_name,
                                  version=version, input_hash=digest, note=note, created_at=clock.now())


# --- knowledge drafts ---------------------------------------------------------------------------------------

def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) > 3]


def _dedupe(lines: Sequence[str], limit: int) -> list[str]:
    seen: set[str] = set()
    kept = []
    for line in lines:
        key = re.sub(r"\W+", " ", line.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            kept.append(line)
    return kept[:limit]


def _staff_texts(tickets: Sequence[Ticket]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    rows = Comment.objects.filter(ticket__in=tickets).exclude(author_id=None).order_by("created_at", "id")
    requester = {t.pk: t.requester_id for t in tickets}
    for c in rows.values("ticket_id", "author_id", "body"):
        if c["author_id"] != requester[c["ticket_id"]]:
            found.setdefault(c["ticket_id"], []).append(html_to_text(c["body"]))
    return found


def extractive_draft(tickets: Sequence[Ticket]) -> dict[str, Any]:
    """Title, symptoms, cause and steps from the tickets' own words, and which ticket each part came from."""
    staff = _staff_texts(tickets)
    words = Counter(w for t in tickets for w in set(re.findall(r"[a-z]{4,}", t.title.lower())))
    title = max(tickets, key=lambda t: (sum(words[w] for w in set(re.findall(r"[a-z]{4,}", t.title.lower()))),
                                        -t.pk)).title
    symptoms = _dedupe([s for t in tickets for s in _sentences(t.description or t.title)[:2]], 5)
    cause = _dedupe([s for t in tickets for text in (t.resolution_notes, *staff.get(t.pk, []))
                     for s in _sentences(text) if CAUSE.search(s)], 3)
    steps = _dedupe([s for t in tickets for s in _sentences(t.resolution_notes)], 6)
    steps += _dedupe([s for t in tickets for text in staff.get(t.pk, []) for s in _sentences(text)
                      if summary.ACTIONS.search(s) and not CAUSE.search(s)], 6 - len(steps))
    return {
        "title": f"How to fix: {title}"[:200],
        "symptoms": "\n".join(symptoms) or tickets[0].title,
        "cause": "\n".join(cause),
        "resolution": "\n".join(steps) or "(no resolution was written down: add the steps before approving)",
        "sources": {"tickets": [t.number for t in tickets]},
    }


DRAFT_PROMPT = (
    "You draft knowledge articles for a service desk from resolved tickets. Use only the tickets given; invent "
    "nothing. Answer with one JSON object and nothing else: {\"title\": a how-to title, \"symptoms\": what users "
    "see, \"cause\": the cause if the tickets say it (else \"\"), \"resolution\": [steps, one sentence each]}."
)


def _generated_draft(client: generation.ChatClient, tickets: Sequence[Ticket]) -> tuple[dict[str, Any], str]:
    staff = _staff_texts(tickets)
    lines = [f"Ticket {t.number}: {t.title}\nDescription: {t.description[:1500]}\nResolution: {t.resolution_notes}"
             + "".join(f"\nAgent: {text[:800]}" for text in staff.get(t.pk, [])[-3:]) for t in tickets[:10]]
    completion = client.complete(DRAFT_PROMPT, "\n\n".join(lines))
    text = completion.text
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start:end + 1]) if 0 <= start < end else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("title"), str) or not data["title"].strip():
        raise ValueError("the answer is not the JSON draft asked for")
    steps = data.get("resolution")
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps) or not steps:
        raise ValueError("the answer has no resolution steps")
    return {
        "title": data["title"].strip()[:200],
        "symptoms": str(data.get("symptoms") or "").strip() or tickets[0].title,
        "cause": str(data.get("cause") or "").strip(),
        "resolution": "\n".join(s.strip() for s in steps if s.strip()),
        "sources": {"tickets": [t.number for t in tickets]},
    }, completion.model


def draft_article(actor: policy.Actor, tickets: Sequence[Ticket], *, channel: str = Channel.WEB
                  ) -> KnowledgeDraft:
    """Draft an article from resolved tickets of one desk; it waits for review. `actor`: an agent of the desk,
    or a system principal (the demo, the pattern detector)."""
    if not is_enabled(Feature.DRAFTING):
        raise NotAllowed("knowledge drafting is switched off")
    if not tickets:
        raise InvalidInput({"tickets": "name at least one resolved ticket"})
    desks = {t.desk_id for t in tickets}
    if len(desks) > 1:
        raise InvalidInput({"tickets": "all tickets must belong to one desk"})
    desk_id = desks.pop()
    if desk_id not in policy.desk_ids(actor, policy.WORK, policy.Kind.DESK):
        raise NotAllowed("only agents of the desk draft articles from its tickets")
    unresolved = [t.number for t in tickets if t.state not in (State.RESOLVED, State.CLOSED)]
    if unresolved:
        raise InvalidInput({"tickets": f"not resolved yet: {', '.join(unresolved)}"})
    basis = "\x1e".join(f"{t.number}\x1f{t.title}\x1f{t.description}\x1f{t.resolution_notes}" for t in tickets)
    digest = hashlib.sha256(basis.encode()).hexdigest()
    client = _client()
    method, model_name, version, note = Method.EXTRACTIVE, "extractive", DRAFT_VERSION, ""
    content: dict[str, Any] | None = None
    if client is not None:
        try:
            content, model = _generated_draft(client, tickets)
            method, model_name, version = Method.GENERATED, model[:80], f"generated:{model}"[:80]
        except (generation.GenerationError, ValueError) as exc:
            note = f"the generated draft was not used: {exc}"
    if content is None:
        content = extractive_draft(tickets)
    if note:
        content["sources"]["note"] = note
    now = clock.now()
    with transaction.atomic():
        draft = KnowledgeDraft.objects.create(
            desk_id=desk_id, title=content["title"], symptoms=content["symptoms"], cause=content["cause"],
            resolution=content["resolution"], method=method, model_name=model_name, version=version,
            input_hash=digest, sources=content["sources"], created_by=policy.person(actor), created_at=now,
        )
        draft.tickets.set(tickets)
        audit = AuditBatch("knowledge_draft", draft.pk, policy.actor_id(actor), channel, now)
        audit.add("drafted", "", None, f"{draft.title} from {', '.join(t.number for t in tickets)}")
        audit.save()
    return draft


def review_draft(actor: User, draft_id: int, approve: bool, note: str = "", *,
                 channel: str = Channel.WEB) -> KnowledgeDraft:
    """A desk manager (or a service manager) approves or rejects a draft waiting for review."""
    draft = KnowledgeDraft.objects.filter(pk=draft_id).first()
    if draft is None or not policy.can(actor, policy.VIEW, draft):
        raise NotFound(f"no draft {draft_id}", field="draft")
    if not policy.can(actor, policy.MANAGE, draft):
        raise NotAllowed("only the desk's managers and service managers review knowledge drafts")
    if draft.status != DraftStatus.IN_REVIEW:
        raise InvalidInput({"draft": f"was already {draft.get_status_display().lower()}"})
    now = clock.now()
    with transaction.atomic():
        draft.status = DraftStatus.APPROVED if approve else DraftStatus.REJECTED
        draft.reviewed_by, draft.reviewed_at, draft.review_note = actor, now, note.strip()[:500]
        draft.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        audit = AuditBatch("knowledge_draft", draft.pk, actor.pk, channel, now)
        audit.add("reviewed", "status", DraftStatus.IN_REVIEW, draft.status)
        audit.save()
    return draft
