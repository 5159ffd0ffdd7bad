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
