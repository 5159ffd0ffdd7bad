"""Security headers on every kind of response, and templates that need nothing the policy refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import World, client_for

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parent.parent / "src" / "outcomedesk"
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
          "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.mark.parametrize("path", ["/login/", "/desk/", "/portal/", "/insights/", "/admin/", "/api/v1/me",
                                  "/api/v1/docs", "/static/web/outcomedesk.css", "/no-such-page/"])
def test_every_response_carries_the_policy_and_the_other_headers(world: World, path: str) -> None:
    response = client_for(world.dave).get(path)
    assert directives(response["Content-Security-Policy"]) == directives(POLICY)
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if response["Content-Type"].startswith("text/html"):
        assert response["X-Frame-Options"] == "DENY"


def test_the_anonymous_login_page_has_the_policy(db: None) -> None:
    assert directives(Client().get("/login/")["Content-Security-Policy"]) == directives(POLICY)


def test_report_only_mode_sends_the_same_policy_without_enforcing_it(world: World, settings: object) -> None:
    policy = settings.CONTENT_SECURITY_POLICY  # type: ignore[attr-defined]
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = policy  # type: ignore[attr-defined]
    settings.CONTENT_SECURITY_POLICY = {}  # type: ignore[attr-defined]
    response = Client().get("/login/")
    assert "Content-Security-Policy" not in response
    assert directives(response["Content-Security-Policy-Report-Only"]) == directives(POLICY)


# What a page template may not hold under script-src 'self' and style-src 'self' (e-mails are not pages).
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"\sstyle=", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+=", re.I),
    "hx-on attribute (needs eval)": re.compile(r"\shx-on", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_page_template_holds_inline_script_or_style() -> None:
    found = []
    for path in sorted(TEMPLATES.glob("*/templates/**/*.html")):
        if "/email/" in path.as_posix():
            continue
        text = path.read_text()
        found += [f"{path.relative_to(TEMPLATES)}: {what}" for what, pattern in INLINE.items() if pattern.search(text)]
    assert found == []
    assert len(list(TEMPLATES.glob("*/templates/**/*.html"))) > 40  # the glob does find the templates
