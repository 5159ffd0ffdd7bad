"""The words of an e-mail: a desk's template of its kind, else the template for every desk, else the built-in one
(mail/templates/mail/KIND.subject.txt and KIND.txt), rendered with plain values only (no model reaches a template,
so a template written in the admin can read nothing but what is listed in `SAMPLE`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError

from outcomedesk.mail.models import Kind, MailTemplate

SUBJECT_MAX = 300
BODY_MAX = 20_000
_BUILT_IN = Path(__file__).parent / "templates"

# Every placeholder a template may use, with the example values a template is checked (and previewed) with.
SAMPLE: dict[str, Any] = {
    "ticket": {"number": "INC0001234", "title": "The printer on floor 2 jams", "state": "In progress",
               "priority": "P3", "type": "Incident", "desk": "IT", "url": "https://desk.example.org/portal/t/INC0001234/",
               "resolution": "Replaced the fuser unit."},
    "recipient": {"name": "Alice Example", "email": "alice@example.org", "is_staff": False},
    "comment": {"text": "We have ordered the part; it arrives tomorrow.", "author": "Bob Agent", "public": True},
    "survivor": {"number": "INC0001200", "title": "Printers on floor 2", "url": "https://desk.example.org/portal/t/INC0001200/"},
    "sla": {"metric": "Resolution", "state": "80 % used", "minutes": 480, "due": "2026-12-07 17:00 UTC",
            "rule": "Warn the assignee", "action": "notify assignee"},
    "survey": {"url": "https://desk.example.org/portal/survey/abc/", "closes": "6 January 2027", "links": [
        {"score": n, "label": label, "url": f"https://desk.example.org/portal/survey/abc/{n}/"}
        for n, label in ((1, "Very poor"), (2, "Poor"), (3, "Fair"), (4, "Good"), (5, "Excellent"))]},
    "message": {"subject": "Printer", "date": "7 December 2026 09:12", "sender": "someone@example.net",
                "reason": "someone@example.net has no account, and the IT desk takes mail from its people only"},
    "desk": {"name": "IT"},
    "site": {"url": "https://desk.example.org"},
}


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    custom: bool  # written by the desk (or for every desk), not the built-in text


@cache
def _engine() -> Engine:
    # No tag libraries beyond the built-ins, no autoescaping (plain text), unknown placeholders render empty.
    return Engine(dirs=[str(_BUILT_IN)], autoescape=False, string_if_invalid="", libraries={}, debug=False)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:SUBJECT_MAX]


def _render(source: str, context: dict[str, Any]) -> str:
    return _engine().from_string(source).render(Context(context, autoescape=False))


def built_in(kind: str) -> tuple[str, str]:
    """The built-in subject and text of `kind`."""
    base = _BUILT_IN / "mail"
    return (base / f"{kind}.subject.txt").read_text(), (base / f"{kind}.txt").read_text()


def check(subject: str, body: str) -> dict[str, str]:
    """Field errors of a template (empty: it compiles and renders with the sample values)."""
    errors: dict[str, str] = {}
    for field, source, limit in (("subject", subject, SUBJECT_MAX), ("body", body, BODY_MAX)):
        if not source.strip():
            errors[field] = "is required"
            continue
        if len(source) > limit:
            errors[field] = f"is {len(source):,} characters long; at most {limit:,}"
            continue
        try:
            _render(source, SAMPLE)
        except TemplateSyntaxError as exc:
            errors[field] = f"is not a valid template: {exc}"
        except Exception as exc:  # a filter given a wrong argument raises its own errors
            errors[field] = f"cannot be rendered: {type(exc).__name__}: {exc}"
    return errors


def preview(subject: str, body: str) -> Composed:
    return Composed(_one_line(_render(subject, SAMPLE)), _render(body, SAMPLE).strip() + "\n", True)


def templates_for(desk_ids: set[int | None]) -> dict[tuple[int | None, str], MailTemplate]:
    """The stored templates of those desks and of every desk, by (desk id or None, kind): one query."""
    rows = MailTemplate.objects.filter(desk_id__in=[d for d in desk_ids if d is not None]) | \
        MailTemplate.objects.filter(desk__isnull=True)
    return {(row.desk_id, row.kind): row for row in rows}


def compose(kind: str, desk_id: int | None, context: dict[str, Any],
            stored: dict[tuple[int | None, str], MailTemplate] | None = None) -> Composed:
    """Subject and text of one e-mail of `kind` on `desk_id`; `stored` from `templates_for` saves the query."""
    if kind not in Kind.values:
        raise ValueError(f"unknown kind of e-mail {kind!r}")
    stored = templates_for({desk_id}) if stored is None else stored
    row = stored.get((desk_id, kind)) or stored.get((None, kind))
    subject, body = (row.subject, row.body) if row is not None else built_in(kind)
    try:
        return Composed(_one_line(_render(subject, context)), _render(body, context).strip() + "\n", row is not None)
    except Exception:
        if row is None:
            raise
        # A stored template that no longer renders (checked when saved, so only through a bug) must not
        # silence the desk: fall back to the built-in words.
        subject, body = built_in(kind)
        return Composed(_one_line(_render(subject, context)), _render(body, context).strip() + "\n", False)
