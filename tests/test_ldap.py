"""LDAP login and the directory sync against a real OpenLDAP server (Debian's slapd, tests/ldap_server.py).

Erin is an IT agent by her group, Ivan leads IT and manages Erin, Hedda manages HR and is a VIP, Sam is a
service manager, Dora is disabled in the directory, Nina is in no mapped group."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.directory import DirectoryPerson
from outcomedesk.accounts.ldap import LdapConfig, LdapError, sync_directory
from outcomedesk.accounts.models import DeskMembership, User
from tests.conftest import World
from tests.ldap_server import PASSWORD, LdapServer

_PERSON = DirectoryPerson(source="oidc:corp", external_id="sub-1", username="someone")


def desks_of(username: str) -> dict[str, str]:
    return {m.desk.slug: m.role for m in DeskMembership.objects.filter(user__username=username).select_related("desk")}


def login(username: str, password: str) -> Client:
    client = Client()
    response = client.post("/login/", {"login": username, "password": password})
    assert response.status_code in (200, 302)
    return client


def test_login_through_ldap_creates_the_account_with_its_desks_and_roles(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    user = authenticate(username="erin", password=PASSWORD)
    assert user is not None and user.username == "erin"
    erin = User.objects.get(username="erin")
    assert (erin.email, erin.department, erin.display_name, erin.directory_source) == (
        "erin@example.org", "IT", "Erin Agent", "ldap")
    assert len(erin.directory_id) == 36  # entryUUID
    assert not erin.has_usable_password()
    assert desks_of("erin") == {"it": "agent"}


def test_login_gives_the_roles_and_flags_of_the_groups(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    assert authenticate(username="hedda", password=PASSWORD) is not None
    assert authenticate(username="sam", password=PASSWORD) is not None
    hedda, sam = User.objects.get(username="hedda"), User.objects.get(username="sam")
    assert desks_of("hedda") == {"hr": "manager"} and hedda.is_vip
    assert sam.is_service_manager and desks_of("sam") == {}


def test_a_wrong_password_is_refused_and_makes_no_account(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    assert authenticate(username="erin", password="not her password") is None
    assert authenticate(username="nobody", password=PASSWORD) is None
    assert not User.objects.filter(username__in=["erin", "nobody"]).exists()
    response = Client().post("/login/", {"login": "erin", "password": "not her password"})
    assert response.status_code == 200 and b"are not correct" in response.content


def test_a_person_disabled_in_the_directory_cannot_log_in(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    assert authenticate(username="dora", password=PASSWORD) is None
    assert not User.objects.get(username="dora").is_active


def test_the_web_login_signs_in_with_the_directory_password(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    client = login("erin", PASSWORD)
    assert client.get("/desk/").status_code == 200


def test_the_manager_is_linked_at_login_once_their_account_exists(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    authenticate(username="ivan", password=PASSWORD)
    authenticate(username="erin", password=PASSWORD)
    assert User.objects.get(username="erin").manager == User.objects.get(username="ivan")


def test_sync_creates_and_updates_everyone(world: World, ldap_settings: LdapConfig) -> None:
    report = sync_directory(ldap_settings)
    # Dora, disabled in the directory, gets an account that is inactive from the start.
    assert (report.created, report.updated, report.disabled, report.unchanged, report.failed) == (6, 0, 0, 0, [])
    erin, nina = User.objects.get(username="erin"), User.objects.get(username="nina")
    assert erin.manager is not None and erin.manager.username == "ivan"
    assert nina.manager is not None and nina.manager.username == "hedda"  # her manager came after her
    assert desks_of("ivan") == {"it": "manager"} and not User.objects.get(username="dora").is_active
    again = sync_directory(ldap_settings)
    assert (again.created, again.updated, again.disabled, again.unchanged) == (0, 0, 0, 6)


def test_a_dry_run_writes_nothing(world: World, ldap_settings: LdapConfig) -> None:
    report = sync_directory(ldap_settings, dry_run=True)
    assert report.created == 6 and "would be created 6" in report.summary()
    assert not User.objects.filter(directory_source="ldap").exists()


def test_a_person_removed_from_the_directory_loses_access_at_the_next_sync(  # type: ignore[no-untyped-def]
        world: World, ldap_settings, ldap_server: LdapServer) -> None:
    dn = ldap_server.add_person("lena", "Lena", "Leaver", department="IT")
    ldap_server.set_member("it-agents", "lena", member=True)
    try:
        browser = login("lena", PASSWORD)
        assert browser.get("/desk/").status_code == 200
        token = accounts.create_token("lena").key
        assert Client().get("/api/v1/tickets", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    finally:
        ldap_server.set_member("it-agents", "lena", member=False)
        ldap_server.delete(dn)
    report = sync_directory(ldap_settings)
    assert report.disabled == 1
    assert not User.objects.get(username="lena").is_active
    assert browser.get("/desk/")["Location"].startswith("/login/")
    assert Client().get("/api/v1/tickets", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert authenticate(username="lena", password=PASSWORD) is None


def test_a_group_removed_revokes_the_membership_at_the_next_sync(  # type: ignore[no-untyped-def]
        world: World, ldap_settings, ldap_server: LdapServer) -> None:
    sync_directory(ldap_settings)
    accounts.add_to_desk(User.objects.get(username="erin"), world.hr, "agent")  # by hand: stays
    ldap_server.set_member("it-agents", "erin", member=False)
    try:
        report = sync_directory(ldap_settings)
    finally:
        ldap_server.set_member("it-agents", "erin", member=True)
    assert report.updated == 1
    assert desks_of("erin") == {"hr": "agent"}


def test_the_command_prints_progress_and_a_summary(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command("directory", "sync", "--progress-seconds", "0", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("directory sync: reading ldap://127.0.0.1:")
    assert "directory sync: 0/6 people applied" in lines and "directory sync: 6/6 people applied" in lines
    assert lines[-1] == "directory sync: created 6, updated 0, disabled 0, unchanged 0, failed 0"


def test_a_server_that_is_down_gives_a_clear_error(world: World, ldap_settings: LdapConfig) -> None:
    down = replace(ldap_settings, url="ldap://127.0.0.1:9")
    with pytest.raises(LdapError, match=r"cannot reach the LDAP server at ldap://127.0.0.1:9"):
        sync_directory(down)


def test_a_refused_bind_gives_a_clear_error_and_a_non_zero_exit(world: World, ldap_settings, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTCOMEDESK_LDAP = replace(ldap_settings, bind_password="wrong")
    with pytest.raises(CommandError, match="refused the bind as 'cn=reader,ou=services,dc=example,dc=org'"):
        call_command("directory", "sync")


def test_login_while_the_server_is_down_is_refused_without_an_error_page(world: World, ldap_settings, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTCOMEDESK_LDAP = replace(ldap_settings, url="ldap://127.0.0.1:9")
    response = Client().post("/login/", {"login": "erin", "password": PASSWORD})
    assert response.status_code == 200 and b"are not correct" in response.content


def test_a_search_base_that_finds_nobody_does_not_disable_everyone(world: World, ldap_settings: LdapConfig) -> None:
    sync_directory(ldap_settings)
    empty = replace(ldap_settings, user_filter="(&(objectClass=inetOrgPerson)(uid=zz%(user)s))")
    with pytest.raises(LdapError, match="found nobody"):
        sync_directory(empty)
    assert User.objects.filter(directory_source="ldap", is_active=True).count() == 5


def test_starttls_with_the_servers_certificate_logs_in_and_syncs(  # type: ignore[no-untyped-def]
        world: World, ldap_settings: LdapConfig, ldap_server: LdapServer, settings) -> None:
    secured = replace(ldap_settings, start_tls=True, ca_file=str(ldap_server.certificate))
    settings.OUTCOMEDESK_LDAP = secured
    assert authenticate(username="erin", password=PASSWORD) is not None
    report = sync_directory(secured)
    assert (report.created, report.updated) == (5, 1)  # Erin's manager, Ivan, had no account at her login


def test_starttls_with_an_untrusted_certificate_is_refused_clearly(world: World, ldap_settings: LdapConfig) -> None:
    untrusted = replace(ldap_settings, start_tls=True, ca_file="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(LdapError, match=r"LDAP error at ldap://127.0.0.1:\d+: Connect error"):
        sync_directory(untrusted)


def test_people_are_read_a_page_at_a_time(world: World, ldap_settings: LdapConfig) -> None:
    report = sync_directory(replace(ldap_settings, page_size=2))
    assert report.created == 6


def test_a_person_who_cannot_be_applied_is_skipped_and_named(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    sso = accounts.apply_directory_person(replace(_PERSON, username="nina"))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("directory", "sync", stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert "skipped nina: username: 'nina' belongs to an account of 'oidc:corp', not 'ldap'" in err.getvalue()
    assert out.getvalue().splitlines()[-1].endswith("unchanged 0, failed 1")
    assert User.objects.get(pk=sso.user.pk).directory_source == "oidc:corp"


def test_the_periodic_task_runs_the_sync(world: World, ldap_settings) -> None:  # type: ignore[no-untyped-def]
    from outcomedesk.accounts.tasks import sync_directory as task

    assert task() == "created 6, updated 0, disabled 0, unchanged 0, failed 0"
    assert User.objects.filter(directory_source="ldap").count() == 6


# --- the same from the environment, through the `outcomedesk` command ----------------------------------------

def _run(args: list[str], tmp_path, **env: str):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OUTCOMEDESK_", "DJANGO_", "DATABASE_URL"))}
    clean.update(OUTCOMEDESK_DATA_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-m", "outcomedesk", *args], env=clean, capture_output=True, text=True,
                          timeout=300)


def _ldap_env(server: LdapServer) -> dict[str, str]:
    from tests import ldap_server as directory

    return {
        "OUTCOMEDESK_LDAP_URL": server.url,
        "OUTCOMEDESK_LDAP_BIND_DN": directory.READER_DN,
        "OUTCOMEDESK_LDAP_BIND_PASSWORD": directory.READER_PASSWORD,
        "OUTCOMEDESK_LDAP_USER_SEARCH_BASE": f"ou=people,{directory.BASE}",
        "OUTCOMEDESK_LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid=%(user)s))",
        "OUTCOMEDESK_LDAP_GROUP_SEARCH_BASE": f"ou=groups,{directory.BASE}",
        "OUTCOMEDESK_LDAP_USERNAME_ATTR": "uid",
        "OUTCOMEDESK_LDAP_ID_ATTR": "entryUUID",
        "OUTCOMEDESK_LDAP_DEPARTMENT_ATTR": "departmentNumber",
        "OUTCOMEDESK_LDAP_DISABLED_ATTR": "employeeType",
        "OUTCOMEDESK_DIRECTORY_GROUPS": '{"ServiceManagers": ["service-manager"]}',
    }


def test_a_malformed_mapping_or_ldap_setting_stops_the_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _run(["check"], tmp_path, OUTCOMEDESK_DIRECTORY_GROUPS='{"Staff": ["boss"]}')
    assert result.returncode == 2
    assert "OUTCOMEDESK_DIRECTORY_GROUPS: 'Staff' grants 'boss', which is not a role" in result.stderr
    result = _run(["check"], tmp_path, OUTCOMEDESK_LDAP_URL="ldap.example.org")
    assert result.returncode == 2
    assert "OUTCOMEDESK_LDAP_URL='ldap.example.org' must start with ldap://" in result.stderr
    assert "OUTCOMEDESK_LDAP_USER_SEARCH_BASE is required" in result.stderr


def test_the_ldap_settings_install_the_backend_and_schedule_the_sync(tmp_path, ldap_server: LdapServer) -> None:  # type: ignore[no-untyped-def]
    code = ("from django.conf import settings; print(settings.AUTHENTICATION_BACKENDS[-1]); "
            "print(settings.CELERY_BEAT_SCHEDULE['directory-sync']['schedule'])")
    result = _run(["shell", "-v", "0", "-c", code], tmp_path, OUTCOMEDESK_DIRECTORY_SYNC_MINUTES="15",
                  **_ldap_env(ldap_server))
    assert result.stdout.split() == ["outcomedesk.accounts.ldap_backend.DirectoryLDAPBackend", "900.0"], result.stderr
    code = "from django.conf import settings; print(settings.AUTHENTICATION_BACKENDS)"
    result = _run(["shell", "-v", "0", "-c", code], tmp_path)
    assert "ldap" not in result.stdout


def test_the_command_fails_clearly_with_a_non_zero_exit(tmp_path, ldap_server: LdapServer) -> None:  # type: ignore[no-untyped-def]
    env = _ldap_env(ldap_server)
    result = _run(["directory", "sync"], tmp_path, **{**env, "OUTCOMEDESK_LDAP_BIND_PASSWORD": "wrong"})
    assert result.returncode == 1
    assert "refused the bind as 'cn=reader,ou=services,dc=example,dc=org'" in result.stderr
    assert "Traceback" not in result.stderr
    result = _run(["directory", "sync"], tmp_path, **{**env, "OUTCOMEDESK_LDAP_URL": "ldap://127.0.0.1:9"})
    assert result.returncode == 1
    assert "cannot reach the LDAP server at ldap://127.0.0.1:9" in result.stderr
    result = _run(["directory", "sync"], tmp_path)
    assert result.returncode == 1 and "LDAP is not configured" in result.stderr


def test_a_manager_whose_dn_is_named_by_cn_is_found_at_login_and_at_sync(  # type: ignore[no-untyped-def]
        world: World, ldap_settings: LdapConfig, ldap_server: LdapServer) -> None:
    """As in Active Directory (CN=Olga Owner,OU=...), the manager's DN does not carry their username."""
    import ldap.modlist

    from tests.ldap_server import BASE

    olga = f"cn=Olga Owner,ou=people,{BASE}"
    entry = {"objectClass": [b"inetOrgPerson"], "cn": [b"Olga Owner"], "sn": [b"Owner"], "uid": [b"olga"],
             "userPassword": [PASSWORD.encode()]}
    conn = ldap_server.admin()
    conn.add_s(olga, ldap.modlist.addModlist(entry))
    conn.unbind_s()
    pete = ldap_server.add_person("pete", "Pete", "Report")
    conn = ldap_server.admin()
    conn.modify_s(pete, [(ldap.MOD_ADD, "manager", olga.encode())])
    conn.unbind_s()
    try:
        assert authenticate(username="olga", password=PASSWORD) is not None
        assert authenticate(username="pete", password=PASSWORD) is not None
        assert User.objects.get(username="pete").manager == User.objects.get(username="olga")
        User.objects.filter(username="pete").update(manager=None)
        sync_directory(ldap_settings)
        assert User.objects.get(username="pete").manager == User.objects.get(username="olga")
    finally:
        ldap_server.delete(pete)
        ldap_server.delete(olga)


def test_a_group_mapped_to_a_missing_desk_refuses_the_login_and_skips_the_person(  # type: ignore[no-untyped-def]
        world: World, ldap_settings: LdapConfig, settings, caplog) -> None:
    from outcomedesk.accounts.directory import parse_group_mapping

    settings.OUTCOMEDESK_DIRECTORY_GROUPS = parse_group_mapping('{"it-agents": ["desk:legal:agent"]}')
    assert authenticate(username="erin", password=PASSWORD) is None
    assert "LDAP login of erin refused" in caplog.text and "legal" in caplog.text
    assert not User.objects.filter(username="erin").exists()
    report = sync_directory(ldap_settings)
    assert report.created == 5 and len(report.failed) == 1 and report.failed[0].startswith("erin: ")
