"""The MIME tree of a parsed message walked once: body text and HTML, attachments, inline images, winmail.dat.

Every part is read on its own: a part that cannot be read becomes a problem named by its section number
("part 2.1"), never an exception, so one bad attachment does not cost the rest of the message.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.generator import BytesGenerator
from email.message import Message
from io import BytesIO

import nh3

from outcomedesk.core.html import ALLOWED_TAGS, html_to_text
from outcomedesk.intake.email.decode import (
    clean_text,
    codec_for,
    decode_bytes,
    decode_header_value,
    unescape_8bit,
    without_surrogates,
)

MAX_DEPTH = 30  # MIME nesting deeper than this is an attack or a loop of forwards, not a message
MAX_FILENAME = 200
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
MAIL_TAGS = ALLOWED_TAGS | {"img", "div", "u", "s", "sub", "sup", "h1", "h2", "h5", "h6", "caption"}
MAIL_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_EXTENSIONS = {
    "application/octet-stream": ".bin", "application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
    "image/gif": ".gif", "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics",
    "message/rfc822": ".eml", "message/delivery-status": ".txt", "text/rfc822-headers": ".txt",
}
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


@dataclass(frozen=True)
class Attachment:
    """A file carried by a message: attached, inline (an image its HTML shows by `cid:`) or out of winmail.dat."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None = None  # without the angle brackets; the HTML refers to it as "cid:<content_id>"
    inline: bool = False
    from_winmail: bool = False  # extracted from an Outlook winmail.dat (TNEF) attachment

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Body:
    """What the walk collects; `parse_message` turns it into the frozen ParsedMessage."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if self.texts:
            return "\n\n".join(t.strip("\n") for t in self.texts if t.strip())
        if self.htmls:
            return html_to_text("\n".join(self.htmls))
        return ""

    @property
    def html(self) -> str:
        return sanitize_mail_html("\n".join(self.htmls)) if self.htmls else ""


def sanitize_mail_html(markup: str) -> str:
    """The formatting tags of `core.html` plus inline images, which may only point at the message's own parts
    (`cid:`): a remote image in an e-mail is a tracking pixel."""
    return nh3.clean(
        markup, tags=MAIL_TAGS, attributes=MAIL_ATTRIBUTES, url_schemes={"http", "https", "mailto", "cid"},
        attribute_filter=_only_cid_images, link_rel="noopener noreferrer nofollow",
    )


def _only_cid_images(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src" and not value.lower().startswith("cid:"):
        return None
    return value


def walk(part: Message, body: Body, path: str = "", depth: int = 0) -> None:
    """Collect `part` and everything under it into `body`."""
    label = f"part {path}" if path else "the message"
    if depth > MAX_DEPTH:
        body.problems.append(f"{label}: nested more than {MAX_DEPTH} levels deep; the rest is not read")
        return
    try:
        content_type = part.get_content_type()
    except Exception:
        content_type = "application/octet-stream"
        body.problems.append(f"{label}: the Content-Type cannot be read; read as application/octet-stream")
    declared = raw_header(part, "content-type")
    if declared is not None and clean_text(unescape_8bit(declared)).split(";")[0].strip().lower() != content_type:
        body.problems.append(f"{label}: the Content-Type {clean_text(declared)[:60]!r} is not valid; "
                             f"read as {content_type}")
    try:
        if content_type.startswith("multipart/") and part.is_multipart():
            for number, child in enumerate(part.get_payload(), start=1):
                if isinstance(child, Message):
                    walk(child, body, f"{path}.{number}" if path else str(number), depth + 1)
        elif content_type.startswith("multipart/"):  # no boundary, or it never appears: the text is all there is
            body.problems.append(f"{label}: {content_type} whose parts cannot be found; read as plain text")
            _read_leaf(part, "text/plain", body, label)
        elif content_type.startswith("message/") and part.is_multipart():
            _attach_message(part, content_type, body, label)
        else:
            _read_leaf(part, content_type, body, label)
    except Exception as exc:  # one unreadable part must not cost the others
        body.problems.append(f"{label}: cannot be read ({type(exc).__name__}: {exc})")
    for defect in getattr(part, "defects", []):
        body.problems.append(f"{label}: {describe_defect(defect)}")


def describe_defect(defect: object) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(defect).__name__).lower().removesuffix(" defect")
    detail = str(defect)
    return f"{words} ({detail})" if detail and detail.lower() != words else words


def _read_leaf(part: Message, content_type: str, body: Body, label: str) -> None:
    disposition = _disposition(part)
    filename = _filename(part)
    data = part.get_payload(decode=True)
    payload = data if isinstance(data, bytes) else b""
    if content_type in {"text/plain", "text/html"} and disposition != "attachment" and not filename:
        charset = _charset(part)
        text, clean = decode_bytes(payload, charset)
        if not clean:
            body.problems.append(f"{label}: {_charset_problem(charset)}; decoded as well as possible")
        text = without_surrogates(text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""))
        (body.texts if content_type == "text/plain" else body.htmls).append(text)
        return
    is_winmail = content_type in TNEF_TYPES or filename.lower() == "winmail.dat"
    if is_winmail and _read_winmail(payload, body, label):
        return
    content_id = _content_id(part)
    body.attachments.append(Attachment(
        filename=filename or _generated_name(body, content_type),
        content_type=content_type,
        data=payload,
        content_id=content_id,
        inline=disposition == "inline" or (disposition is None and content_id is not None),
    ))


def _attach_message(part: Message, content_type: str, body: Body, label: str) -> None:
    """A forwarded message (message/rfc822) or a report block (message/delivery-status) kept as one file."""
    inner = part.get_payload()
    blocks = [m for m in inner if isinstance(m, Message)] if isinstance(inner, list) else []
    data = b"".join(serialise(block) for block in blocks)
    name = ""
    if content_type in {"message/rfc822", "message/global"} and blocks:
        subject = decode_header_value(raw_header(blocks[0], "subject") or "")[0]
        name = safe_filename(subject[:100] + ".eml") if subject else ""
    body.attachments.append(Attachment(
        filename=_filename(part) or name or _generated_name(body, content_type),
        content_type=content_type,
        data=data,
        inline=_disposition(part) == "inline",
    ))


def raw_header(message: Message, name: str) -> str | None:
    """The first `name` header of `message` as it arrived (folded, encoded words and 8-bit bytes intact)."""
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def serialise(message: Message) -> bytes:
    """A (sub)message as bytes, its headers as they arrived (compat32 does not refold or reinterpret them)."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=policy.compat32).flatten(message)
    return out.getvalue()


