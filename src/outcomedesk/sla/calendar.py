"""Business calendars and their maths: pure functions of (calendar, start, duration or interval, pauses).

A calendar is a time zone, weekly working hours (several intervals a day), holidays (from the `holidays`
package by country/subdivision, plus custom dates) and half days; or 24x7. All instants are aware
datetimes; the result is in the calendar's time zone. No database, no clock: `now` is always an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[time, time]
Span = tuple[datetime, datetime]
# A deadline further away than this is a configuration error (e.g. a calendar with no working hours).
MAX_DAYS = 3660


class CalendarError(ValueError):
    """The calendar (or a pause, a duration) is not usable; `field` names the part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Calendar:
    """When the clock of a service level runs."""

    timezone: str = "UTC"
    hours: dict[int, tuple[Interval, ...]] | None = None  # weekday (0 = Monday) -> intervals; None is 24x7
    holiday_country: str = ""
    holiday_subdiv: str = ""
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    half_days: dict[date, tuple[Interval, ...]] = field(default_factory=dict)

    def __hash__(self) -> int:
        hours = tuple(sorted(self.hours.items())) if self.hours is not None else None
        return hash((self.timezone, hours, self.holiday_country, self.holiday_subdiv, self.extra_holidays,
                     tuple(sorted(self.half_days.items()))))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_24x7(self) -> bool:
        return self.hours is None

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        return bool(self.holiday_country) and day in _holidays(self.holiday_country, self.holiday_subdiv, day.year)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """Working intervals of one local day (a half day replaces the weekly hours; a holiday has none)."""
        if self.hours is None:
            return ((time(0), time(0)),)  # the whole day; end 00:00 means midnight at the day's end
        if day in self.half_days:
            return self.half_days[day]
        if self.is_holiday(day):
            return ()
        return self.hours.get(day.weekday(), ())


@lru_cache(maxsize=256)
def _holidays(country: str, subdiv: str, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdiv or None, years=year).keys())


# --- parsing ---------------------------------------------------------------------------------------------

def _parse_time(text: Any, where: str) -> time:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise CalendarError(where, f"{text!r} is not a time HH:MM")
    try:
        hour, minute = int(text[:2]), int(text[3:])
    except ValueError:
        raise CalendarError(where, f"{text!r} is not a time HH:MM") from None
    if hour == 24 and minute == 0:
        return time(0)  # 24:00, the end of the day
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise CalendarError(where, f"{text!r} is not a time of day")
    return time(hour, minute)


def _parse_intervals(raw: Any, where: str) -> tuple[Interval, ...]:
    if not isinstance(raw, list):
        raise CalendarError(where, "expects a list of [start, end] pairs")
    out: list[Interval] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise CalendarError(f"{where}[{i}]", "expects [start, end]")
        start, end = _parse_time(pair[0], f"{where}[{i}]"), _parse_time(pair[1], f"{where}[{i}]")
        if _minutes(end, is_end=True) <= _minutes(start):
            raise CalendarError(f"{where}[{i}]", f"ends ({pair[1]}) before it starts ({pair[0]})")
        if out and _minutes(start) < _minutes(out[-1][1], is_end=True):
            raise CalendarError(f"{where}[{i}]", "overlaps or comes before the previous interval")
        out.append((start, end))
    return tuple(out)


def _minutes(value: time, is_end: bool = False) -> int:
    minutes = value.hour * 60 + value.minute
    return 1440 if is_end and minutes == 0 else minutes


