"""The Content-Security-Policy in a real browser: the agent's queue, a ticket with its HTMX AI-assist panel, the
portal, the insights dashboards, the maturity pages, the admin and the API docs load without a single violation."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from outcomedesk.assist import services as assist
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.browser.test_ticket_flow import log_in
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Reports every violation of the page's policy to the console, where the listener below collects it. Playwright
# runs this before the page's own scripts, outside the policy.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at "
                + (e.sourceFile || document.location.href) + ":" + e.lineNumber);
});
"""


def watched(context: BrowserContext) -> tuple[Page, list[str]]:
    """A page whose policy violations (the event, and Chromium's own "Refused to..." messages) are collected."""
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
            if "CSP violation" in message.text or "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(f"{page.url}: page error {error}"))
    return page, violations


def visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert "default-src 'self'" in (response.header_value("content-security-policy") or ""), url
    page.wait_for_load_state("networkidle")


def test_the_pages_load_with_zero_policy_violations(browser: Any, live_server: Any, world: World,
                                                    history: dict[str, Any]) -> None:
    base = live_server.url
    assist.train_desk(world.it, fields=["group"])
    assist.set_policy(world.dave, world.it, "group", "suggest", threshold=0.5)
    ticket = Ticket.objects.get(pk=f.make_ticket(world.alice, world.it, title="VPN will not connect from the hotel",
                                                  description="The VPN client says the certificate expired.").pk)

    # The agent: the queue (filtered through HTMX), a ticket and its AI-assist panel, loaded by HTMX.
    agent, violations = watched(browser.new_context())
    log_in(agent, base, "bob")
    visit(agent, f"{base}/desk/")
    with agent.expect_response(lambda r: "/desk/" in r.url and r.request.headers.get("hx-request") == "true"):
        agent.locator("#filter-q").fill("hotel")  # the table comes back through HTMX
    expect(agent.locator("table[data-keyboard-list] tbody tr")).to_have_count(1)
    visit(agent, f"{base}/desk/tickets/{ticket.number}/")
    panel = agent.locator("#assist-panel")
    expect(panel.get_by_role("heading", name="Suggested values")).to_be_visible()
    expect(panel.locator("li.suggestion[data-field=group]")).to_contain_text("Network")
    panel.locator("li.suggestion[data-field=group]").get_by_text("Why").click()
    visit(agent, f"{base}/desk/assist/")

    # The requester's portal.
    requester, requester_violations = watched(browser.new_context())
    log_in(requester, base, "alice")
    visit(requester, f"{base}/portal/")
    visit(requester, f"{base}/portal/tickets/")
    visit(requester, f"{base}/portal/tickets/{ticket.number}/")

    # The desk manager's insights: the dashboard, the service owner's and the monthly report; the maturity pages.
    manager, manager_violations = watched(browser.new_context())
    log_in(manager, base, "dave")
    visit(manager, f"{base}/insights/")
    expect(manager.locator("section.chart svg").first).to_be_visible()
    visit(manager, f"{base}/insights/monthly/")
    manager.evaluate("() => { window.print = () => { window.printed = true; }; }")
    manager.get_by_role("button", name="Print").click()  # data-print, handled by outcomedesk.js
    assert manager.evaluate("window.printed === true")
    visit(manager, f"{base}/insights/maturity/")
    with manager.expect_navigation():  # the scope <select> submits its form from outcomedesk.js, not onchange=""
        manager.locator("#maturity-scope").select_option(label="IT")
    assert "desk=it" in manager.url
    visit(manager, f"{base}/insights/improvement/")

    everything = violations + requester_violations + manager_violations
    assert everything == [], "\n".join(everything)


def test_the_admin_and_the_api_docs_load_with_zero_policy_violations(browser: Any, live_server: Any,
                                                                     world: World) -> None:
    base = live_server.url
    admin, violations = watched(browser.new_context())
    log_in(admin, base, "root")
    visit(admin, f"{base}/admin/")
    visit(admin, f"{base}/admin/accounts/user/")
    visit(admin, f"{base}/admin/accounts/user/{world.bob.pk}/change/")
    visit(admin, f"{base}/admin/accounts/desk/add/")  # prepopulated slug: the admin's own scripts
    admin.get_by_label("Name").press_sequentially("Legal Desk")
    expect(admin.get_by_label("Slug")).to_have_value("legal-desk")
    visit(admin, f"{base}/admin/axes/accessattempt/")
    visit(admin, f"{base}/api/v1/docs")
    expect(admin.locator("#swagger-ui")).not_to_be_empty()
    assert violations == [], "\n".join(violations)


def test_the_watcher_sees_a_violation(browser: Any, live_server: Any, world: World) -> None:
    page, violations = watched(browser.new_context())
    visit(page, f"{live_server.url}/login/")
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.ran = true";
      document.body.appendChild(script);
      document.body.setAttribute("style", "color: red");
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran === undefined")
    assert any("script-src" in v for v in violations) and any("style-src" in v for v in violations), violations
