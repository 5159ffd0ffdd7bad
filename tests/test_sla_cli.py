"""`outcomedesk sla deadline`: the deadline, its explanation, and bad input named with a non-zero exit."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

CALENDAR = {
    "timezone": "Europe/Berlin",
    "hours": {d: [["09:00", "12:00"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE", "subdiv": "BY"},
}


def run(tmp_path: Path, *args: str, calendar: object = CALENDAR) -> str:
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(calendar))
    out = io.StringIO()
    call_command("sla", "deadline", "--calendar", str(path), *args, stdout=out)
    return out.getvalue().strip()


def test_deadline_with_explanation(tmp_path: Path) -> None:
    result = json.loads(run(tmp_path, "--start", "2026-05-22T16:30+02:00", "--business-minutes", "600",
                            "--pause", "2026-05-26T09:00+02:00/2026-05-26T11:00+02:00", "--json"))
    assert result["deadline"] == "2026-05-27T13:30:00+02:00"
    assert "Mon 25 May: holiday" in result["explanation"]
    assert "paused Tue 09:00 to Tue 11:00" in result["explanation"]
    assert run(tmp_path, "--start", "2026-05-22T16:30+02:00", "--business-minutes", "60") == (
        "2026-05-22T17:30:00+02:00"
    )


@pytest.mark.parametrize(
    ("args", "calendar", "message"),
    [
        (["--start", "2026-05-22T16:30", "--business-minutes", "60"], CALENDAR, "needs a UTC offset"),
        (["--start", "tomorrow", "--business-minutes", "60"], CALENDAR, "not an ISO 8601"),
        (["--start", "2026-05-22T16:30+02:00", "--business-minutes", "-5"], CALENDAR, "--business-minutes"),
        (["--start", "2026-05-22T16:30+02:00", "--business-minutes", "5",
          "--pause", "2026-05-22T18:00+02:00/2026-05-22T17:00+02:00"], CALENDAR, "ends before it starts"),
        (["--start", "2026-05-22T16:30+02:00", "--business-minutes", "5"], {"timezone": "Nowhere/City"},
         "unknown time zone"),
        (["--start", "2026-05-22T16:30+02:00", "--business-minutes", "5"],
         {"hours": {"mon": [["10:00", "09:00"]]}}, "hours.mon[0]"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, args: list[str], calendar: object, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run(tmp_path, *args, calendar=calendar)


def call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("sla", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_calendar_import_export_and_a_bad_file_stores_nothing(tmp_path: Path, db: None) -> None:
    from outcomedesk.sla.models import BusinessCalendar

    path = tmp_path / "office.json"
    path.write_text(json.dumps(CALENDAR))
    assert "created calendar Office" in call("calendar", "import", "--name", "Office", "--file", str(path))[0]
    exported = json.loads(call("calendar", "export", "--name", "Office")[0])
    assert exported["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]]
    path.write_text(json.dumps({**CALENDAR, "timezone": "Atlantis/Capital"}))
    with pytest.raises(CommandError, match=r"definition\.timezone: unknown time zone"):
        call("calendar", "import", "--name", "Bad", "--file", str(path))
    assert list(BusinessCalendar.objects.values_list("name", flat=True)) == ["Office"]


def test_repair_explain_and_sweep_on_a_ticket(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests import factories as f

    f.make_policy("IT", desk=world.it, targets={"response": 30, "resolution": 240})
    ticket = f.make_ticket(world.alice, world.it)
    out, err = call("repair", "--ticket", ticket.number)
    assert "replayed 1 tickets" in out and "1/1 (100 %)" in err
    explained = json.loads(call("explain", ticket.number, "--json")[0])
    assert {item["metric"] for item in explained} == {"response", "resolution"}
    assert explained[0]["explanation"][0].startswith("First response target 30 min")
    assert "checked" in call("sweep")[0]
    assert "recomputed 2 running targets" in call("recompute", "--policy", "IT")[0]
    with pytest.raises(CommandError, match="--ticket: no ticket INC9999999"):
        call("repair", "--ticket", "INC9999999")
    with pytest.raises(CommandError, match="--policy: no policy 'Nope'"):
        call("recompute", "--policy", "Nope")