def calendar_from_json(data: Any) -> Calendar:
    """A Calendar from its JSON form; raises CalendarError naming the bad part."""
    if not isinstance(data, dict):
        raise CalendarError("calendar", "expects a JSON object")
    unknown = set(data) - {"timezone", "hours", "holidays", "extra_holidays", "half_days", "name"}
    if unknown:
        raise CalendarError(sorted(unknown)[0], "is not a calendar field")
    zone = data.get("timezone", "UTC")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError("timezone", f"unknown time zone {zone!r}") from None
    raw_hours = data.get("hours", "24x7")
    hours: dict[int, tuple[Interval, ...]] | None
    if raw_hours == "24x7":
        hours = None
    elif isinstance(raw_hours, dict):
        bad = set(raw_hours) - set(DAYS)
        if bad:
            raise CalendarError(f"hours.{sorted(bad)[0]}", f"is not a day; use {', '.join(DAYS)}")
        hours = {DAYS.index(day): _parse_intervals(raw_hours.get(day, []), f"hours.{day}") for day in DAYS}
    else:
        raise CalendarError("hours", 'expects "24x7" or an object of days')
    country = subdiv = ""
    raw_holidays = data.get("holidays") or {}
    if raw_holidays:
        if not isinstance(raw_holidays, dict) or "country" not in raw_holidays:
            raise CalendarError("holidays", 'expects {"country": "DE", "subdiv": "BY"}')
        country, subdiv = str(raw_holidays["country"]).upper(), str(raw_holidays.get("subdiv") or "")
        import holidays

        try:
            holidays.country_holidays(country, subdiv=subdiv or None, years=2026)
        except NotImplementedError:
            raise CalendarError("holidays.country", f"unknown country {country!r}") from None
        except ValueError as exc:  # unknown subdivision
            raise CalendarError("holidays.subdiv", str(exc)) from None
    extra = set()
    for i, raw in enumerate(data.get("extra_holidays") or []):
        extra.add(_parse_date(raw, f"extra_holidays[{i}]"))
    half: dict[date, tuple[Interval, ...]] = {}
    raw_half = data.get("half_days") or {}
    if not isinstance(raw_half, dict):
        raise CalendarError("half_days", 'expects {"2026-12-31": [["09:00", "12:00"]]}')
    for raw_day, intervals in raw_half.items():
        half[_parse_date(raw_day, f"half_days.{raw_day}")] = _parse_intervals(intervals, f"half_days.{raw_day}")
    return Calendar(str(zone), hours, country, subdiv, frozenset(extra), half)


