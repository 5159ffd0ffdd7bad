"""Inbound e-mail read into a ParsedMessage: pure, no database, no network, never raising on bad mail.

The foundation of e-mail intake (issue 13): the IMAP poller and the MTA pipe hand `parse_message` the raw bytes;
the quarantine takes `MalformedMessage` (raised only when nothing useful can be read, with the reason); `classify`
says whether a message may become a ticket; `ticket_number_in` and `ParsedMessage.thread_ids` find the ticket a
reply belongs to; `reply_text` is what a comment shows. Defects that do not stop the reading are listed in
`ParsedMessage.problems` for the admin to see, never raised.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

from outcomedesk.core.errors import InvalidInput
from outcomedesk.intake.email.classify import Kind, classify, ticket_number_in
from outcomedesk.intake.email.decode import clean_text, decode_header_value, unescape_8bit
from outcomedesk.intake.email.parts import Attachment, Body, safe_filename, walk
from outcomedesk.intake.email.trim import reply_text, trim_reply

__all__ = [
    "DEFAULT_MAX_BYTES", "Attachment", "Kind", "MalformedMessage", "ParsedMessage", "classify", "parse_message",
    "reply_text", "safe_filename", "ticket_number_in", "trim_reply",
]

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
SYNTHETIC_DOMAIN = "synthetic.outcomedesk.invalid"  # .invalid can never be a real sender's domain (RFC 2606)
MAX_HEADER_CHARS = 100_000  # one header longer than this is cut: no mail client writes one, an attack might
# At least one of these makes bytes an e-mail; "Foo: bar" alone, a PNG or a JSON document does not.
MAIL_HEADERS = {
    "from", "sender", "reply-to", "return-path", "to", "cc", "bcc", "subject", "date", "message-id", "received",
    "mime-version", "content-type", "in-reply-to", "references", "delivered-to",
}
# RFC 5322 allows one of each; a second is a defect worth naming (the first is used).
SINGLE_HEADERS = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id", "in-reply-to")
MAX_JUNK_LINES = 3
_HEADER_LINE = re.compile(rb"(?i)(?:from|to|subject|date|message-id|received|return-path|mime-version):")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_PARSER = BytesParser(policy=policy.default)


class MalformedMessage(InvalidInput, ValueError):
    """Nothing useful can be read from these bytes (empty, too large, not an RFC 5322 message); the reason says
    which, for the quarantine."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="message")
        self.reason = reason


@dataclass(frozen=True)
class ParsedMessage:
    """One inbound e-mail, decoded: what intake needs to open, thread, classify and show it."""

    message_id: str  # without <>; synthetic (sha256 of the bytes, so stable) when the message has none
    message_id_synthetic: bool
    in_reply_to: str | None
    references: tuple[str, ...]  # oldest first, as in the header
    subject: str
    sender: str  # the address ("" when the message names none), domain in lower case
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    date: datetime | None  # aware; None when absent or unreadable
    body_text: str  # plain text; derived from the HTML when the message has only HTML
    body_html: str  # sanitised (nh3); "" when the message has no HTML part
    attachments: tuple[Attachment, ...]
    problems: tuple[str, ...]  # non-fatal defects, for the admin; empty for a clean message
    headers: tuple[tuple[str, str], ...]  # every top-level header, decoded, in order
    content_type: str  # of the whole message, e.g. "multipart/report"
    content_params: tuple[tuple[str, str], ...]  # its parameters, e.g. (("report-type", "delivery-status"),)
    size: int  # of the raw bytes
    sha256: str  # of the raw bytes

    def header(self, name: str) -> str | None:
        """The first header called `name` (any case), decoded; None when absent."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def headers_named(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The Message-IDs this message answers, the nearest first (In-Reply-To, then References newest first):
        the order in which to look for the ticket it belongs to."""
        ids = ([self.in_reply_to] if self.in_reply_to else []) + list(reversed(self.references))
        return tuple(dict.fromkeys(ids))

    @property
    def inline_images(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.inline and a.content_id)


