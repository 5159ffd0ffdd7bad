"""The one access policy (accounts.policy): its rules per persona, and the guard that keeps every role check in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from outcomedesk.accounts import policy
from outcomedesk.accounts.policy import ADMINISTER, MANAGE, OPERATOR, SCHEDULER, VIEW, WORK, Capability, Kind
from outcomedesk.assist import services as assist
from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World

SRC = Path(__file__).resolve().parents[1] / "src" / "outcomedesk"
POLICY = SRC / "accounts" / "policy.py"

# What a role check reads: the user's role flags, the policy's own view of a person, desk memberships.
ROLE_ATTRIBUTES = {"is_superuser", "is_staff", "is_service_manager", "is_executive", "member_of", "manager_of",
                   "overseer", "desk_memberships"}
QUERY_CALLS = {"filter", "exclude", "get", "Q", "update", "get_or_create", "first"}
POLICY_INTERNALS = {"principal", "Principal", "DeskMembership"}


def _violations(path: Path, *, app: str | None = None) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    app = app or path.relative_to(SRC).parts[0]
    for node in ast.walk(tree):
        where = f"{path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and node.attr in ROLE_ATTRIBUTES:
            found.append(f"{where} reads .{node.attr}")
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "getattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value in ROLE_ATTRIBUTES:
                found.append(f"{where} reads getattr(..., {node.args[1].value!r})")
            if name in QUERY_CALLS:
                for keyword in node.keywords:
                    if keyword.arg and any(part in ROLE_ATTRIBUTES for part in keyword.arg.split("__")):
                        found.append(f"{where} queries {keyword.arg}=")
        elif isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in POLICY_INTERNALS and app != "accounts":
                found.append(f"{where} uses {name}")
        elif isinstance(node, ast.ImportFrom) and node.module == "outcomedesk.accounts.policy":
            for alias in node.names:
                if alias.name in POLICY_INTERNALS:
                    found.append(f"{where} imports {alias.name}")
    return found


def test_no_role_check_is_written_outside_the_policy() -> None:
    sources = [p for p in SRC.rglob("*.py") if p != POLICY and "migrations" not in p.parts]
    violations = [v for path in sources for v in _violations(path)]
    assert violations == [], "ask accounts.policy instead:\n" + "\n".join(violations)


def test_no_template_tests_a_role() -> None:
    pattern = re.compile(r"\b(is_superuser|is_staff|is_service_manager|is_executive)\b|\bperms\.")
    offending = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("templates/**/*.html")
                 for n, line in enumerate(p.read_text().splitlines(), start=1) if pattern.search(line)]
    assert offending == [], "a template shows what the view asked the policy:\n" + "\n".join(offending)


def test_the_guard_catches_a_hand_written_check(tmp_path: Path) -> None:
    sample = tmp_path / "views.py"
    sample.write_text("from outcomedesk.accounts.policy import principal\n"
                      "def f(user, qs):\n    if user.is_superuser:\n"
                      "        return qs.filter(desk_memberships__role='x')\n"
                      "    return getattr(user, 'is_executive', False)\n")
    assert len(_violations(sample, app="web")) == 4  # the import, the flag, the query, getattr


# --- the rules, persona by persona ---------------------------------------------------------------------------

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(world: World):  # type: ignore[no-untyped-def]
    return f.make_user("sam", is_service_manager=True)


@pytest.fixture
def erin(world: World):  # type: ignore[no-untyped-def]
    return f.make_user("erin", is_executive=True)


def test_a_requester_reads_their_own_and_watched_tickets_only(world: World) -> None:
    own = f.make_ticket(world.alice, world.it, title="mine")
    other = f.make_ticket(world.carol, world.it, title="carol's")
    hr = f.make_ticket(world.carol, world.hr, title="carol's HR case")
    tickets.update_ticket(world.hana, hr, {"watchers": [world.alice.pk]})
    assert policy.can(world.alice, VIEW, own) and policy.can(world.alice, VIEW, hr)
    assert not policy.can(world.alice, VIEW, other)
    assert not policy.can(world.alice, WORK, own)
    assert set(policy.restrict(Ticket.objects.all(), world.alice)) == {own, hr}
    assert policy.desk_ids(world.alice, VIEW) == frozenset()


def test_agents_read_every_open_desk_and_work_their_own(world: World) -> None:
    it, hr = f.make_ticket(world.alice, world.it), f.make_ticket(world.alice, world.hr)
    assert policy.can(world.bob, WORK, it) and not policy.can(world.bob, VIEW, hr)
    assert policy.can(world.hana, VIEW, it) and not policy.can(world.hana, WORK, it)
    assert policy.can(world.hana, WORK, hr)
    assert set(policy.restrict(Ticket.objects.all(), world.bob)) == {it}


def test_confidential_desks_stay_with_their_members_whatever_the_role(world: World, sam, erin) -> None:  # type: ignore[no-untyped-def]
    hr = f.make_ticket(world.alice, world.hr)
    for outsider in (sam, erin, world.root, world.bob, world.dave):
        assert not policy.can(outsider, VIEW, hr), outsider
        assert world.hr.pk not in policy.desk_ids(outsider, VIEW, Kind.FIGURES), outsider
        assert world.hr.pk not in policy.desk_ids(outsider, MANAGE), outsider
    assert world.hr.pk in policy.desk_ids(world.hana, VIEW, Kind.FIGURES)


def test_overseers_manage_open_desks_and_executives_only_read_figures(world: World, sam, erin) -> None:  # type: ignore[no-untyped-def]
    for overseer in (sam, world.root):
        assert policy.can(overseer, MANAGE, world.it)
        assert policy.can(overseer, VIEW, f.make_ticket(world.alice, world.it))
    assert policy.can(world.dave, MANAGE, world.it) and not policy.can(world.bob, MANAGE, world.it)
    assert policy.desk_ids(erin, VIEW, Kind.FIGURES) == frozenset({world.it.pk})
    assert policy.desk_ids(erin, VIEW) == frozenset()  # no ticket
    assert policy.can(erin, VIEW, Capability.INSIGHTS) and not policy.can(erin, VIEW, Capability.WORKSPACE)


def test_only_platform_admins_administer_the_platform(world: World, sam) -> None:  # type: ignore[no-untyped-def]
    assert policy.can(world.root, ADMINISTER, Capability.ADMIN_SITE)
    assert policy.can(world.root, ADMINISTER, Capability.ASSIST_SWITCHES)
    for person in (sam, world.dave, world.bob, world.alice):
        assert not policy.can(person, ADMINISTER, Capability.ADMIN_SITE)
        assert not policy.can(person, ADMINISTER, Capability.ASSIST_SWITCHES)
    assert policy.can(sam, ADMINISTER, Capability.SERVICE_LEVELS)
    assert not policy.can(world.dave, ADMINISTER, Capability.SERVICE_LEVELS)


def test_anonymous_and_disabled_people_may_do_nothing(world: World) -> None:
    from django.contrib.auth.models import AnonymousUser

    ticket = f.make_ticket(world.alice, world.it)
    world.bob.is_active = False
    policy.forget(world.bob)
    for nobody in (AnonymousUser(), None, world.bob):
        assert not policy.can(nobody, VIEW, ticket)
        assert not policy.can(nobody, VIEW, Capability.WORKSPACE)
        assert policy.restrict(Ticket.objects.all(), nobody).count() == 0


def test_system_principals_act_with_their_declared_rights(world: World) -> None:
    hr = f.make_ticket(world.alice, world.hr)
    bot = assist.assistant()
    assert policy.can(bot, WORK, hr) and policy.can(SCHEDULER, WORK, hr)
    assert not policy.can(bot, MANAGE, world.hr) and not policy.can(bot, VIEW, Capability.INSIGHTS)
    assert not policy.can(SCHEDULER, ADMINISTER, Capability.ASSIST_SWITCHES)
    assert policy.can(OPERATOR, ADMINISTER, Capability.ASSIST_SWITCHES)
    assert policy.is_system(bot) and policy.is_system(OPERATOR) and not policy.is_system(world.root)


def test_an_active_person_named_like_the_ai_gets_no_ai_rights(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    impostor = f.make_user(settings.OUTCOMEDESK_ASSIST_USERNAME)
    assert not policy.can(impostor, WORK, f.make_ticket(world.alice, world.hr))


def test_audit_events_are_read_as_their_objects_are(world: World, sam) -> None:  # type: ignore[no-untyped-def]
    it, hr = f.make_ticket(world.alice, world.it), f.make_ticket(world.alice, world.hr)
    tickets.add_comment(world.hana, hr, "salary details", public=False)
    hr_events = AuditEvent.objects.filter(object_type="ticket", object_id=hr.pk)
    assert hr_events.exists()
    for outsider in (sam, world.root, world.bob):
        assert not policy.restrict(hr_events, outsider).exists()
        assert not policy.can(outsider, VIEW, hr_events.first())
    assert policy.restrict(AuditEvent.objects.filter(object_id=it.pk, object_type="ticket"), sam).exists()
    assert policy.restrict(hr_events, world.hana).count() == hr_events.count()


def test_people_who_may_work_or_manage_a_desk(world: World, sam) -> None:  # type: ignore[no-untyped-def]
    assert set(policy.people(WORK, [world.it.pk])) == {world.bob, world.dave}
    assert set(policy.people(MANAGE, [world.it.pk])) == {world.dave, sam, world.root}
    assert set(policy.people(MANAGE, [world.it.pk], overseers=False)) == {world.dave}
    assert set(policy.people(MANAGE, [world.hr.pk])) == set()  # HR has no manager, and no overseer reaches it
    assert set(policy.people((WORK, MANAGE), [world.it.pk])) == {world.bob, world.dave, sam, world.root}
