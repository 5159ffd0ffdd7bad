"""The AI in a real browser: a requester's new ticket is triaged after it is saved, and the agent sees the
applied group, why, similar resolved tickets and the summary in the panel that loads after the page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from outcomedesk.assist import services as assist
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.browser.test_ticket_flow import log_in
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_agent_sees_what_the_ai_did_and_why(browser: Any, live_server: Any, world: World,
                                                 history: dict[str, Any]) -> None:
    assist.train_desk(world.it, fields=["group"])
    assist.set_policy(world.dave, world.it, "group", "auto", threshold=0.5)
    ticket = f.make_ticket(world.alice, world.it, title="VPN will not connect from the hotel",
                           description="The VPN client says the certificate expired.")
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.group == history["network"]  # applied after the commit, before the agent looks

    page = browser.new_page()
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/desk/tickets/{ticket.number}/")
    panel = page.locator("#assist-panel")
    expect(panel.get_by_role("heading", name="Suggested values")).to_be_visible()
    suggestion = panel.locator("li.suggestion[data-field=group]")
    expect(suggestion).to_contain_text("Network")
    expect(suggestion).to_contain_text("applied")
    suggestion.get_by_text("Why").click()
    expect(suggestion.locator("mark").first).to_be_visible()
    expect(panel.get_by_role("heading", name="Resolved tickets like this one")).to_be_visible()
    expect(panel.locator("ol.similar li").first).to_contain_text("reset the tunnel")
    expect(panel.get_by_text("What happened")).to_be_visible()
    expect(page.get_by_text("Outcomedesk AI").first).to_be_visible()  # the AI's change in the timeline

    page.goto(f"{live_server.url}/desk/assist/")
    expect(page.get_by_role("heading", name="Patterns and knowledge drafts")).to_be_visible()
    page.close()
