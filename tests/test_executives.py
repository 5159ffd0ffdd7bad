"""Executives: people outside every desk who see the figures of each non-confidential desk, set in the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import User
from tests import factories as f
from tests.conftest import World, client_for
from tests.test_api import Api

pytestmark = pytest.mark.django_db


def test_nobody_is_an_executive_unless_made_one(world: World) -> None:
    assert not User.objects.filter(is_executive=True).exists()
    assert not policy.can(world.alice, policy.VIEW, policy.Capability.INSIGHTS)


def test_an_executive_sees_insights_without_working_on_a_desk(world: World) -> None:
    erin = f.make_user("erin")
    erin.is_executive = True
    erin.save(update_fields=["is_executive"])
    assert policy.can(User.objects.get(username="erin"), policy.VIEW, policy.Capability.INSIGHTS)


def test_an_executives_figures_cover_every_non_confidential_desk_and_no_confidential_one(world: World) -> None:
    erin = f.make_user("erin")
    User.objects.filter(pk=erin.pk).update(is_executive=True)
    f.make_ticket(world.alice, world.it, title="VPN drops")
    f.make_ticket(world.alice, world.hr, title="Payslip question")
    today = timezone.localdate().isoformat()
    report = Api("erin").get("/insights/report", **{"from": today, "to": today})
    assert report.status_code == 200, report.content
    assert report.json()["figures"]["ticket_volume"] == 1  # the IT ticket; HR is confidential
    assert Api("alice").get("/insights/report", **{"from": today, "to": today}).status_code == 403


def test_the_admin_shows_and_filters_by_the_executive_flag(world: World) -> None:
    client = client_for(world.root)
    html = client.get(reverse("admin:accounts_user_change", args=[world.alice.pk])).content.decode()
    assert 'name="is_executive"' in html and "Sees the insights of every non-confidential desk" in html
    listing = client.get(reverse("admin:accounts_user_changelist") + "?is_executive__exact=1")
    assert listing.status_code == 200
