"""The `outcomedesk` commands: createuser, token, import, search_index."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from outcomedesk.accounts.models import User
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_createuser_with_desk_role(world: World) -> None:
    run("createuser", "erin", "--email", "erin@example.org", "--password", "a long enough pass 42",
        "--desk", "it:manager")
    erin = User.objects.get(username="erin")
    assert erin.check_password("a long enough pass 42")
    assert erin.desk_memberships.get().role == "manager"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bob", "--no-password"], "already taken"),
        (["erin", "--no-password", "--desk", "nowhere"], "no desk"),
        (["erin", "--no-password", "--desk", "it:boss"], "role"),
        (["erin", "--password", "123"], "password"),
        (["erin", "--no-password", "--email", "not-an-address"], "e-mail"),
    ],
)
def test_createuser_rejects_bad_input(world: World, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("createuser", *args)
    assert not User.objects.filter(username="erin").exists()


def test_token_create_gives_a_working_bearer_token(world: World) -> None:
    key = run("token", "create", "bob").strip()
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").json()["username"] == "bob"
    assert "bob" in run("token", "list")
    with pytest.raises(CommandError, match="no active user"):
        run("token", "create", "nobody")


def test_import_tickets_reports_bad_rows_and_is_idempotent(world: World, tmp_path: Path) -> None:
    f.make_category(world.it, "Network")
    path = tmp_path / "tickets.csv"
    path.write_text(
        "external_ref,title,desk,requester,category,impact,urgency,opened_at,resolved_at,resolution_notes\n"
        "OLD-1,VPN down,it,alice,Network,2,2,2026-01-05T09:00:00+00:00,2026-01-05T11:00:00+00:00,Restarted gateway\n"
        "OLD-2,Printer jam,it,carol@example.org,,3,3,2026-01-06T10:00:00+00:00,,\n"
        "OLD-3,,it,alice,,3,3,,,\n"
        "OLD-4,Bad date,it,alice,,3,3,yesterday,,\n"
        "OLD-5,Who,it,ghost,Nope,3,3,,,\n"
    )
    with pytest.raises(SystemExit) as exit_:
        run("import", "tickets", str(path), "--as", "bob", "--quiet")
    assert exit_.value.code == 1
    assert Ticket.objects.count() == 2
    resolved = Ticket.objects.get(external_ref="OLD-1")
    assert resolved.state == "resolved" and resolved.opened_at.isoformat().startswith("2026-01-05T09:00")
    assert (resolved.resolved_at - resolved.opened_at).total_seconds() == 7200
    assert Ticket.objects.get(external_ref="OLD-2").requester == world.carol
    with pytest.raises(SystemExit):
        run("import", "tickets", str(path), "--as", "bob", "--quiet")
    assert Ticket.objects.count() == 2


def test_import_names_missing_columns_and_unknown_formats(world: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("title,desk\nx,it\n")
    with pytest.raises(CommandError, match=r"missing column.*requester"):
        run("import", "tickets", str(bad), "--as", "bob", "--quiet")
    with pytest.raises(CommandError, match=r"use a \.csv or \.jsonl"):
        odd = tmp_path / "x.xml"
        odd.write_text("<x/>")
        run("import", "tickets", str(odd), "--as", "bob", "--quiet")
    assert Ticket.objects.count() == 0


def test_import_jsonl_rejects_non_json_lines(world: World, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"title": "Mouse broken", "desk": "it", "requester": "alice"}\nnot json\n')
    with pytest.raises(SystemExit):
        run("import", "tickets", str(path), "--as", "bob", "--quiet")
    assert list(Ticket.objects.values_list("title", flat=True)) == ["Mouse broken"]


def test_search_index_rebuild(world: World) -> None:
    f.make_ticket(world.alice, world.it, title="Keyboard missing keys")
    assert "indexed 1 tickets" in run("search_index", "--quiet")
