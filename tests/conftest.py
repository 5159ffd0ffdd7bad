"""Personas: Alice requests, Bob is an IT agent, Hana is an HR agent, Carol is an outsider, Root is admin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client

from outcomedesk.accounts.models import AssignmentGroup, Desk, User
from outcomedesk.tickets import services as tickets
from tests import factories as f


@dataclass
class World:
    it: Desk
    hr: Desk
    it_group: AssignmentGroup
    hr_group: AssignmentGroup
    alice: User  # requester
    carol: User  # another requester
    bob: User  # IT agent
    dave: User  # IT desk manager
    hana: User  # HR agent
    root: User  # platform admin, not in HR


@pytest.fixture
def world(db: None) -> World:
    it = f.make_desk("it", name="IT")
    hr = f.make_desk("hr", name="HR", confidential=True)
    it_group = f.make_group(it, "Service Desk")
    hr_group = f.make_group(hr, "People Team")
    return World(
        it=it,
        hr=hr,
        it_group=it_group,
        hr_group=hr_group,
        alice=f.make_user("alice", display_name="Alice Requester"),
        carol=f.make_user("carol", display_name="Carol Other"),
        bob=f.make_agent(it, "bob", group=it_group, display_name="Bob Agent"),
        dave=f.make_agent(it, "dave", group=it_group, role="manager", display_name="Dave Manager"),
        hana=f.make_agent(hr, "hana", group=hr_group, display_name="Hana HR"),
        root=f.make_user("root", is_superuser=True),
    )


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The roles that must use MFA are cached per process (read at most once a minute in production). Each test
    # starts from the migration's default, none required, already cached, so that query budgets count the page.
    from django.core.cache import cache

    from outcomedesk.accounts.mfa import CACHE_KEY, CACHE_SECONDS

    cache.set(CACHE_KEY, frozenset(), CACHE_SECONDS)
    yield
    cache.delete(CACHE_KEY)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- AI assist: a desk with a history to learn from ------------------------------------------------------

NETWORK = ["VPN drops every few minutes from home", "cannot connect to the VPN client", "wifi on floor 3 is down",
           "network share unreachable, VPN connected", "VPN certificate expired, cannot connect", "wifi keeps dropping"]
PRINTING = ["printer on floor 2 jams on every page", "cannot print to the colour printer", "printer shows toner low",
            "print queue stuck, printer offline", "printer prints blank pages", "scanner of the printer fails"]


@pytest.fixture
def history(world: World) -> dict[str, object]:
    """Sixty resolved IT tickets: network ones went to Network with category Connectivity, printing ones to
    the Service Desk with category Printing."""
    network = f.make_group(world.it, "Network")
    connectivity, printing = f.make_category(world.it, "Connectivity"), f.make_category(world.it, "Printing")
    for round_ in range(5):
        for text in NETWORK:
            t = f.make_ticket(world.bob, world.it, title=text, description=f"round {round_}", group=network,
                              category=connectivity, impact=2)
            tickets.change_state(world.bob, t, "resolved", resolution_notes="reset the tunnel")
        for text in PRINTING:
            t = f.make_ticket(world.bob, world.it, title=text, description=f"round {round_}", group=world.it_group,
                              category=printing, impact=3)
            tickets.change_state(world.bob, t, "resolved", resolution_notes="cleared the queue")
    return {"network": network, "connectivity": connectivity, "printing": printing}


# --- a real IMAP server (tests/mail_servers.py) -----------------------------------------------------------

@pytest.fixture(scope="session")
def dovecot():  # type: ignore[no-untyped-def]
    from tests.mail_servers import DovecotServer

    server = DovecotServer().start()
    yield server
    server.stop()


# --- a real OpenLDAP server (tests/ldap_server.py) ---------------------------------------------------------

@pytest.fixture(scope="session")
def ldap_server():  # type: ignore[no-untyped-def]
    from tests.ldap_server import LdapServer

    server = LdapServer().start()
    yield server
    server.stop()


@pytest.fixture
def ldap_settings(settings, ldap_server):  # type: ignore[no-untyped-def]
    """The product's settings for the test directory: LDAP login on, the group mapping of tests/ldap_server.py."""
    import json

    from outcomedesk.accounts.directory import parse_group_mapping
    from outcomedesk.accounts.ldap import LdapConfig
    from tests import ldap_server as directory

    config = LdapConfig(
        url=ldap_server.url, bind_dn=directory.READER_DN, bind_password=directory.READER_PASSWORD,
        user_search_base=f"ou=people,{directory.BASE}", user_filter="(&(objectClass=inetOrgPerson)(uid=%(user)s))",
        group_search_base=f"ou=groups,{directory.BASE}", group_filter="(objectClass=groupOfNames)",
        username_attr="uid", id_attr="entryUUID", department_attr="departmentNumber", vip_attr="businessCategory",
        disabled_attr="employeeType", timeout=3,
    )
    settings.OUTCOMEDESK_LDAP = config
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend",
                                        "allauth.account.auth_backends.AuthenticationBackend",
                                        "outcomedesk.accounts.ldap_backend.DirectoryLDAPBackend"]
    settings.OUTCOMEDESK_DIRECTORY_GROUPS = parse_group_mapping(json.dumps(directory.MAPPING))
    return config


# --- single sign-on: real identity providers on 127.0.0.1 (tests/sso/servers.py) ---------------------------
from tests.sso.servers import oidc_provider, saml_idp  # noqa: E402, F401
