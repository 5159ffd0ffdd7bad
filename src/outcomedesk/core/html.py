"""Turning user text into safe HTML, and HTML back into text."""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "pre", "strong", "ul", "h3", "h4", "table",
    "thead", "tbody", "tr", "td", "th", "hr", "span",
}
_TAG = re.compile(r"<[a-zA-Z/][^>]*>")


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text))


def sanitize_html(markup: str) -> str:
    """Keep formatting tags only; scripts, styles, event handlers and javascript: links go."""
    return nh3.clean(markup, tags=ALLOWED_TAGS, link_rel="noopener noreferrer nofollow")


def text_to_html(text: str) -> str:
    """Plain text as escaped HTML paragraphs with line breaks."""
    paragraphs = re.split(r"\n\s*\n", text.strip().replace("\r\n", "\n"))
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p.strip())


def to_safe_html(body: str) -> str:
    return sanitize_html(body) if looks_like_html(body) else text_to_html(body)


def html_to_text(markup: str) -> str:
    text = re.sub(r"<(br|/p|/li|/tr|/h\d)\s*/?>", "\n", markup)
    return html.unescape(nh3.clean(text, tags=set())).strip()