def _parse_date(raw: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise CalendarError(where, f"{raw!r} is not a date YYYY-MM-DD") from None


def calendar_to_json(calendar: Calendar) -> dict[str, Any]:
    def fmt(value: time, is_end: bool) -> str:
        return "24:00" if is_end and value == time(0) else value.strftime("%H:%M")

    def intervals(items: Iterable[Interval]) -> list[list[str]]:
        return [[fmt(a, False), fmt(b, True)] for a, b in items]

    out: dict[str, Any] = {"timezone": calendar.timezone}
    out["hours"] = "24x7" if calendar.hours is None else {
        DAYS[d]: intervals(calendar.hours.get(d, ())) for d in range(7)
    }
    if calendar.holiday_country:
        out["holidays"] = {"country": calendar.holiday_country, "subdiv": calendar.holiday_subdiv or None}
    out["extra_holidays"] = sorted(d.isoformat() for d in calendar.extra_holidays)
    out["half_days"] = {d.isoformat(): intervals(v) for d, v in sorted(calendar.half_days.items())}
    return out


# --- maths -----------------------------------------------------------------------------------------------

UTC_ZONE = ZoneInfo("UTC")


def working_spans(calendar: Calendar, start: datetime, *, days: int = MAX_DAYS) -> Iterator[Span]:
    """Working time from `start` on, as UTC spans in order, clipped to begin at `start`.

    Everything is computed in UTC: Python adds and compares datetimes of one time zone by their wall clock,
    which is wrong across a DST change."""
    tz = calendar.tz
    start = start.astimezone(UTC_ZONE)
    local_day = start.astimezone(tz).date()
    for offset in range(days):
        day = local_day + timedelta(days=offset)
        for a, b in calendar.intervals_on(day):
            begin = _local(day, a, tz)
            end = _local(day + timedelta(days=1), time(0), tz) if b == time(0) else _local(day, b, tz)
            if end <= start:
                continue
            yield (max(begin, start), end)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time (a time skipped by a DST change moves forward by the gap)."""
    return datetime.combine(day, at).replace(tzinfo=tz).astimezone(UTC_ZONE)


def _subtract(span: Span, pauses: Sequence[Span]) -> Iterator[Span]:
    begin, end = span
    for p_begin, p_end in pauses:
        if p_end <= begin or p_begin >= end:
            continue
        if p_begin > begin:
            yield (begin, p_begin)
        begin = max(begin, p_end)
        if begin >= end:
            return
    if begin < end:
        yield (begin, end)


def normalise_pauses(pauses: Iterable[Span]) -> list[Span]:
    """Sorted, merged pauses; raises CalendarError for a pause that ends before it starts."""
    items = []
    for i, (begin, end) in enumerate(pauses):
        if begin.tzinfo is None or end.tzinfo is None:
            raise CalendarError(f"pauses[{i}]", "needs a time zone offset")
        begin, end = begin.astimezone(UTC_ZONE), end.astimezone(UTC_ZONE)
        if end < begin:
            raise CalendarError(f"pauses[{i}]", "ends before it starts")
        items.append((begin, end))
    items.sort()
    merged: list[Span] = []
    for begin, end in items:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def add_business_time(
    calendar: Calendar, start: datetime, duration: timedelta, pauses: Iterable[Span] = ()
) -> datetime:
    """The instant at which `duration` of working time, not counting pauses, has passed since `start`."""
    if start.tzinfo is None:
        raise CalendarError("start", "needs a time zone offset")
    if duration < timedelta(0):
        raise CalendarError("duration", "cannot be negative")
    start = start.astimezone(UTC_ZONE)
    remaining = duration
    merged = normalise_pauses(pauses)
    if remaining == timedelta(0):
        return start.astimezone(calendar.tz)
    for span in working_spans(calendar, start):
        for begin, end in _subtract(span, merged):
            length = end - begin
            if length >= remaining:
                return (begin + remaining).astimezone(calendar.tz)
            remaining -= length
    raise CalendarError("calendar", f"has less working time than {duration} in {MAX_DAYS} days")


def business_time_between(
    calendar: Calendar, start: datetime, end: datetime, pauses: Iterable[Span] = ()
) -> timedelta:
    """Working time in [start, end), not counting pauses."""
    start, end = start.astimezone(UTC_ZONE), end.astimezone(UTC_ZONE)
    if end <= start:
        return timedelta(0)
    merged = normalise_pauses(pauses)
    total = timedelta(0)
    days = (end - start).days + 2
    for span in working_spans(calendar, start, days=days):
        if span[0] >= end:
            break
        clipped = (span[0], min(span[1], end))
        for begin, finish in _subtract(clipped, merged):
            total += finish - begin
    return total


def explain_deadline(
    calendar: Calendar, start: datetime, duration: timedelta, pauses: Iterable[Span] = ()
) -> tuple[datetime, list[str]]:
    """The deadline and, day by day, why: the working time counted, closed days and holidays, the pauses."""
    deadline = add_business_time(calendar, start, duration, pauses)
    tz = calendar.tz
    merged = normalise_pauses(pauses)
    lines = [f"starts {start.astimezone(tz):%a %d %b %Y %H:%M %Z}; {_hours(duration)} of working time needed"]
    day = start.astimezone(tz).date()
    last = deadline.astimezone(tz).date()
    start_utc, end_utc = start.astimezone(UTC_ZONE), deadline.astimezone(UTC_ZONE)
    while day <= last:
        label = f"{day:%a %d %b}"
        intervals = calendar.intervals_on(day)
        if not intervals:
            reason = "holiday" if calendar.is_holiday(day) else "not a working day"
            lines.append(f"{label}: {reason}")
        else:
            counted = []
            for a, b in intervals:
                begin = max(_local(day, a, tz), start_utc)
                end = min(_local(day + timedelta(days=1), time(0), tz) if b == time(0) else _local(day, b, tz), end_utc)
                for s, e in _subtract((begin, end), merged) if begin < end else ():
                    counted.append(f"{s.astimezone(tz):%H:%M}-{e.astimezone(tz):%H:%M}")
            total = business_time_between(calendar, max(_local(day, time(0), tz), start_utc),
                                          min(_local(day + timedelta(days=1), time(0), tz), end_utc), merged)
            kind = "half day, " if day in calendar.half_days else ""
            lines.append(f"{label}: {kind}{_hours(total)} counted" + (f" ({', '.join(counted)})" if counted else ""))
        day += timedelta(days=1)
    for p_begin, p_end in merged:
        if p_end > start_utc and p_begin < end_utc:
            lines.append(f"paused {p_begin.astimezone(tz):%a %H:%M} to {p_end.astimezone(tz):%a %H:%M}")
    lines.append(f"due {deadline:%a %d %b %Y %H:%M %Z}")
    return deadline, lines


def _hours(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"
