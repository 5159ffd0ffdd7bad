"""What a parsed message is for intake: a ticket or a reply to one, or mail that must never become a ticket nor
be answered (auto-replies, bounces, our own mail coming back). Deterministic header rules, strongest first."""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from outcomedesk.tickets.notifications import LOOP_HEADER  # our notifications carry it: seeing it back is a loop

if TYPE_CHECKING:  # mail.py imports this module to re-export classify(); the type is only for annotations
    from outcomedesk.intake.email.message import ParsedMessage

_PRECEDENCE_AUTO = {"bulk", "junk", "list", "auto_reply"}
_SUPPRESS_AUTO = {"all", "autoreply", "oof"}
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
# Subjects of out-of-office replies in the languages the desk meets, only for senders that set no header at all.
_OUT_OF_OFFICE = re.compile(
    r"^\s*(?:(?:re|aw|sv|fw|fwd|wg)\s*:\s*)*(?:automatic reply|auto[- ]?reply|out of (?:the )?office(?: reply)?|"
    r"abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|absence du bureau|"
    r"respuesta autom[aá]tica|fuera de la oficina|automatisch antwoord|afwezigheidsbericht|"
    r"niet aanwezig)\s*(?::|$)",
    re.IGNORECASE,
)
_REPLY_PREFIX = r"(?:(?:re|aw|sv|vs|fw|fwd|wg|tr|rv|antw)\s*(?:\[\d+\])?\s*:\s*)*"


class Kind(enum.Enum):
    TICKETABLE = "ticketable"  # a new ticket, or a comment on the ticket it answers
    AUTO_REPLY = "auto_reply"  # out of office, vacation, list traffic, read receipts: ignore, never answer
    BOUNCE = "bounce"  # a delivery failure: ignore (the address may be flagged), never answer
    LOOP = "loop"  # our own mail came back: ignore, never answer


def classify(msg: ParsedMessage, own_domains: str | Iterable[str] = ()) -> Kind:
    """The kind of `msg`. `own_domains`: the domain(s) of the Message-IDs our notifications carry; a message with
    such an id is our own (exact domain only: other hosts of the organisation write ordinary mail)."""
    domains = {own_domains.lower()} if isinstance(own_domains, str) else {d.lower() for d in own_domains}
    if msg.header(LOOP_HEADER) is not None:
        return Kind.LOOP
    if not msg.message_id_synthetic and msg.message_id.rpartition("@")[2].lower().strip() in domains - {""}:
        return Kind.LOOP

    if msg.content_type == "multipart/report":
        report_type = dict(msg.content_params).get("report-type", "").lower()
        return Kind.BOUNCE if report_type in {"delivery-status", ""} else Kind.AUTO_REPLY
    if msg.sender.rpartition("@")[0].lower() in _BOUNCE_SENDERS:
        return Kind.BOUNCE

    auto_submitted = (msg.header("Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return Kind.AUTO_REPLY
    if (msg.header("Precedence") or "").strip().lower() in _PRECEDENCE_AUTO:
        return Kind.AUTO_REPLY
    if msg.header("X-Autoreply") is not None or msg.header("X-Autorespond") is not None:
        return Kind.AUTO_REPLY
    suppress = {t.strip().lower() for t in (msg.header("X-Auto-Response-Suppress") or "").split(",")}
    if suppress & _SUPPRESS_AUTO:
        return Kind.AUTO_REPLY

    if any(value.strip() in {"<>", ""} for value in msg.headers_named("Return-Path")):
        return Kind.BOUNCE  # the null sender: only delivery reports (and some auto-replies) use it
    if _OUT_OF_OFFICE.match(msg.subject):
        return Kind.AUTO_REPLY
    return Kind.TICKETABLE


@functools.cache
def _number_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    from outcomedesk.tickets.models import NUMBER_PREFIX  # lazily: the parser stays importable without Django

    prefixes = "|".join(sorted(re.escape(p) for p in NUMBER_PREFIX.values()))
    bracketed = re.compile(rf"\[\s*((?:{prefixes})\d{{7,12}})\s*\]", re.IGNORECASE)
    bare = re.compile(rf"(?<![A-Za-z0-9])((?:{prefixes})\d{{7,12}})(?![0-9])", re.IGNORECASE)
    return bracketed, bare


def ticket_number_in(subject: str) -> str | None:
    """The ticket number a subject names ("Re: [INC0000123] Printer" gives "INC0000123"): one in brackets first,
    the first one in brackets if there are several, else a bare one; None when there is none."""
    bracketed, bare = _number_patterns()
    match = bracketed.search(subject) or bare.search(subject)
    return match.group(1).upper() if match else None
