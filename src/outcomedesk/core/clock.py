"""The one place the code asks what time it is.

Tests freeze it with time-machine; imports and the demo replay history inside `clock.at(moment)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_fixed: ContextVar[datetime | None] = ContextVar("outcomedesk_clock", default=None)


def now() -> datetime:
    fixed = _fixed.get()
    return fixed if fixed is not None else timezone.now()


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Make `now()` return `moment` inside the block (for replaying history)."""
    if timezone.is_naive(moment):
        raise ValueError("clock.at needs an aware datetime")
    token = _fixed.set(moment)
    try:
        yield
    finally:
        _fixed.reset(token)
