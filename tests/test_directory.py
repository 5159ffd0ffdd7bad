"""The directory service: a person a directory describes becomes an account with the desks and roles their
groups map to. Erin and Frank come from LDAP; Bob (IT agent) and Root (admin) were made here by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.test import Client

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.directory import (
    DirectoryMappingError,
    DirectoryPerson,
    mapping_problems,
    parse_group_mapping,
)
from outcomedesk.accounts.models import DeskMembership, MembershipSource, User
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.models import AuditEvent
from tests.conftest import World

MAPPING = parse_group_mapping("""{
    "cn=it-agents,ou=groups,dc=example,dc=org": ["desk:it:agent"],
    "cn=it-leads,ou=groups,dc=example,dc=org": ["desk:it:manager"],
    "HR Managers": ["desk:hr:manager"],
    "ServiceManagers": ["service-manager"],
    "Board": ["executive", "vip"],
    "Platform Admins": "platform-admin"
}""")

ERIN = DirectoryPerson(
    source="ldap", external_id="uuid-erin", username="erin", email="erin@example.org", first_name="Erin",
    last_name="Example", display_name="Erin Example", department="Finance",
    groups=frozenset({"cn=it-agents, ou=groups, dc=example, dc=org"}),
)


def memberships(user: User) -> dict[str, tuple[str, str]]:
    return {m.desk.slug: (m.role, m.source) for m in DeskMembership.objects.filter(user=user).select_related("desk")}


def test_a_new_person_gets_an_account_with_the_desks_their_groups_map_to(world: World) -> None:
    outcome = accounts.apply_directory_person(ERIN, mapping=MAPPING)
    erin = User.objects.get(username="erin")
    assert outcome.status == "created"
    assert (erin.email, erin.department, erin.display_name, erin.directory_source) == (
        "erin@example.org", "Finance", "Erin Example", "ldap")
    assert not erin.has_usable_password()
    assert memberships(erin) == {"it": ("agent", MembershipSource.DIRECTORY)}
    assert AuditEvent.objects.filter(object_type="user", object_id=erin.pk, action="created").exists()
    assert AuditEvent.objects.filter(object_type="user", object_id=erin.pk, action="desk added", field="it").exists()


def test_applying_the_same_person_twice_changes_nothing(world: World) -> None:
    accounts.apply_directory_person(ERIN, mapping=MAPPING)
    events = AuditEvent.objects.count()
    assert accounts.apply_directory_person(ERIN, mapping=MAPPING).status == "unchanged"
    assert AuditEvent.objects.count() == events


def test_changed_attributes_update_the_account_and_are_audited(world: World) -> None:
    accounts.apply_directory_person(ERIN, mapping=MAPPING)
    outcome = accounts.apply_directory_person(replace(ERIN, department="IT", email="e.example@example.org"),
                                              mapping=MAPPING)
    erin = User.objects.get(username="erin")
    assert outcome.status == "updated" and set(outcome.changes) == {"department", "email"}
    assert erin.department == "IT"
    event = AuditEvent.objects.get(object_id=erin.pk, object_type="user", field="department")
    assert (event.old_value, event.new_value) == ("Finance", "IT")


def test_the_strongest_grant_wins_and_roles_follow_the_groups(world: World) -> None:
    both = replace(ERIN, groups=frozenset({"cn=it-agents,ou=groups,dc=example,dc=org",
                                           "CN=IT-Leads,OU=Groups,DC=example,DC=org", "hr managers"}))
    accounts.apply_directory_person(both, mapping=MAPPING)
    erin = User.objects.get(username="erin")
    assert memberships(erin) == {"it": ("manager", "directory"), "hr": ("manager", "directory")}
    accounts.apply_directory_person(ERIN, mapping=MAPPING)
    assert memberships(erin) == {"it": ("agent", "directory")}
    assert AuditEvent.objects.filter(object_id=erin.pk, action="desk removed", field="hr").exists()


def test_a_group_gone_revokes_the_membership_but_not_one_an_admin_granted(world: World) -> None:
    erin = accounts.apply_directory_person(ERIN, mapping=MAPPING).user
    accounts.add_to_desk(erin, world.hr, "agent")  # by hand
    accounts.apply_directory_person(replace(ERIN, groups=frozenset()), mapping=MAPPING)
    assert memberships(erin) == {"hr": ("agent", "manual")}


def test_a_membership_granted_by_hand_is_not_taken_over_by_the_directory(world: World) -> None:
    bob_in_ldap = replace(ERIN, username="bob", external_id="uuid-bob", groups=frozenset({"HR Managers"}))
    accounts.add_to_desk(world.bob, world.hr, "agent")
    accounts.apply_directory_person(bob_in_ldap, mapping=MAPPING)
    accounts.apply_directory_person(replace(bob_in_ldap, groups=frozenset()), mapping=MAPPING)
    assert memberships(world.bob) == {"it": ("agent", "manual"), "hr": ("agent", "manual")}


def test_flags_granted_by_groups_are_taken_back_when_the_group_goes(world: World) -> None:
    boss = replace(ERIN, groups=frozenset({"Board", "ServiceManagers", "Platform Admins"}))
    erin = accounts.apply_directory_person(boss, mapping=MAPPING).user
    erin.refresh_from_db()
    assert (erin.is_executive, erin.is_vip, erin.is_service_manager, erin.is_superuser, erin.is_staff) == (
        True, True, True, True, True)
    accounts.apply_directory_person(ERIN, mapping=MAPPING)
    erin.refresh_from_db()
    assert (erin.is_executive, erin.is_vip, erin.is_service_manager, erin.is_superuser, erin.is_staff) == (
        False, False, False, False, False)


def test_a_flag_an_admin_set_by_hand_stays_when_no_group_grants_it(world: World) -> None:
    root_in_ldap = replace(ERIN, username="root", external_id="uuid-root", groups=frozenset({"Platform Admins"}))
    accounts.apply_directory_person(root_in_ldap, mapping=MAPPING)
    accounts.apply_directory_person(replace(root_in_ldap, groups=frozenset()), mapping=MAPPING)
    world.root.refresh_from_db()
    assert world.root.is_superuser and world.root.directory_source == "ldap"


def test_a_vip_attribute_the_directory_reads_owns_the_flag(world: World) -> None:
    erin = accounts.apply_directory_person(replace(ERIN, is_vip=True), mapping=MAPPING).user
    assert User.objects.get(pk=erin.pk).is_vip
    accounts.apply_directory_person(replace(ERIN, is_vip=False), mapping=MAPPING)
    assert not User.objects.get(pk=erin.pk).is_vip


def test_the_manager_is_linked_when_their_account_exists(world: World) -> None:
    outcome = accounts.apply_directory_person(replace(ERIN, manager_username="frank"), mapping=MAPPING)
    assert outcome.manager_missing and outcome.user.manager is None
    frank = accounts.apply_directory_person(
        replace(ERIN, username="frank", external_id="uuid-frank", email="frank@example.org"), mapping=MAPPING).user
    assert accounts.link_manager(outcome.user, "frank")
    assert User.objects.get(username="erin").manager == frank
    assert accounts.apply_directory_person(replace(ERIN, manager_username="frank"), mapping=MAPPING).status == (
        "unchanged")


def test_a_disabled_person_loses_their_sessions_and_tokens(world: World) -> None:
    erin = accounts.apply_directory_person(ERIN, mapping=MAPPING).user
    browser = Client()
    browser.force_login(erin)
    token = accounts.create_token("erin").key
    assert browser.get("/desk/").status_code == 200
    outcome = accounts.apply_directory_person(replace(ERIN, disabled=True), mapping=MAPPING)
    assert outcome.status == "disabled"
    assert not User.objects.get(pk=erin.pk).is_active
    assert accounts.user_for_token(token) is None
    assert browser.get("/desk/")["Location"].startswith("/login/")
    assert Client().get("/api/v1/tickets", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert AuditEvent.objects.filter(object_id=erin.pk, action="sessions ended").exists()


def test_a_person_the_directory_disabled_comes_back_when_enabled_but_not_one_an_admin_disabled(world: World) -> None:
    erin = accounts.apply_directory_person(replace(ERIN, disabled=True), mapping=MAPPING).user
    accounts.apply_directory_person(ERIN, mapping=MAPPING)
    assert User.objects.get(pk=erin.pk).is_active
    User.objects.filter(pk=erin.pk).update(is_active=False)  # an admin's decision
    accounts.apply_directory_person(ERIN, mapping=MAPPING)
    assert not User.objects.get(pk=erin.pk).is_active


def test_a_person_who_left_the_directory_is_disabled(world: World) -> None:
    erin = accounts.apply_directory_person(ERIN, mapping=MAPPING).user
    assert accounts.disable_directory_account(erin, reason="no longer in ldap")
    assert not accounts.disable_directory_account(erin, reason="no longer in ldap")
    assert not User.objects.get(pk=erin.pk).is_active
    assert accounts.apply_directory_person(ERIN, mapping=MAPPING).user.is_active


def test_a_username_of_another_directory_is_a_conflict(world: World) -> None:
    accounts.apply_directory_person(ERIN, mapping=MAPPING)
    with pytest.raises(accounts.DirectoryConflict, match="belongs to an account of 'ldap'"):
        accounts.apply_directory_person(replace(ERIN, source="oidc:google", external_id="sub-1"), mapping=MAPPING)


def test_an_account_made_here_is_adopted_by_username(world: World) -> None:
    outcome = accounts.apply_directory_person(replace(ERIN, username="BOB", external_id="uuid-bob"),
                                              mapping=MAPPING)
    assert outcome.user.pk == world.bob.pk and outcome.status == "updated"


def test_bad_attributes_are_named(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        accounts.apply_directory_person(replace(ERIN, username=" ", email="not-mail", external_id=""),
                                        mapping=MAPPING)
    assert set(caught.value.errors) == {"username", "email", "external_id"}
    assert not User.objects.filter(username="erin").exists()


def test_a_group_mapped_to_a_missing_desk_fails_without_writing(world: World) -> None:
    mapping = parse_group_mapping('{"Legal": ["desk:legal:agent"]}')
    with pytest.raises(DirectoryMappingError, match="legal"):
        accounts.apply_directory_person(replace(ERIN, groups=frozenset({"legal"})), mapping=mapping)
    assert not User.objects.filter(username="erin").exists()
    assert mapping_problems(mapping, {"it", "hr"}) == [
        "OUTCOMEDESK_DIRECTORY_GROUPS: 'legal' grants 'desk:legal:agent', but there is no desk 'legal'"]


@pytest.mark.parametrize(("raw", "message"), [
    ("{", "not valid JSON"),
    ('["x"]', "must be a JSON object"),
    ('{"g": ["desk:it:owner"]}', "'owner' is not a desk role"),
    ('{"g": ["superuser"]}', "'superuser', which is not a role"),
    ('{"g": [1]}', "must be a list of strings"),
])
def test_a_malformed_mapping_is_refused_with_its_reason(raw: str, message: str) -> None:
    with pytest.raises(DirectoryMappingError, match=message):
        parse_group_mapping(raw)


def test_outcomedesk_check_names_a_mapping_to_an_unknown_desk(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.OUTCOMEDESK_DIRECTORY_GROUPS = parse_group_mapping('{"Legal": ["desk:legal:agent"]}')
    with pytest.raises(SystemCheckError, match="there is no desk 'legal'"):
        call_command("check")
    settings.OUTCOMEDESK_DIRECTORY_GROUPS = MAPPING
    call_command("check")


def test_the_admin_shows_where_an_account_and_its_memberships_come_from(world: World) -> None:
    from tests.conftest import client_for

    erin = accounts.apply_directory_person(ERIN, mapping=MAPPING).user
    page = client_for(world.root).get(f"/admin/accounts/user/{erin.pk}/change/")
    assert page.status_code == 200
    assert b"uuid-erin" in page.content and b"From a directory group" in page.content
    assert client_for(world.root).get("/admin/accounts/user/?directory_source=ldap").status_code == 200


def test_an_account_a_sign_on_library_built_but_did_not_save_is_created(world: World) -> None:
    built = User(username="erin")
    outcome = accounts.apply_directory_person(replace(ERIN, source="oidc:corp"), mapping=MAPPING, user=built)
    assert outcome.status == "created" and outcome.user.pk is not None
    assert User.objects.get(username="erin").directory_source == "oidc:corp"
    assert memberships(outcome.user) == {"it": ("agent", "directory")}


# --- an Active Directory entry as the LDAP login and the sync read it (accounts/ldap.py) ----------------------

def _ad_entry(**overrides: list[bytes]) -> dict[str, list[bytes]]:
    entry = {
        "sAMAccountName": [b"erin.example"], "objectGUID": [bytes(range(16))], "mail": [b"erin@example.org"],
        "givenName": [b"Erin"], "sn": [b"Example"], "displayName": [b"Erin Example"],
        "department": [b"Finance"], "userAccountControl": [b"512"],
        "manager": [b"CN=Frank Boss,OU=Staff,DC=example,DC=org"],
    }
    entry.update(overrides)
    return entry


def test_an_active_directory_entry_reads_with_the_default_attributes() -> None:
    from outcomedesk.accounts.ldap import LdapConfig, person_from_entry

    config = LdapConfig(url="ldaps://dc1.example.org", user_search_base="OU=Staff,DC=example,DC=org")
    person = person_from_entry(config, "CN=Erin Example,OU=Staff,DC=example,DC=org", _ad_entry(),
                               groups={"cn=it agents,ou=groups,dc=example,dc=org"}, manager_username="frank")
    assert (person.username, person.email, person.department, person.disabled, person.is_vip) == (
        "erin.example", "erin@example.org", "Finance", False, None)
    assert person.external_id == "03020100-0504-0706-0809-0a0b0c0d0e0f"  # objectGUID is little-endian
    # django-auth-ldap hands over as text what happens to decode as UTF-8: the same id comes out.
    as_text = _ad_entry(objectGUID=[bytes(range(16)).decode()])  # type: ignore[list-item]
    assert person_from_entry(config, "CN=x", as_text, groups=set(), manager_username="").external_id == (
        person.external_id)


@pytest.mark.parametrize(("flags", "disabled"), [(b"512", False), (b"514", True), (b"66050", True),
                                                 (b"66048", False)])
def test_active_directorys_accountdisable_bit_disables(flags: bytes, disabled: bool) -> None:
    from outcomedesk.accounts.ldap import LdapConfig, person_from_entry

    config = LdapConfig(url="ldap://dc1", user_search_base="DC=example,DC=org")
    person = person_from_entry(config, "CN=x", _ad_entry(userAccountControl=[flags]), groups=set(),
                               manager_username="")
    assert person.disabled is disabled


def test_a_manager_dn_named_by_the_username_needs_no_lookup() -> None:
    from outcomedesk.accounts.ldap import LdapConfig, manager_username_from_dn

    openldap = LdapConfig(url="ldap://x", user_search_base="dc=x", username_attr="uid")
    assert manager_username_from_dn(openldap, "uid=ivan,ou=people,dc=example,dc=org") == "ivan"
    assert manager_username_from_dn(openldap, "CN=Ivan Lead,OU=Staff,DC=example,DC=org") == ""


def test_a_staff_flag_an_admin_set_is_left_alone(world: World) -> None:
    erin = accounts.apply_directory_person(ERIN, mapping=MAPPING).user
    User.objects.filter(pk=erin.pk).update(is_staff=True)
    accounts.apply_directory_person(replace(ERIN, department="IT"), mapping=MAPPING)
    assert User.objects.get(pk=erin.pk).is_staff
