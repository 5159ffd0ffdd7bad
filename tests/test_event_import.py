"""`outcomedesk import events` and `outcomedesk insights report` with bad input: a file that is not the named
format, missing columns, unparseable dates, a period that ends before it starts. Good rows are imported, bad
rows reported with their row and column, and a re-run changes nothing already imported.

The files are slices of the real logs in ../shared/data, with one field broken where a test needs it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from outcomedesk.core.models import AuditEvent
from outcomedesk.tickets.models import Ticket
from tests import factories as f

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SNOW = DATA / "servicenow_incident_event_log" / "incident_event_log.csv"
BPIC = DATA / "bpic2013_volvo_incidents" / "VINST-new.csv"

pytestmark = [
    pytest.mark.skipif(not SNOW.exists() or not BPIC.exists(), reason="the shared data folder is not beside the clone"),
    pytest.mark.django_db,
]


def _head(source: Path, lines: int) -> list[list[str]]:
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        return [row for _, row in zip(range(lines), reader, strict=False)]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", "events", *args, "--quiet", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def desk(db: None) -> object:
    return f.make_desk("snowt", name="History")


def test_a_slice_of_the_servicenow_log_imports_and_a_rerun_changes_nothing(tmp_path: Path, desk: object) -> None:
    path = _write(tmp_path / "slice.csv", _head(SNOW, 60))
    code, out, err = _run(str(path), "--format", "servicenow", "--desk", "snowt")
    assert code == 0 and err == ""
    imported = Ticket.objects.filter(external_ref__startswith="servicenow:").count()
    assert imported > 5 and f"imported {imported} tickets" in out
    before = (list(Ticket.objects.order_by("pk").values()), AuditEvent.objects.count())
    code, out, _ = _run(str(path), "--format", "servicenow", "--desk", "snowt")
    assert code == 0 and "imported 0 tickets" in out and f"skipped {imported} imported before" in out
    assert (list(Ticket.objects.order_by("pk").values()), AuditEvent.objects.count()) == before


def test_a_file_of_another_format_is_refused_naming_the_missing_columns(tmp_path: Path, desk: object) -> None:
    path = _write(tmp_path / "volvo.csv", _head(BPIC, 20))
    with pytest.raises(CommandError, match=r"is not a ServiceNow .*missing columns .*incident_state"):
        _run(str(path), "--format", "servicenow", "--desk", "snowt")
    assert not Ticket.objects.exists()


def test_one_missing_column_is_named(tmp_path: Path, desk: object) -> None:
    rows = _head(SNOW, 10)
    drop = rows[0].index("opened_at")
    path = _write(tmp_path / "cut.csv", [row[:drop] + row[drop + 1:] for row in rows])
    with pytest.raises(CommandError, match=r"missing column opened_at$"):
        _run(str(path), "--format", "servicenow", "--desk", "snowt")
    assert not Ticket.objects.exists()


def test_text_that_is_not_csv_at_all_is_refused(tmp_path: Path, desk: object) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(CommandError, match=r"photo.csv: not UTF-8"):
        _run(str(path), "--format", "servicenow", "--desk", "snowt")
    with pytest.raises(CommandError, match="No such file"):
        _run(str(tmp_path / "absent.csv"), "--format", "servicenow", "--desk", "snowt")
    with pytest.raises(CommandError, match="--desk nowhere: no desk"):
        _run(str(path), "--format", "servicenow", "--desk", "nowhere")


def test_rows_with_unparseable_dates_are_reported_and_the_rest_imported(tmp_path: Path, desk: object) -> None:
    rows = _head(SNOW, 60)
    header = rows[0]
    updated = header.index("sys_updated_at")
    rows[5][updated] = "yesterday afternoon"
    path = _write(tmp_path / "broken.csv", rows)
    code, out, err = _run(str(path), "--format", "servicenow", "--desk", "snowt")
    assert code == 1
    assert "row 6: sys_updated_at:" in err and "yesterday afternoon" in err
    assert "rejected 1 rows" in out
    good = Ticket.objects.count()
    assert good > 5
    # Fixing the row and running again imports nothing twice.
    rows[5][updated] = _head(SNOW, 60)[5][updated]
    _write(path, rows)
    code, out, _ = _run(str(path), "--format", "servicenow", "--desk", "snowt")
    assert code == 0 and Ticket.objects.count() == good + int(out.split("imported ")[1].split(" ")[0])


def test_the_volvo_log_imports_through_its_mapping(tmp_path: Path, desk: object) -> None:
    path = _write(tmp_path / "volvo.csv", _head(BPIC, 200))
    code, out, _ = _run(str(path), "--format", "bpic2013", "--desk", "snowt")
    assert code in (0, 1)
    assert Ticket.objects.filter(external_ref__startswith="bpic2013:").count() >= 5
    assert "imported" in out


# --- insights report ------------------------------------------------------------------------------------------

def _report(*args: str) -> str:
    out = io.StringIO()
    call_command("insights", "report", *args, stdout=out)
    return out.getvalue()


def test_a_period_that_ends_before_it_starts_names_the_argument(db: None) -> None:
    with pytest.raises(CommandError, match=r"--to: the period ends \(2026-10-01\) before it starts"):
        _report("--from", "2026-10-31", "--to", "2026-10-01")
    with pytest.raises(CommandError, match="--from: "):
        _report("--from", "31/10/2026", "--to", "2026-11-01")
    with pytest.raises(CommandError, match="--desk: no desk 'nowhere'"):
        _report("--from", "2026-10-01", "--to", "2026-10-31", "--desk", "nowhere")
    assert "ticket_volume" in _report("--from", "2026-10", "--format", "csv")
