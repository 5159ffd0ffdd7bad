"""The REST API: auth, errors as JSON naming the field, conflicts, permissions, search."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from outcomedesk.accounts.services import create_token, revoke_token
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World, client_for

pytestmark = pytest.mark.django_db


class Api:
    """A client speaking JSON with a bearer token."""

    def __init__(self, username: str) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(username).key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def send(self, method: str, path: str, body: Any) -> Any:
        call = getattr(self.client, method)
        return call(f"/api/v1{path}", data=json.dumps(body), content_type="application/json", **self.headers)


def test_openapi_schema_and_docs_are_served(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/tickets" in schema["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_no_token_is_401_json(client: Client, world: World) -> None:
    response = client.get("/api/v1/tickets")
    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "Authorization"
    bad = client.get("/api/v1/tickets", HTTP_AUTHORIZATION="Bearer od_nope")
    assert bad.status_code == 401


def test_revoked_token_stops_working(world: World) -> None:
    issued = create_token("bob")
    client = Client()
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {issued.key}").status_code == 200
    revoke_token(issued.token.prefix)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {issued.key}").status_code == 401


def test_create_read_update_and_resolve(world: World) -> None:
    api = Api("bob")
    created = api.send("post", "/tickets", {"desk": "it", "title": "VPN drops", "impact": 2, "urgency": 1,
                                            "requester": world.alice.pk, "tags": ["network"]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"].startswith("INC") and body["priority"] == 2 and body["tags"] == ["network"]
    assert body["requester"]["username"] == "alice" and body["channel"] == "api"
    number = body["number"]
    patched = api.send("patch", f"/tickets/{number}", {"version": body["version"], "assignee": world.bob.pk})
    assert patched.status_code == 200 and patched.json()["state"] == "assigned"
    resolved = api.send("post", f"/tickets/{number}/state", {"state": "resolved", "resolution_notes": "Fixed MTU"})
    assert resolved.json()["state"] == "resolved"
    timeline = api.get(f"/tickets/{number}/timeline").json()
    assert {e["event"]["field"] for e in timeline if e["event"]} >= {"assignee", "state", "resolution_notes"}
    audit = api.get(f"/tickets/{number}/audit").json()
    assert all(e["channel"] == "api" for e in audit)


def test_stale_version_is_409_and_nothing_changes(world: World) -> None:
    api = Api("bob")
    ticket = f.make_ticket(world.alice, world.it, title="Original")
    assert api.send("patch", f"/tickets/{ticket.number}", {"version": 1, "title": "First"}).status_code == 200
    response = api.send("patch", f"/tickets/{ticket.number}", {"version": 1, "title": "Second"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "version"
    assert Ticket.objects.get(pk=ticket.pk).title == "First"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/tickets", {"desk": "it", "title": ""}, "title"),
        ("post", "/tickets", {"desk": "nowhere", "title": "x"}, "desk"),
        ("post", "/tickets", {"desk": "it", "title": "x", "impact": 9}, "impact"),
        ("post", "/tickets", {"desk": "it", "title": "x", "type": "bug"}, "type"),
        ("post", "/tickets", {"desk": "it", "title": "x", "category": 999}, "category"),
        ("post", "/tickets", {"desk": "it", "title": "x", "channel": "pigeon"}, "channel"),
        ("post", "/tickets", {"title": "x"}, "desk"),
        ("patch", "/tickets/{n}", {"priority": 9}, "priority"),
        ("patch", "/tickets/{n}", {"group": 999}, "group"),
        ("patch", "/tickets/{n}", {"assignee": "{hana}"}, "assignee"),
        ("patch", "/tickets/{n}", {"parent": "INC9999999"}, "parent"),
        ("post", "/tickets/{n}/state", {"state": "pending"}, "pending_reason"),
        ("post", "/tickets/{n}/state", {"state": "resolved"}, "resolution_notes"),
        ("post", "/tickets/{n}/state", {"state": "flying"}, "state"),
        ("post", "/tickets/{n}/reopen", {}, "state"),
        ("post", "/tickets/{n}/comments", {"body": "  "}, "body"),
        ("post", "/tickets/{n}/comments", {}, "body"),
        ("post", "/tickets/{n}/links", {"number": "INC9999999"}, "related"),
        ("post", "/tickets/{n}/merge", {"into": "INC9999999"}, "duplicate_of"),
        ("post", "/tickets-bulk", {"numbers": [], "changes": {}}, "tickets"),
    ],
)
def test_bad_input_is_4xx_json_naming_the_field(world: World, method: str, path: str, body: dict[str, Any],
                                                 field: str) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    before = Ticket.objects.get(pk=ticket.pk).version
    body = json.loads(json.dumps(body).replace('"{hana}"', str(world.hana.pk)))
    response = Api("bob").send(method, path.replace("{n}", ticket.number), body)
    assert 400 <= response.status_code < 500, response.content
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert Ticket.objects.get(pk=ticket.pk).version == before
    assert Ticket.objects.count() == 1


def test_malformed_json_is_400(world: World) -> None:
    api = Api("bob")
    response = api.client.post("/api/v1/tickets", data="{oops", content_type="application/json", **api.headers)
    assert response.status_code == 400 and response.json()["errors"]


def test_requester_cannot_read_anothers_ticket(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Alice's laptop")
    carol = Api("carol")
    assert carol.get(f"/tickets/{ticket.number}").status_code == 404
    assert carol.get("/tickets").json()["items"] == []
    assert carol.get("/search", q="laptop").json() == []
    assert carol.get("/search", q=ticket.number).json() == []
    assert Api("alice").get("/search", q="laptop").json()[0]["number"] == ticket.number


def test_it_agent_cannot_read_hr_tickets_by_api_or_search(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.hr, title="Maternity leave paperwork")
    for outsider in ("bob", "root"):
        api = Api(outsider)
        assert api.get(f"/tickets/{ticket.number}").status_code == 404
        assert api.get(f"/tickets/{ticket.number}/timeline").status_code == 404
        assert ticket.number not in [t["number"] for t in api.get("/tickets", state="all").json()["items"]]
        assert api.get("/search", q="maternity").json() == []
        assert api.send("post", f"/tickets/{ticket.number}/comments", {"body": "hi"}).status_code == 404
    assert Api("hana").get("/search", q="maternity").json()[0]["number"] == ticket.number


def test_requester_sees_no_internal_notes(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    bob = Api("bob")
    bob.send("post", f"/tickets/{ticket.number}/comments", {"body": "internal theory", "public": False})
    bob.send("post", f"/tickets/{ticket.number}/comments", {"body": "public answer"})
    alice = Api("alice")
    assert [c["body"] for c in alice.get(f"/tickets/{ticket.number}/comments").json()] == ["<p>public answer</p>"]
    assert "internal" not in json.dumps(alice.get(f"/tickets/{ticket.number}/timeline").json())
    assert "internal" not in json.dumps(alice.get(f"/tickets/{ticket.number}/audit").json())
    forbidden = alice.send("post", f"/tickets/{ticket.number}/comments", {"body": "x", "public": False})
    assert forbidden.status_code == 403


def test_list_filters_sort_and_pages(world: World) -> None:
    for i in range(5):
        f.make_ticket(world.alice, world.it, title=f"t{i}", impact=3 - (i % 3), urgency=3)
    api = Api("bob")
    page = api.get("/tickets", page_size=2, sort="priority").json()
    assert len(page["items"]) == 2 and page["has_more"] is True
    priorities = [t["priority"] for t in api.get("/tickets").json()["items"]]
    assert priorities == sorted(priorities)
    assert api.get("/tickets", state="bogus").status_code == 400
    assert api.get("/tickets", priority="9").json()["errors"][0]["field"] == "priority"


def test_attachments_upload_and_download_with_permissions(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    alice = Api("alice")
    upload = alice.client.post(
        f"/api/v1/tickets/{ticket.number}/attachments",
        {"file": SimpleUploadedFile("error.log", b"stack trace")},
        **alice.headers,
    )
    assert upload.status_code == 201, upload.content
    url = upload.json()["url"]
    assert b"".join(alice.client.get(url, **alice.headers).streaming_content) == b"stack trace"
    carol = Api("carol")
    assert carol.client.get(url, **carol.headers).status_code == 404
    rejected = alice.client.post(
        f"/api/v1/tickets/{ticket.number}/attachments", {"file": SimpleUploadedFile("x.exe", b"MZ")}, **alice.headers
    )
    assert rejected.status_code == 400 and rejected.json()["errors"][0]["field"] == "attachments"


def test_session_auth_requires_csrf_for_writes(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.bob)
    assert client.get("/api/v1/me").json()["username"] == "bob"
    response = client.post("/api/v1/tickets", data=json.dumps({"desk": "it", "title": "x"}),
                           content_type="application/json")
    assert response.status_code in (401, 403)
    assert Ticket.objects.count() == 0


def test_merge_and_bulk(world: World) -> None:
    a = f.make_ticket(world.alice, world.it)
    b = f.make_ticket(world.carol, world.it)
    api = Api("bob")
    merged = api.send("post", f"/tickets/{b.number}/merge", {"into": a.number})
    assert merged.status_code == 200 and "carol" in [w["username"] for w in merged.json()["watchers"]]
    bulk = api.send("post", "/tickets-bulk", {"numbers": [a.number], "changes": {"assignee": world.bob.pk}})
    assert bulk.json() == {"updated": [a.number]}


def test_desks_groups_services_me(world: World) -> None:
    f.make_service(world.it, "E-mail")
    api = Api("bob")
    assert {d["slug"] for d in api.get("/desks").json()} == {"it", "hr"}
    assert [g["name"] for g in api.get("/groups").json()] == ["Service Desk"]
    assert api.get("/services").json()[0]["name"] == "E-mail"
    assert api.get("/me").json()["desks"] == ["it"]
    assert client_for(world.alice).get("/api/v1/me").json()["is_agent"] is False


def test_csv_export_through_the_api(world: World) -> None:
    f.make_ticket(world.alice, world.it, title="Docking station")
    f.make_ticket(world.alice, world.hr, title="Contract change")
    response = Api("bob").get("/tickets-export", state="all")
    body = b"".join(response.streaming_content).decode()
    assert "Docking station" in body and "Contract change" not in body
    assert Api("bob").get("/tickets-export", sort="sideways").status_code == 400
