"""LDAP login in a real browser: Erin, an IT agent by her directory group, signs in on the login page with her
directory password (no account exists before) and sees the IT desk's queue. The fields are found by their
labels, so the test holds when the login page changes its field names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from outcomedesk.accounts.models import User
from tests import factories as f
from tests.conftest import World
from tests.ldap_server import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_ldap_person_logs_in_and_sees_their_desks_queue(  # type: ignore[no-untyped-def]
        browser: Any, live_server: Any, world: World, ldap_settings) -> None:
    f.make_ticket(world.alice, world.it, title="Laptop docking station flickers")
    f.make_ticket(world.alice, world.hr, title="Parental leave question")
    assert not User.objects.filter(username="erin").exists()
    page = browser.new_context().new_page()

    page.goto(f"{live_server.url}/login/")
    page.get_by_label(re.compile(r"^\s*(user ?name|login)", re.I)).fill("erin")
    page.get_by_label(re.compile(r"^\s*password", re.I)).fill("a wrong password")
    page.get_by_role("button", name=re.compile(r"^(log ?in|sign ?in)$", re.I)).click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert not User.objects.filter(username="erin").exists()

    page.get_by_label(re.compile(r"^\s*(user ?name|login)", re.I)).fill("erin")
    page.get_by_label(re.compile(r"^\s*password", re.I)).fill(PASSWORD)
    page.get_by_role("button", name=re.compile(r"^(log ?in|sign ?in)$", re.I)).click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/desk/")
    expect(page.get_by_role("row", name=re.compile("Laptop docking station flickers"))).to_be_visible()
    expect(page.get_by_text("Parental leave question")).to_have_count(0)  # HR's, confidential
    assert User.objects.get(username="erin").desk_memberships.get().desk == world.it