def _read_winmail(data: bytes, body: Body, label: str) -> bool:
    """The files and text inside an Outlook winmail.dat; False (keep the .dat) when nothing can be got out."""
    from tnefparse.tnef import TNEF

    try:
        tnef = TNEF(data, do_checksum=False)
        text, html = tnef.body, tnef.htmlbody
    except Exception as exc:  # tnefparse raises what it meets: ValueError, struct.error, IndexError, ...
        body.problems.append(f"{label}: winmail.dat cannot be read ({type(exc).__name__}); kept as it is")
        return False
    charset = tnef.codepage or "cp1252"
    found = False
    for number, inner in enumerate(tnef.attachments, start=1):
        try:
            name = inner.long_filename() or inner.name
        except Exception:  # a short name in the OEM code page that is not UTF-8 (tnefparse decodes it as UTF-8)
            name = decode_bytes(inner._name, charset)[0] if isinstance(inner._name, bytes) else ""
        payload = inner.data
        if not isinstance(payload, bytes):
            continue
        filename = safe_filename(name if isinstance(name, str) else decode_bytes(name, charset)[0])
        filename = filename or f"winmail-{number}.bin"
        guessed = mimetypes.guess_type(filename, strict=True)[0] or "application/octet-stream"
        body.attachments.append(Attachment(filename, guessed, payload, from_winmail=True))
        found = True
    if text and not body.texts:
        decoded = text if isinstance(text, str) else decode_bytes(text, charset)[0]
        body.texts.append(without_surrogates(decoded.replace("\r\n", "\n").rstrip("\x00")))
        found = True
    if html and not body.htmls:
        body.htmls.append(html if isinstance(html, str) else decode_bytes(html, charset)[0])
        found = True
    if not found:
        body.problems.append(f"{label}: winmail.dat holds no file or text that can be read; kept as it is")
    return found


def _disposition(part: Message) -> str | None:
    try:
        value = part.get_content_disposition()
    except Exception:
        return None
    return value if value in {"inline", "attachment"} else None


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if isinstance(value, tuple):  # an RFC 2231 value: (charset, language, text)
        value = value[2]
    return unescape_8bit(str(value)).strip() if value else None


def _charset_problem(charset: str | None) -> str:
    if charset is None:
        return "8-bit text without a charset"
    if codec_for(charset) is None:
        return f"unknown charset {charset!r}"
    return f"bytes that are not valid {charset}"


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        return ""
    if not name:
        return ""
    return safe_filename(decode_header_value(unescape_8bit(str(name)))[0])


def safe_filename(name: str) -> str:
    """A file name a storage can take: the last path component, no control or reserved characters, not too long."""
    name = _UNSAFE_NAME.sub("_", clean_text(name)).replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: MAX_FILENAME - len(extension) - 1] + "." + extension) if dot and len(extension) <= 10 \
            else name[:MAX_FILENAME]
    return name


def _content_id(part: Message) -> str | None:
    value = raw_header(part, "content-id")
    cid = clean_text(unescape_8bit(value)).strip().strip("<>").strip() if value else ""
    return cid or None


def _generated_name(body: Body, content_type: str) -> str:
    extension = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type, strict=True) or ".bin"
    return f"attachment-{len(body.attachments) + 1}{extension}"
