"""Hand-over summaries of a ticket: what happened, what was tried, where it stands, what comes next; every
sentence cites the timeline entries it draws on.

Extractive by default: the sentences are the ticket's own (description, agents' replies and notes, state
changes), picked by plain rules, so nothing is invented. With an OpenAI-compatible endpoint configured (and
the "generation" feature on) a model writes the four sections from the numbered timeline only, citing entry
numbers; an answer that cites nothing, cites entries that do not exist or is not the JSON asked for is thrown
away, and the extractive summary stands, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from outcomedesk.core.html import html_to_text
from outcomedesk.tickets.models import PendingReason, State, Ticket
from outcomedesk.tickets.queries import timeline

VERSION = "summary-extractive-1"
SECTIONS = ("happened", "tried", "state", "next")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
ACTIONS = re.compile(
    r"\b(tried|try|restart\w*|reboot\w*|reset\w*|reinstall\w*|install\w*|replac\w*|check\w*|test\w*|clear\w*|"
    r"updat\w*|upgrad\w*|remov\w*|delet\w*|add\w*|enabl\w*|disabl\w*|configur\w*|chang\w*|fix\w*|escalat\w*|"
    r"rolled back|roll back|applied|apply\w*|sent|ran|run\w*|moved|mov\w*|assign\w*|contact\w*|called|logged)\b",
    re.IGNORECASE,
)
NEXT = re.compile(r"\b(will|next|plan\w*|need to|needs to|going to|waiting for|awaiting|once|until|tomorrow|"
                  r"follow[- ]up|schedul\w*)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One numbered line of the timeline as the summary sees it."""

    number: int  # 1-based, as cited
    kind: str  # description, comment, note, event
    ref: str  # "description", "comment-12", "event-40": the anchor on the ticket page
    who: str
    staff: bool
    text: str
    at: Any


def entries(ticket: Ticket) -> list[Entry]:
    """The description, then the timeline (internal notes included: summaries are for the desk's staff)."""
    found = [Entry(1, "description", "description", str(ticket.requester), False,
                   f"{ticket.title}. {ticket.description}".strip(), ticket.opened_at)]
    for item in timeline(ticket, include_internal=True):
        if item.comment is not None:
            c = item.comment
            text = html_to_text(c.body).strip()
            if not text:
                continue
            staff = c.author_id is not None and c.author_id != ticket.requester_id
            found.append(Entry(len(found) + 1, "comment" if c.is_public else "note", f"comment-{c.pk}",
                               str(c.author or "System"), staff, text, c.created_at))
        elif item.event is not None:
            e = item.event
            if e.action not in ("state", "assigned", "changed", "escalated", "merged", "linked"):
                continue
            label = f"{e.action} {e.field}".strip()
            text = f"{label}: {e.old_value} → {e.new_value}" if e.old_value else f"{label}: {e.new_value}"
            found.append(Entry(len(found) + 1, "event", f"event-{e.pk}", str(e.actor or "System"), True, text,
                               e.at))
    return found


def input_hash(items: list[Entry], ticket: Ticket) -> str:
    basis = "\x1e".join(f"{e.ref}\x1f{e.text}" for e in items) + f"\x1e{ticket.state}{ticket.pending_reason}"
    return hashlib.sha256(basis.encode()).hexdigest()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 3]


def _line(text: str, *cites: Entry) -> dict[str, Any]:
    return {"text": text if len(text) <= 300 else text[:299].rstrip() + "…",
            "cites": [{"n": e.number, "ref": e.ref} for e in cites]}


