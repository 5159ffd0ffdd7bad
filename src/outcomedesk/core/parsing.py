"""Request input turned into ids and numbers: the one place that does it (a test keeps it so).

`str.isdigit()` is true for "¹" and "²", which `int()` refuses, and `int()` takes digits of every script and
numbers far beyond what a database column holds; both used to end as HTTP 500. Here only ASCII digits
count, every number is bounded, and a bad value is `InvalidInput` naming its field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field

from outcomedesk.core.errors import InvalidInput

# Every id column is a 64-bit signed integer (BigAutoField) on SQLite and PostgreSQL alike.
ID_MAX = 2**63 - 1
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_INT = re.compile(r"[+-]?[0-9]{1,30}", re.ASCII)


def is_digits(text: object) -> bool:
    """True when `text` is a non-empty string of ASCII digits 0-9 only ("¹" and "٣" are not)."""
    return isinstance(text, str) and _DIGITS.fullmatch(text) is not None


def as_int(value: object, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int | None:
    """The whole number `value` holds (an int, or text of ASCII digits with an optional sign, spaces
    around) when it lies within the bounds; None otherwise. `True` is no number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if minimum <= number <= maximum else None


def as_id(value: object) -> int | None:
    """The id `value` names (1 to 2**63-1, as an int or ASCII digits), or None when it is no id: the
    caller may then read it as a slug or a name."""
    if isinstance(value, str) and not is_digits(value.strip()):
        return None
    return as_int(value, minimum=1, maximum=ID_MAX)


def parse_int(value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """The whole number `value` holds, or `InvalidInput` naming `field` (and the bounds, when given)."""
    low = INT_MIN if minimum is None else max(minimum, INT_MIN)
    high = INT_MAX if maximum is None else min(maximum, INT_MAX)
    number = as_int(value, minimum=low, maximum=high)
    if number is None:
        shown = str(value)[:20]
        if minimum is not None and maximum is not None:
            expected = f"must be a whole number from {minimum} to {maximum}"
        elif minimum is not None:
            expected = f"must be a whole number, {minimum} or more"
        elif maximum is not None:
            expected = f"must be a whole number, {maximum} or less"
        else:
            expected = "must be a whole number"
        raise InvalidInput({field: f"{expected}, not {shown!r}"})
    return number


def parse_id(value: Any, field: str) -> int:
    """An id (a whole number from 1 to 2**63-1), or `InvalidInput` naming `field`."""
    number = as_id(value)
    if number is None:
        raise InvalidInput({field: f"must be an id (a whole number, 1 or more), not {str(value)[:20]!r}"})
    return number


# The same bounds for the API's schemas: pydantic refuses what a column cannot hold, naming the field.
Id = Annotated[int, Field(ge=1, le=ID_MAX, description="An id")]
SmallCount = Annotated[int, Field(ge=0, le=2**31 - 1)]  # fits every integer column, PostgreSQL's 32-bit ones too


class IdConverter:
    """`<id:name>` in URL patterns: ASCII digits that fit an id column; anything else matches no page (404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = as_id(value)
        if number is None:
            raise ValueError(value)  # Django then tries the next pattern, and answers 404
        return number

    def to_url(self, value: int) -> str:
        return str(value)
