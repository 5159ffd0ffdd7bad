"""The new part of a reply, for display: quoted history and signatures cut off. The caller always keeps the
whole text; when trimming would leave nothing, the whole text is the answer."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mail.py imports this module to re-export reply_text(); the type is only for annotations
    from outcomedesk.intake.email.message import ParsedMessage

_WROTE = r"(?:wrote|writes|schrieb|a écrit|a ecrit|escribió|escribio|schreef|skrev|kirjoitti|ha scritto)"
# "On Mon, 3 Jun 2024 at 10:00, Ann <ann@example.org> wrote:" and its translations ("Am ... schrieb ...:",
# "Le ... a écrit :", "El ... escribió:", "Op ... schreef ...:"); mail clients wrap it, so it is matched on up to
# three joined lines.
_OPENER = re.compile(r"^\s*(?:On|Am|Le|El|Op|Den|Il)\s", re.IGNORECASE)
_ATTRIBUTION = re.compile(rf"^\s*(?:On|Am|Le|El|Op|Den|Il)\s.{{0,300}}\b{_WROTE}\b.{{0,200}}?:\s*$", re.IGNORECASE)
# "Ann Smith wrote:" alone counts only when a quote follows: a sentence of the reply may end that way too.
_SHORT_ATTRIBUTION = re.compile(rf"^\s*[^\n>]{{1,120}}\s{_WROTE}\s*:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht|Message d'origine|"
    r"Mensaje original|Oorspronkelijk bericht|Oprindelig meddelelse|Alkuperäinen viesti)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook's header block: "From: ...", then within a few lines "Sent: ..." (or Date, in any of the languages).
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|Von|De|Van|Fra|Da)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\*?(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado|Fecha|Verzonden|Sendt|Inviato)\s*:", re.IGNORECASE)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_SIGNATURE = re.compile(
    r"^\s*(?:Sent from my \w+|Sent from (?:Outlook|Mail|Yahoo Mail)\b|Get Outlook for \w+"
    r"|Von meinem \w+ gesendet|Gesendet von meinem \w+|Envoyé de mon \w+|Enviado desde mi \w+"
    r"|Verzonden (?:vanaf|met) mijn \w+)",
    re.IGNORECASE,
)


def reply_text(msg: ParsedMessage) -> str:
    """The new part of `msg`'s text (see `trim_reply`)."""
    return trim_reply(msg.body_text)


def trim_reply(text: str) -> str:
    """`text` without the quoted history (attribution lines, "-----Original Message-----", Outlook's header
    block, lines quoted with ">") and the signature; the whole text, stripped, when nothing would be left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _history_start(lines)
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    for number, line in enumerate(kept):
        if line.rstrip() == "--" or _SIGNATURE.match(line):  # "-- " is the delimiter; clients often drop the space
            kept = kept[:number]
            break
    trimmed = "\n".join(kept).strip()
    return trimmed or text.strip()


def _history_start(lines: list[str]) -> int:
    for number, line in enumerate(lines):
        if _ORIGINAL.match(line):
            return number
        if _RULE.match(line) and any(_HEADER_FROM.match(following) for following in lines[number + 1 : number + 3]):
            return number
        if _HEADER_FROM.match(line) and any(_HEADER_SENT.match(f) for f in lines[number + 1 : number + 5]):
            return number
        if _SHORT_ATTRIBUTION.match(line) and _quote_follows(lines, number + 1):
            return number
        if _OPENER.match(line) and not line.rstrip().endswith((".", "!", "?")):
            # Wrapped by the client: join up to three lines, but never across a blank line.
            for span in (1, 2, 3):
                block = lines[number : number + span]
                if len(block) < span or (span > 1 and not block[-1].strip()):
                    break
                if _ATTRIBUTION.match(" ".join(part.strip() for part in block)):
                    return number
    return len(lines)


def _quote_follows(lines: list[str], start: int) -> bool:
    following = next((line for line in lines[start:] if line.strip()), "")
    return following.lstrip().startswith(">")
