"""The one CSV writer of every export: cells a spreadsheet would run as a formula are neutralised.

A cell that starts with =, +, -, @, a tab or a carriage return is read by Excel, LibreOffice and Google Sheets
as a formula (CSV injection, OWASP); such text cells get a leading apostrophe, which the spreadsheet shows as
text. Numbers stay numbers (a negative figure is written by the program, not typed by a person).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Target(Protocol):
    def write(self, value: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """`value` as it may go into a CSV cell: text that a spreadsheet would run gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class CsvWriter:
    """`csv.writer` whose every text cell goes through `safe_cell`; writerow returns what the target returned."""

    def __init__(self, target: _Target) -> None:
        self._writer = csv.writer(target)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_writer(target: _Target | None = None) -> CsvWriter:
    """A writer into `target` (a file, a StringIO); without one, `writerow` returns the line (for streaming)."""
    return CsvWriter(target if target is not None else _Echo())
