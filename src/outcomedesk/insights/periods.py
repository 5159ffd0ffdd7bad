"""Periods: half-open [start, end) intervals in the deployment's time zone (METRICS.md)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from outcomedesk.core.errors import InvalidInput

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def previous(self) -> Period:
        """The period of the same length just before this one (for months: the previous calendar month)."""
        if self.is_month():
            first = (self.start.date().replace(day=1) - timedelta(days=1)).replace(day=1)
            return month(first.year, first.month)
        length = self.end - self.start
        return Period(self.start - length, self.start)

    def is_month(self) -> bool:
        local = self.start.astimezone(zone())
        return (local.day == 1 and local.time() == time(0) and self == month(local.year, local.month))

    @property
    def last_day(self) -> date:
        return (self.end.astimezone(zone()) - timedelta(microseconds=1)).date()

    def label(self) -> str:
        if self.is_month():
            return self.start.astimezone(zone()).strftime("%B %Y")
        first = self.start.astimezone(zone()).date()
        return f"{first.isoformat()} to {self.last_day.isoformat()}"

    def as_json(self) -> dict[str, str]:
        return {"from": self.start.astimezone(zone()).date().isoformat(), "to": self.last_day.isoformat(),
                "start": self.start.isoformat(), "end": self.end.isoformat()}


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone())


def month(year: int, number: int) -> Period:
    start = date(year, number, 1)
    following = date(year + (number == 12), number % 12 + 1, 1)
    return Period(midnight(start), midnight(following))


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise InvalidInput({name: f"{text!r} is not a date (YYYY-MM-DD)"}) from None


def between(first: str, last: str, *, first_name: str = "from", last_name: str = "to") -> Period:
    """The period from the day `first` to the day `last`, both included (YYYY-MM-DD). A month `YYYY-MM` as
    `first` with an empty `last` is that month."""
    if not last and _MONTH.match(first or ""):
        year, number = (int(x) for x in first.split("-"))
        if not 1 <= number <= 12:
            raise InvalidInput({first_name: f"{first!r} is not a month (YYYY-MM)"})
        return month(year, number)
    errors: dict[str, str] = {}
    start = end = None
    try:
        start = parse_day(first, first_name)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        end = parse_day(last, last_name)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if start and end and end < start:
        errors[last_name] = f"the period ends ({end}) before it starts ({start})"
    if errors or start is None or end is None:
        raise InvalidInput(errors)
    return Period(midnight(start), midnight(end + timedelta(days=1)))


def buckets(period: Period, count_limit: int = 400) -> tuple[str, list[Period]]:
    """The period cut into days, weeks or months for a trend chart (at most about `count_limit` points)."""
    local_start = period.start.astimezone(zone()).date()
    local_end = period.end.astimezone(zone()).date()
    days = (local_end - local_start).days
    if days <= 62:
        step, parts = "day", [local_start + timedelta(days=i) for i in range(days + 1)]
    elif days <= 7 * 60:
        monday = local_start - timedelta(days=local_start.weekday())
        step, parts = "week", [monday + timedelta(weeks=i) for i in range((local_end - monday).days // 7 + 2)]
    else:
        step, parts = "month", []
        cursor = local_start.replace(day=1)
        while cursor <= local_end:
            parts.append(cursor)
            cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
        parts.append(cursor)
    edges = [max(midnight(p), period.start) for p in parts]
    edges = [e for e in edges if e < period.end] + [period.end]
    pieces = [Period(a, b) for a, b in itertools.pairwise(edges) if a < b]
    return step, pieces[:count_limit]
