"""No input gives a 5xx: ids and numbers parsed by one helper, every /api/ error JSON (400, 404, 405, 413, 500
included), description and comment lengths limited, the OpenAPI document valid and its docs page served."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from outcomedesk.accounts.services import create_token
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.parsing import ID_MAX, as_id, is_digits, parse_id, parse_int
from outcomedesk.experience.models import Survey
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World, client_for

SRC = Path(__file__).resolve().parent.parent / "src"
HELPER = SRC / "outcomedesk" / "core" / "parsing.py"
BAD_NUMBERS = ["¹", "²³", "٣", "99999999999999999999999", "-1", "1e3", " ", "x"]


# --- the helper --------------------------------------------------------------------------------------------

def test_isdigit_is_used_nowhere_but_in_the_parsing_helper() -> None:
    offenders = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py") if p != HELPER
                 for n, line in enumerate(p.read_text().splitlines(), 1) if ".isdigit()" in line]
    assert offenders == [], f"parse ids and numbers with outcomedesk.core.parsing, not str.isdigit(): {offenders}"


@pytest.mark.parametrize("raw", ["¹", "٣", "1.5", "", "true", "9" * 40])
def test_parse_int_refuses_what_is_not_a_plain_whole_number_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_int(raw, "score")
    assert list(refused.value.errors) == ["score"]


def test_parse_int_keeps_bounds_and_takes_ints_and_digit_text() -> None:
    assert parse_int(" 42 ", "n") == 42
    assert parse_int(-3, "n") == -3
    with pytest.raises(InvalidInput, match="from 1 to 5"):
        parse_int("6", "priority", minimum=1, maximum=5)
    with pytest.raises(InvalidInput):
        parse_int(True, "n")
    assert parse_id(str(ID_MAX), "id") == ID_MAX
    with pytest.raises(InvalidInput):
        parse_id(str(ID_MAX + 1), "id")
    assert as_id("it") is None and as_id("0") is None and as_id("12") == 12
    assert is_digits("0123") and not is_digits("¹") and not is_digits("٣") and not is_digits("")


# --- the API: never a 5xx, always JSON ----------------------------------------------------------------------

def _api_sweep(client: Client, headers: dict[str, str], number: str, bad: str) -> list[tuple[Any, ...]]:
    """Every operation of the OpenAPI document, each id, number and query parameter set to `bad`."""
    schema = client.get("/api/v1/openapi.json").json()
    found = []
    for route, operations in schema["paths"].items():
        for method, operation in operations.items():
            url = re.sub(r"\{([^}]+)\}", lambda m: bad if m.group(1) != "number" else number, route)
            query = {p["name"]: bad for p in operation.get("parameters", []) if p["in"] == "query"}
            body: dict[str, Any] = {}
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                ref = content["application/json"]["schema"].get("$ref", "")
                fields = schema["components"]["schemas"].get(ref.split("/")[-1], {}).get("properties", {})
                body = {name: bad for name in fields}
            if method == "get":
                response = client.get(url, query, **headers)
            else:
                url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
                response = getattr(client, method)(url, data=json.dumps(body), content_type="application/json",
                                                   **headers)
            if response.status_code >= 500 or not response["Content-Type"].startswith(("application/json",
                                                                                       "text/csv")):
                found.append((method, url, body, response.status_code))
            elif response.status_code >= 400:
                assert {"detail", "errors"} <= set(response.json()), (method, url)
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_no_api_operation_answers_5xx_to_a_bad_number(world: World, bad: str) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Printer jams")
    for user in ("bob", "alice"):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(user).key}"}
        assert _api_sweep(Client(), headers, ticket.number, bad) == []


@pytest.mark.django_db
def test_a_superscript_in_a_filter_is_a_400_naming_the_field(world: World) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    response = Client().get("/api/v1/tickets", {"group": "¹"}, **headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "group"
    # A desk is an id or a slug: "¹" is neither, so nothing matches (and nothing breaks).
    assert Client().get("/api/v1/tickets", {"desk": "¹"}, **headers).status_code == 200


@pytest.mark.django_db
def test_the_anonymous_survey_answer_refuses_a_superscript_score_naming_it(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Laptop slow")
    tickets.change_state(world.bob, ticket, "resolved", resolution_notes="cleaned up")
    token = Survey.objects.get(ticket=ticket).token  # sent on resolution
    response = Client().post(f"/api/v1/surveys/{token}/response", data=json.dumps({"score": "¹"}),
                             content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "score", "message": response.json()["errors"][0]["message"]}]
    page = Client().get(f"/portal/survey/{token}/¹/")
    assert page.status_code < 500


@pytest.mark.django_db
def test_a_path_id_beyond_the_id_column_is_a_400_not_a_database_error(world: World) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    response = Client().post(f"/api/v1/assist/suggestions/{ID_MAX + 1}/accept", **headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "suggestion_id"


# --- the pages: an error beside the field, or 404 ----------------------------------------------------------

@pytest.mark.django_db
def test_pages_answer_bad_numbers_with_an_error_or_a_404(world: World) -> None:
    agent, requester = client_for(world.bob), client_for(world.alice)
    shown = agent.get("/desk/", {"group": "¹", "page": "¹"})
    assert shown.status_code == 400  # the queue page, with the error beside the filter
    assert "expects numbers" in shown.content.decode()
    assert requester.get("/portal/tickets/", {"page": "²"}).status_code == 200
    assert requester.get("/portal/attachments/99999999999999999999999/").status_code == 404
    for url in ("/insights/", "/insights/service/", "/insights/executive/", "/insights/monthly/",
                "/insights/maturity/", "/insights/improvement/", "/desk/export.csv"):
        for bad in BAD_NUMBERS:
            params = {k: bad for k in ("desk", "group", "page", "priority", "service", "category", "assignee",
                                       "requester", "from", "to", "by", "status", "preset", "channel", "type")}
            assert agent.get(url, params).status_code < 500, (url, bad)


# --- every /api/ error is JSON -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404(world: World) -> None:
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"]


@pytest.mark.django_db
def test_a_method_a_route_does_not_take_is_a_json_405_with_allow(world: World) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    response = Client().delete("/api/v1/me", **headers)
    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert response.json()["detail"]


@pytest.mark.django_db
def test_a_body_larger_than_django_accepts_is_a_json_413(world: World, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    response = Client().post("/api/v1/tickets", data=json.dumps({"desk": "it", "title": "x" * 5000}),
                             content_type="application/json", **headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"


@pytest.mark.django_db
def test_an_attachment_over_the_limit_is_a_json_413_and_nothing_is_stored(world: World, settings: Any) -> None:
    settings.ATTACHMENT_MAX_BYTES = 100
    ticket = f.make_ticket(world.alice, world.it, title="Screenshot")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('alice').key}"}
    upload = SimpleUploadedFile("shot.png", b"x" * 500, content_type="image/png")
    response = Client().post(f"/api/v1/tickets/{ticket.number}/attachments", {"file": upload}, **headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "attachments"
    assert ticket.attachments.count() == 0


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug nobody expected")


urlpatterns = [path("api/v1/boom", _boom), path("", include("outcomedesk.config.urls"))]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_an_unexpected_exception_under_api_is_a_json_500_with_the_logged_reference(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="outcomedesk.api"):
        response = Client().get("/api/v1/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["reference"] in body["detail"]
    assert "a bug nobody expected" not in response.content.decode()
    logged = [r for r in caplog.records if body["reference"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None


# --- lengths -----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_descriptions_and_comments_longer_than_the_setting_are_refused_naming_the_field(
        world: World, settings: Any) -> None:
    settings.TEXT_MAX_CHARS = 50
    with pytest.raises(InvalidInput) as refused:
        tickets.open_ticket(world.alice, desk="it", title="Long", description="y" * 51)
    assert "description" in refused.value.errors
    ticket = tickets.open_ticket(world.alice, desk="it", title="Short", description="y" * 50)
    with pytest.raises(InvalidInput) as refused:
        tickets.update_ticket(world.bob, ticket, {"description": "z" * 51})
    assert "description" in refused.value.errors
    with pytest.raises(InvalidInput) as refused:
        tickets.add_comment(world.alice, ticket, "w" * 51)
    assert "body" in refused.value.errors


# --- the OpenAPI document ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_openapi_document_is_valid_and_declares_the_error_answers(client: Client) -> None:
    from openapi_spec_validator import validate

    schema = client.get("/api/v1/openapi.json").json()
    validate(schema)
    titles = [s.get("title") for s in schema["components"]["schemas"].values()]
    assert len(titles) == len(set(titles))
    assert "SlaPolicyOut" in schema["components"]["schemas"] and "AssistPolicyOut" in schema["components"]["schemas"]
    for route, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "403", "404", "500"} <= set(operation["responses"]), (method, route)


@pytest.mark.django_db
def test_the_docs_page_renders_with_assets_of_this_server_only(client: Client) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert assets, "the docs page loads its scripts"
    assert all(not a.startswith(("http:", "https:", "//")) for a in assets), assets
    for asset in assets:
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset


@pytest.mark.django_db
def test_a_multipart_body_without_a_boundary_is_a_json_400(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Screenshot")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('alice').key}"}
    response = Client().generic("POST", f"/api/v1/tickets/{ticket.number}/attachments", b"x",
                                content_type="multipart/form-data", **headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


@pytest.mark.django_db
def test_a_nul_character_anywhere_in_a_request_is_a_400_naming_where(world: World) -> None:
    # PostgreSQL cannot store U+0000: without this the same request is a 500 there and accepted on SQLite.
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    body = Client().post("/api/v1/tickets", data=json.dumps({"desk": "it", "title": "a\x00b"}),
                         content_type="application/json", **headers)
    assert body.status_code == 400 and body.json()["errors"][0]["field"] == "body"
    query = Client().get("/api/v1/tickets", {"q": "vpn\x00"}, **headers)
    assert query.status_code == 400 and query.json()["errors"][0]["field"] == "q"
    assert Client().get("/api/v1/tickets/INC%00", **headers).status_code == 400
    form = client_for(world.alice).post("/portal/new/it/", {"title": "x\x00", "urgency": "3", "type": "incident"})
    assert form.status_code == 400
    assert not Ticket.objects.exists()