def extractive(ticket: Ticket, items: list[Entry]) -> dict[str, list[dict[str, Any]]]:
    description = items[0]
    happened = [_line(" ".join(_sentences(description.text)[:3]) or ticket.title, description)]
    for e in items[1:]:
        if e.kind == "comment" and not e.staff:  # what the requester added
            happened.append(_line(" ".join(_sentences(e.text)[:2]), e))
    happened = happened[:3]
    tried = []
    for e in items[1:]:
        if e.kind in ("comment", "note") and e.staff:
            done = [s for s in _sentences(e.text) if ACTIONS.search(s)]
            if done:
                tried.append(_line(" ".join(done[:2]), e))
    events = [e for e in items if e.kind == "event"]
    escalations = [e for e in events if e.text.startswith(("assigned group", "escalated"))]
    tried += [_line(e.text, e) for e in escalations[-2:]]
    state_events = [e for e in events if e.text.startswith("state")]
    where = f"{ticket.get_state_display()}"
    if ticket.pending_reason:
        where += f" ({ticket.get_pending_reason_display().lower()})"
    where += f", with {ticket.group or 'no group'}"
    where += f", assigned to {ticket.assignee}" if ticket.assignee_id else ", not assigned"
    state = [_line(where + ".", *(state_events[-1:] or items[:1]))]
    if ticket.resolution_notes:
        state.append(_line(f"Resolution: {ticket.resolution_notes}", *(state_events[-1:] or items[:1])))
    nexts = []
    staff_said = [e for e in items[1:] if e.kind in ("comment", "note") and e.staff]
    if staff_said:
        planned = [s for s in _sentences(staff_said[-1].text) if NEXT.search(s)]
        if planned:
            nexts.append(_line(" ".join(planned[:2]), staff_said[-1]))
    last = items[-1]
    if ticket.state in (State.RESOLVED, State.CLOSED, State.CANCELLED):
        nexts.append(_line("Nothing: the ticket is done unless the requester reopens it.", last))
    elif ticket.pending_reason == PendingReason.REQUESTER:
        nexts.append(_line("Wait for the requester's answer, then go on.", *(state_events[-1:] or [last])))
    elif last.kind == "comment" and not last.staff:
        nexts.append(_line(f"Answer {last.who}: their message is the latest word.", last))
    elif not ticket.assignee_id:
        nexts.append(_line("Assign it: nobody owns it yet.", last))
    return {"happened": happened, "tried": tried, "state": state, "next": nexts}


SYSTEM_PROMPT = (
    "You write hand-over summaries of service desk tickets for the next agent. Use only the numbered timeline "
    "you are given; invent nothing. Answer with one JSON object and nothing else: {\"happened\": [...], "
    "\"tried\": [...], \"state\": [...], \"next\": [...]}, each a list of at most 3 objects {\"text\": one "
    "sentence, \"cites\": [entry numbers it draws on]}. Every sentence cites at least one entry."
)


def prompt(ticket: Ticket, items: list[Entry]) -> str:
    lines = [f"Ticket {ticket.number}, now {ticket.get_state_display()}."]
    lines += [f"[{e.number}] {e.at:%Y-%m-%d %H:%M} {e.kind} by {e.who}: {e.text[:1500]}" for e in items[-40:]]
    return "\n".join(lines)


def parse_generated(answer: str, items: list[Entry]) -> dict[str, list[dict[str, Any]]]:
    """The model's sections, each sentence's citations checked against the timeline; ValueError otherwise."""
    start, end = answer.find("{"), answer.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("the answer holds no JSON object")
    try:
        data = json.loads(answer[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer is not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    by_number = {e.number: e for e in items}
    sections: dict[str, list[dict[str, Any]]] = {}
    for name in SECTIONS:
        raw = data.get(name, [])
        if not isinstance(raw, list):
            raise ValueError(f"{name!r} is not a list")
        lines = []
        for item in raw[:3]:
            if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
                raise ValueError(f"a sentence of {name!r} has no text")
            cites = item.get("cites")
            if not isinstance(cites, list) or not cites:
                raise ValueError(f"a sentence of {name!r} cites no timeline entry")
            unknown = [c for c in cites if not isinstance(c, int) or c not in by_number]
            if unknown:
                raise ValueError(f"a sentence of {name!r} cites entries that do not exist: {unknown}")
            lines.append(_line(item["text"].strip(), *(by_number[c] for c in cites)))
        sections[name] = lines
    if not any(sections.values()):
        raise ValueError("the answer has no sentences")
    return sections
