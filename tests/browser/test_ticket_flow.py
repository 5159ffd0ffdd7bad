"""The core flow in a real browser: a requester submits in the portal, an agent finds the ticket in the queue,
replies and resolves it, the requester sees the reply and reopens it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_requester_and_agent_work_a_ticket_to_resolution_and_back(
    browser: Any, live_server: Any, world: World
) -> None:
    f.make_category(world.it, "Network")
    base = live_server.url
    requester = browser.new_context().new_page()
    agent = browser.new_context().new_page()

    # The requester asks IT for help in the portal.
    log_in(requester, base, "alice")
    requester.get_by_label("Ask IT for help").click()
    requester.get_by_label("Title").fill("VPN disconnects every ten minutes")
    requester.get_by_label("Description").fill("Since Monday the VPN drops while I am on calls.")
    requester.get_by_label("Category").select_option(label="Network")
    requester.get_by_role("button", name="Submit").click()
    expect(requester.locator("#ticket-state")).to_have_text("New")
    ticket = Ticket.objects.get(title="VPN disconnects every ten minutes")
    assert ticket.channel == "portal" and ticket.requester == world.alice

    # The agent finds it in the queue and opens it.
    log_in(agent, base, "bob")
    agent.goto(f"{base}/desk/?desk=it&sort=-opened")
    agent.get_by_role("link", name=ticket.number).click()
    expect(agent.locator("h1")).to_contain_text("VPN disconnects every ten minutes")

    # Replies publicly, then resolves.
    agent.get_by_label("Message").fill("Please update the VPN client to 5.2; it fixes the timeout.")
    agent.locator("#reply-submit").click()
    expect(agent.locator("#conversation")).to_contain_text("update the VPN client to 5.2")
    agent.get_by_label("Resolution notes").fill("Client 5.2 fixes the idle timeout.")
    agent.get_by_role("button", name="Resolve").click()
    expect(agent.locator("#ticket-state")).to_have_text("Resolved")

    # The requester sees the reply and reopens.
    requester.reload()
    expect(requester.locator("body")).to_contain_text("update the VPN client to 5.2")
    expect(requester.locator("#ticket-state")).to_have_text("Resolved")
    requester.get_by_label("What is still wrong? (optional)").fill("Still dropping after the update.")
    requester.locator("#reopen-button").click()
    expect(requester.locator("#ticket-state")).not_to_have_text("Resolved")

    ticket.refresh_from_db()
    assert ticket.state == "in_progress" and ticket.reopen_count == 1
    assert ticket.first_response_at is not None
    assert list(ticket.comments.values_list("is_public", flat=True)) == [True, True]


def test_it_agent_cannot_open_an_hr_ticket_page(browser: Any, live_server: Any, world: World) -> None:
    hr_ticket = f.make_ticket(world.alice, world.hr, title="Parental leave request")
    page = browser.new_context().new_page()
    log_in(page, live_server.url, "bob")
    response = page.goto(f"{live_server.url}/desk/tickets/{hr_ticket.number}/")
    assert response is not None and response.status == 404
    page.goto(f"{live_server.url}/desk/search/?q=parental")
    expect(page.locator("body")).not_to_contain_text(hr_ticket.number)
