"""The dashboards in a real browser: charts drawn, a number drilled down to its tickets, CSV downloaded, the
monthly report printed, the executive view; and nothing loaded from outside the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import factories as f
from tests.browser.test_ticket_flow import log_in
from tests.conftest import World
from tests.test_insights_dashboard import History, history  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OCTOBER = "from=2026-10-01&to=2026-10-31"
SHOTS = Path("/tmp/outcomedesk-screens")


def _watch_requests(page: Page, base: str) -> list[str]:
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith((base, "data:")) else outside.append(request.url))
    return outside


def _charts_drawn(page: Page, least: int, *, bars: bool = True) -> None:
    charts = page.locator("section.chart svg")
    assert charts.count() >= least
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 150 and box["height"] > 40, index
    # Lines and bars are really there, not only empty frames.
    assert page.locator("section.chart svg path").count() >= 3
    if bars:
        assert page.locator("section.chart svg rect").count() >= 4


def test_the_service_manager_drills_from_a_number_and_a_chart_to_the_tickets(
    browser: Any, live_server: Any, world: World, history: History  # noqa: F811
) -> None:
    base = live_server.url
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    outside = _watch_requests(page, base)
    log_in(page, base, "dave")
    page.get_by_role("link", name="Insights").click()
    expect(page.locator("h1")).to_have_text("Service figures")
    page.goto(f"{base}/insights/?{OCTOBER}")
    _charts_drawn(page, 8)
    expect(page.locator("#watermelons")).to_contain_text("Mail")
    expect(page.locator("#watermelons")).to_contain_text("CSAT 2.00 is below the experience target 4.00")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "manager.png"), full_page=True)

    # A headline number opens the tickets it counts.
    page.locator('[data-figure="ticket_volume"]').click()
    expect(page.locator("h1")).to_have_text("Opened: 8 tickets")
    expect(page.locator("table.drilldown tbody tr")).to_have_count(8)
    page.go_back()

    # A bar of the breakdown by service opens that service's tickets.
    page.locator('section[aria-label="By service"] svg a').first.click()
    expect(page.locator("h1")).to_have_text("Opened: 5 tickets")
    page.go_back()

    # The CSV export downloads the figures.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    content = Path(download.value.path()).read_text()
    assert content.startswith("scope,figure,value,previous")
    assert "service=Mail,ticket_volume,5," in content

    # A period that ends before it starts is shown beside the field.
    page.goto(f"{base}/insights/?from=2026-10-31&to=2026-10-01")
    expect(page.locator("#e-to")).to_be_visible()
    assert outside == []


def test_the_monthly_report_prints_without_the_navigation(
    browser: Any, live_server: Any, world: World, history: History  # noqa: F811
) -> None:
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    outside = _watch_requests(page, live_server.url)
    log_in(page, live_server.url, "dave")
    page.goto(f"{live_server.url}/insights/monthly/?month=2026-10")
    expect(page.locator("h1")).to_have_text("Service report, October 2026")
    _charts_drawn(page, 4)
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    SHOTS.mkdir(exist_ok=True)
    page.pdf(path=str(SHOTS / "monthly.pdf"))
    assert (SHOTS / "monthly.pdf").stat().st_size > 10_000
    assert outside == []


def test_the_executive_sees_every_open_desk_and_the_service_owner_the_value(
    browser: Any, live_server: Any, world: World, history: History  # noqa: F811
) -> None:
    f.make_user("erin", display_name="Erin Executive", is_executive=True)
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    log_in(page, live_server.url, "erin")
    page.goto(f"{live_server.url}/insights/executive/?{OCTOBER}")
    expect(page.locator("h1")).to_have_text("Service value")
    expect(page.locator("#desk-title")).to_be_visible()
    expect(page.locator("table").filter(has_text="Desk")).not_to_contain_text("HR")
    assert page.locator("section.chart svg").count() >= 3

    owner = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    log_in(owner, live_server.url, "dave")
    owner.goto(f"{live_server.url}/insights/service/?{OCTOBER}&service={history.mail.pk}")
    expect(owner.locator("#value-title")).to_contain_text("What Mail cost the business")
    _charts_drawn(owner, 4, bars=False)
