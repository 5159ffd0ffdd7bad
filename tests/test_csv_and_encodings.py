"""CSV exports neutralise formula cells through the one writer in core; imports in another encoding than UTF-8
are refused by the CLI with a message naming the file and the encoding, and a non-zero exit."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from outcomedesk.accounts.services import create_token
from outcomedesk.cli import main
from outcomedesk.core.csv_export import FORMULA_START, csv_writer, safe_cell
from tests import factories as f
from tests.conftest import World, client_for

SRC = Path(__file__).resolve().parent.parent / "src"


@pytest.mark.parametrize("start", FORMULA_START)
def test_a_text_cell_starting_a_formula_gets_a_leading_apostrophe(start: str) -> None:
    out = io.StringIO()
    csv_writer(out).writerow([f"{start}HYPERLINK(\"http://evil\")", "plain", -3, 2.5])
    cell, plain, number, fraction = next(csv.reader(io.StringIO(out.getvalue())))
    assert cell == f"'{start}HYPERLINK(\"http://evil\")"
    assert (plain, number, fraction) == ("plain", "-3", "2.5")
    assert safe_cell(f"x{start}") == f"x{start}"


def test_every_csv_writer_in_the_product_is_the_one_in_core() -> None:
    writers = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
               if ("csv.writer(" in p.read_text() or "csv.DictWriter(" in p.read_text())]
    assert writers == ["outcomedesk/core/csv_export.py"]


@pytest.mark.django_db
@pytest.mark.parametrize("start", FORMULA_START)
def test_ticket_exports_of_the_queue_and_the_api_neutralise_formula_titles(world: World, start: str) -> None:
    f.make_ticket(world.alice, world.it, title=f"{start}cmd|' /C calc'!A0")
    page = b"".join(client_for(world.bob).get("/desk/export.csv", {"state": "all"}).streaming_content).decode()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token('bob').key}"}
    from django.test import Client

    api = b"".join(Client().get("/api/v1/tickets-export", {"state": "all"}, **headers).streaming_content).decode()
    for body in (page, api):
        titles = [row["title"] for row in csv.DictReader(io.StringIO(body))]
        # The title is stripped by the service, so a leading tab or CR never survives to the export.
        assert all(t.startswith("'") or not t.startswith(FORMULA_START) for t in titles), titles


# --- imports in another encoding ---------------------------------------------------------------------------

def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    err = capsys.readouterr().err
    return int(exited.value.code or 0), err


ROWS = "title,desk,description\nImprimante cassée,it,Ça ne marche plus\n"


@pytest.mark.parametrize(("encoding", "named"), [("utf-16", "UTF-16"), ("latin-1", "not UTF-8")])
@pytest.mark.django_db
def test_import_tickets_in_another_encoding_names_the_file_and_exits_non_zero(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str, named: str) -> None:
    path = tmp_path / "tickets.csv"
    path.write_bytes(ROWS.encode(encoding))
    code, err = _cli(capsys, "import", "tickets", str(path), "--as", "bob")
    assert code != 0
    assert str(path) in err and named in err and "Traceback" not in err


@pytest.mark.django_db
def test_import_jsonl_in_latin_1_names_the_line(world: World, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_bytes('{"title": "ok", "desk": "it"}\n{"title": "café", "desk": "it"}\n'.encode("latin-1"))
    code, err = _cli(capsys, "import", "tickets", str(path), "--as", "bob")
    assert code != 0 and "line 2" in err and "Traceback" not in err


@pytest.mark.django_db
def test_import_events_in_utf_16_is_refused(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes("number,opened_at\nINC1,2026-01-01\n".encode("utf-16"))
    code, err = _cli(capsys, "import", "events", str(path), "--format", "servicenow")
    assert code != 0 and str(path) in err and "UTF-16" in err and "Traceback" not in err


@pytest.mark.django_db
def test_assist_evaluate_and_rank_refuse_other_encodings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "train.csv"
    good.write_text("text,label\nvpn down,network\n", encoding="utf-8")
    latin = tmp_path / "test.csv"
    latin.write_bytes("text,label\nimprimante cassée,printing\n".encode("latin-1"))
    code, err = _cli(capsys, "assist", "evaluate", "--train", str(good), "--test", str(latin), "--text", "text",
                     "--label", "label")
    assert code != 0 and str(latin) in err and "not UTF-8" in err and "Traceback" not in err
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes('{"id": "1", "title": "VPN", "body": "x"}\n'.encode("utf-16"))
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": "q", "title": "VPN", "body": "", "candidates": ["1"]}\n', encoding="utf-8")
    code, err = _cli(capsys, "assist", "rank", "--corpus", str(corpus), "--queries", str(queries))
    assert code != 0 and str(corpus) in err and "UTF-16" in err and "Traceback" not in err