def parse_message(raw: bytes, *, max_bytes: int | None = None) -> ParsedMessage:
    """Read one RFC 5322 message. Raises MalformedMessage, and nothing else, when nothing useful can be read;
    a message larger than `max_bytes` (default: the OUTCOMEDESK_MAIL_MAX_BYTES setting) is refused unread."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MalformedMessage(f"the message must be bytes, not {type(raw).__name__}")
    data = bytes(raw)
    limit = configured_max_bytes() if max_bytes is None else max_bytes
    if len(data) > limit:
        raise MalformedMessage(f"the message is {len(data)} bytes; the limit is {limit}")
    if not data.strip():
        raise MalformedMessage("the message is empty")
    try:
        return _parse(data)
    except MalformedMessage:
        raise
    except Exception as exc:  # a bug here or in the email package must quarantine one message, not stall the inbox
        raise MalformedMessage(f"the message cannot be read ({type(exc).__name__}: {exc})"[:500]) from exc


def configured_max_bytes() -> int:
    from django.conf import settings

    if not settings.configured:
        return DEFAULT_MAX_BYTES
    return int(getattr(settings, "OUTCOMEDESK_MAIL_MAX_BYTES", DEFAULT_MAX_BYTES))


def _parse(data: bytes) -> ParsedMessage:
    # A byte-order mark or blank lines before the headers (some pipes add them) would hide every header.
    problems: list[str] = []
    text = data.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    message = _PARSER.parsebytes(text)
    raw_headers = [(str(name), str(value)) for name, value in message.raw_items()]
    if not {name.lower() for name, _ in raw_headers} & MAIL_HEADERS:
        # A line of junk before the headers (a broken gateway's banner) hides them all: skip up to a few lines.
        lines = text.split(b"\n", MAX_JUNK_LINES + 1)
        for skip in range(1, min(len(lines), MAX_JUNK_LINES + 1)):
            if _HEADER_LINE.match(lines[skip]):
                message = _PARSER.parsebytes(b"\n".join(lines[skip:]))
                raw_headers = [(str(name), str(value)) for name, value in message.raw_items()]
                if {name.lower() for name, _ in raw_headers} & MAIL_HEADERS:
                    problems.append(f"{skip} line(s) before the headers that are no header; skipped")
                    break
        else:
            raise MalformedMessage("no e-mail header (From, To, Subject, Date, Message-ID, ...) found: "
                                   "this is not an RFC 5322 message")
    headers: list[tuple[str, str]] = []
    for name, value in raw_headers:
        if len(value) > MAX_HEADER_CHARS:
            problems.append(f"the {name} header is {len(value)} characters long; only the first "
                            f"{MAX_HEADER_CHARS} are read")
            value = value[:MAX_HEADER_CHARS]
        headers.append((name, value))
    raw = _RawHeaders(headers)
    for name in SINGLE_HEADERS:
        count = len(raw.all(name))
        if count > 1:
            problems.append(f"{count} {_canonical(name)} headers; the first is used")

    subject, clean = decode_header_value(raw.first("subject") or "")
    if not clean:
        problems.append("the Subject is not valid in its charset; decoded as well as possible")
    sender, sender_name = _sender(raw, problems)
    message_id = _message_ids(raw.first("message-id") or "")[:1]
    if not message_id:
        problems.append("no Message-ID; a synthetic one is derived from the message's bytes")

    body = Body()
    walk(message, body)
    problems.extend(body.problems)
    try:
        content_type = message.get_content_type()
        params = tuple((str(k).lower(), clean_text(unescape_8bit(str(v)))) for k, v in
                       (message.get_params() or [])[1:])
    except Exception:
        content_type, params = "text/plain", ()
    sha256 = hashlib.sha256(data).hexdigest()
    in_reply_to = _message_ids(raw.first("in-reply-to") or "")[:1]
    return ParsedMessage(
        message_id=message_id[0] if message_id else f"{sha256}@{SYNTHETIC_DOMAIN}",
        message_id_synthetic=not message_id,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=tuple(dict.fromkeys(i for value in raw.all("references") for i in _message_ids(value))),
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        to=tuple(a for a, _ in _addresses(raw.all("to"))),
        cc=tuple(a for a, _ in _addresses(raw.all("cc"))),
        reply_to=tuple(a for a, _ in _addresses(raw.all("reply-to"))),
        date=_date(raw.first("date"), problems),
        body_text=body.text,
        body_html=body.html,
        attachments=tuple(body.attachments),
        problems=tuple(dict.fromkeys(problems)),
        headers=tuple((name, decode_header_value(value)[0]) for name, value in headers),
        content_type=content_type,
        content_params=params,
        size=len(data),
        sha256=sha256,
    )


class _RawHeaders:
    """Header values as they arrived, looked up by name in any case."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self._by_name: dict[str, list[str]] = {}
        for name, value in headers:
            self._by_name.setdefault(name.lower(), []).append(value)

    def first(self, name: str) -> str | None:
        values = self._by_name.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return self._by_name.get(name, [])


def _canonical(name: str) -> str:
    return "Message-ID" if name == "message-id" else "-".join(w.capitalize() for w in name.split("-"))


def _message_ids(value: str) -> list[str]:
    """The msg-ids in a Message-ID, In-Reply-To or References value, without <>; a bare id when there are no <>."""
    text = clean_text(unescape_8bit(value))
    ids = [i[:998] for i in _MSG_ID.findall(text)]
    if not ids and text and "<" not in text:
        ids = [text.split()[0].strip("<>")[:998]]
    return [i for i in ids if i]


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(address, display name) pairs of address headers; entries without an @ (groups, junk) are left out."""
    found: list[tuple[str, str]] = []
    for value in values:
        try:
            pairs = email.utils.getaddresses([value.replace("\r", " ").replace("\n", " ")])
        except Exception:  # the address parser of the email package has raised on odd input before
            pairs = []
        for name, address in pairs:
            address = clean_text(unescape_8bit(address)).strip("<> ")
            local, at, domain = address.rpartition("@")
            if not at or not local or not domain or " " in address:
                continue
            found.append((f"{local}@{domain.lower()}", decode_header_value(name)[0].strip("\"' ")))
    return found


def _sender(raw: _RawHeaders, problems: list[str]) -> tuple[str, str]:
    for header in ("from", "reply-to", "sender", "return-path"):
        pairs = _addresses(raw.all(header))
        if pairs:
            if header != "from":
                problems.append(f"no usable From address; the sender is taken from {_canonical(header)}")
            return pairs[0]
    problems.append("no sender address in From, Reply-To, Sender or Return-Path")
    return "", ""


def _date(value: str | None, problems: list[str]) -> datetime | None:
    if not value:
        problems.append("no Date header")
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(clean_text(unescape_8bit(value)))
    except Exception:
        problems.append(f"the Date {clean_text(value)[:80]!r} cannot be read")
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
