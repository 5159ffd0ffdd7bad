"""Business calendars and their maths: pure functions of (calendar, start, duration or interval, pauses).

A calendar is a time zone, weekly working hours (several intervals a day), holidays (from the `holidays`
package by country/subdivision, plus custom dates) and half days; or 24x7. All instants are aware
datetimes; the result is in the calendar's time zone. No database, no clock: `now` is always an argument.

Queries read a per-calendar index of working spans (UTC microseconds with the working time accumulated),
built for whole local years as they are needed, so that a deadline costs a few bisections (about 5 us)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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
    if duration < _ZERO:
        raise CalendarError("duration", "cannot be negative")
    merged = _pause_micros(pauses) if pauses else []
    begin = _micros(start)
    index = _index_for(calendar)
    if not duration:
        return _instant(begin, index.tz)
    spans = index.current  # index.covering(begin), inlined: this line runs once per deadline
    if spans is None or not spans.lo <= begin <= spans.hi:
        spans = index.covering(begin)
    if spans.overlapping:
        return _walk_deadline(calendar, start, duration, _pause_spans(merged))
    need = duration // _ONE_US
    due = None if merged else spans.instant(spans.worked(begin) + need)
    if due is None:
        due = _deadline_micros(spans, begin, need, merged)
    if due is None or (due - begin > _SURELY_WITHIN and due > _limit_micros(begin, index.tz)):
        raise CalendarError("calendar", f"has less working time than {duration} in {MAX_DAYS} days")
    return _instant(due, index.tz)


def business_time_between(
    calendar: Calendar, start: datetime, end: datetime, pauses: Iterable[Span] = ()
) -> timedelta:
    """Working time in [start, end), not counting pauses."""
    begin, finish = _micros(start), _micros(end)
    if finish <= begin:
        return timedelta(0)
    merged = _pause_micros(pauses)
    index = _index_for(calendar)
    spans = index.covering(begin)
    if spans.overlapping or (finish - begin > _LONG_RANGE and not calendar.is_24x7):
        return _walk_between(calendar, start, end, _pause_spans(merged))
    while spans.hi < finish:
        spans = spans.grown()
    total = spans.worked(finish) - spans.worked(begin)
    for p_begin, p_end in merged:
        if p_end > begin and p_begin < finish:
            total -= spans.worked(min(p_end, finish)) - spans.worked(max(p_begin, begin))
    return timedelta(microseconds=total)


def is_working(calendar: Calendar, at: datetime) -> bool:
    """Whether `at` is inside working time (a span's start counts, its end does not)."""
    if at.tzinfo is None:
        raise CalendarError("at", "needs a time zone offset")
    moment = _micros(at)
    spans = _index_for(calendar).covering(moment)
    if spans.overlapping:
        return any(begin <= moment < end for begin, end in _day_micros(calendar, _local_day(moment, spans.index.tz)))
    return spans.contains(moment)


def next_working_instant(calendar: Calendar, at: datetime) -> datetime:
    """The first instant at or after `at` inside working time, in the calendar's time zone."""
    if at.tzinfo is None:
        raise CalendarError("at", "needs a time zone offset")
    moment = _micros(at)
    index = _index_for(calendar)
    spans = index.covering(moment)
    found: int | None
    if spans.overlapping:
        found = _walk_next_working(calendar, moment, index.tz)
    else:
        cap = moment + _CAP
        found = spans.next_working(moment)
        while found is None and spans.hi < cap:
            spans = spans.grown()
            found = spans.next_working(moment)
    if found is None or (found - moment > _SURELY_WITHIN and found >= _limit_micros(moment, index.tz)):
        raise CalendarError("calendar", f"has no working time in {MAX_DAYS} days")
    return _instant(found, index.tz)


# --- the span index --------------------------------------------------------------------------------------
# Instants are integer microseconds since the epoch (UTC): exact, unlike float seconds, and cheap to compare.
# Per calendar, the working spans of whole local years are kept sorted with the working time accumulated up
# to each span's end, so that the working time up to an instant, and its inverse, are a bisection each.

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_ZERO = timedelta(0)
_DAY = 86_400_000_000
# Beyond this instant from a query's start, the MAX_DAYS horizon has certainly passed ...
_CAP = (MAX_DAYS + 2) * _DAY
# ... and before this one it certainly has not (the horizon is a local midnight, a DST change moves it by hours).
_SURELY_WITHIN = (MAX_DAYS - 2) * _DAY
# datetime.fromtimestamp(us / 1e6) gives back the exact microsecond until 2^32 s (2106); beyond, go the slow way.
_FLOAT_EXACT = 4_000_000_000_000_000
# An index window covers at most this many years (memory: about 80 kB a year for office hours), which must
# leave room for a MAX_DAYS search; business_time_between over a longer interval walks the spans instead.
_INDEX_YEARS = 30
_INDEX_WINDOWS = 4
_LONG_RANGE = 25 * 366 * _DAY
_INDEX_CACHE_SIZE = 128


def _micros(value: datetime) -> int:
    try:
        delta = value - _EPOCH
    except TypeError:  # naive (or a tzinfo without an offset): local time, as datetime.astimezone assumes
        delta = value.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _instant(micros: int, tz: ZoneInfo) -> datetime:
    if -_FLOAT_EXACT < micros < _FLOAT_EXACT:
        return datetime.fromtimestamp(micros / 1_000_000, tz)
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(tz)


def _local_day(micros: int, tz: ZoneInfo) -> date:
    return _instant(micros, tz).date()


def _limit_micros(start: int, tz: ZoneInfo) -> int:
    """The end of the MAX_DAYS local days that a search from `start` may look at."""
    return _micros(_local(_local_day(start, tz) + timedelta(days=MAX_DAYS), time(0), tz))


def _pause_micros(pauses: Iterable[Span]) -> list[tuple[int, int]]:
    """normalise_pauses in microseconds: the same checks in the same order, sorted and merged."""
    items = []
    for i, (begin, end) in enumerate(pauses):
        if begin.tzinfo is None or end.tzinfo is None:
            raise CalendarError(f"pauses[{i}]", "needs a time zone offset")
        b, e = _micros(begin), _micros(end)
        if e < b:
            raise CalendarError(f"pauses[{i}]", "ends before it starts")
        items.append((b, e))
    if len(items) < 2:
        return items
    items.sort()
    merged = [items[0]]
    for b, e in items[1:]:
        if b <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((b, e))
    return merged


def _pause_spans(pauses: list[tuple[int, int]]) -> list[Span]:
    return [(_EPOCH + timedelta(microseconds=b), _EPOCH + timedelta(microseconds=e)) for b, e in pauses]


def _deadline_micros(spans: _Spans, start: int, need: int, pauses: list[tuple[int, int]]) -> int | None:
    """When `need` microseconds of working time outside the pauses have passed since `start`; None when that
    is further away than the MAX_DAYS horizon can be."""
    cap = start + _CAP
    moment = start
    for p_begin, p_end in pauses:
        if p_end <= moment:
            continue
        if p_begin >= cap:
            break
        if p_begin > moment:
            while spans.hi < p_begin:
                spans = spans.grown()
            available = spans.worked(p_begin) - spans.worked(moment)
            if available >= need:
                break
            need -= available
        moment = p_end
        if moment > cap:
            return None
    while spans.hi < moment:
        spans = spans.grown()
    target = spans.worked(moment) + need
    due = spans.instant(target)
    while due is None:
        if spans.hi >= cap:
            return None
        spans = spans.grown()
        due = spans.instant(target)
    return due


def _day_micros(calendar: Calendar, day: date) -> list[tuple[int, int]]:
    """The working spans of one local day as UTC microseconds, as working_spans computes them, empty ones
    (a wall-clock interval swallowed by a DST change) left out."""
    tz = calendar.tz
    out = []
    for a, b in calendar.intervals_on(day):
        begin = _micros(_local(day, a, tz))
        end = _micros(_local(day + timedelta(days=1), time(0), tz) if b == time(0) else _local(day, b, tz))
        if begin < end:
            out.append((begin, end))
    return out


class _Spans:
    """Working spans of the local days [first_day, last_day), complete for instants in [lo, hi].

    `after[i]` is the working time up to the end of span i, counted from an arbitrary origin that never
    changes when the spans grow, so values taken from an older (smaller) _Spans stay valid. Immutable: growing
    makes a new one, which is what makes sharing it between threads safe."""

    __slots__ = ("after", "base", "begins", "ends", "first_day", "hi", "index", "last_day", "lo", "overlapping")

    def __init__(self, index: _SpanIndex, first_day: date, last_day: date, base: int,
                 begins: list[int], ends: list[int], after: list[int], overlapping: bool) -> None:
        self.index = index
        self.first_day, self.last_day = first_day, last_day
        self.lo = _micros(_local(first_day, time(0), index.tz))
        self.hi = _micros(_local(last_day, time(0), index.tz))
        self.base = base  # the working time up to `lo`
        self.begins, self.ends, self.after = begins, ends, after
        # Wall-clock intervals next to a DST gap can map to overlapping UTC spans; such calendars take the
        # walking path, which counts them as it always has.
        self.overlapping = overlapping

    @classmethod
    def build(cls, index: _SpanIndex, first_day: date, last_day: date) -> _Spans:
        begins, ends, after, overlapping = _collect(index.calendar, first_day, last_day, 0)
        return cls(index, first_day, last_day, 0, begins, ends, after, overlapping)

    def worked(self, moment: int) -> int:
        """The working time up to `moment` (lo <= moment <= hi)."""
        i = bisect_right(self.begins, moment) - 1
        if i < 0:
            return self.base
        end = self.ends[i]
        return self.after[i] if moment >= end else self.after[i] - end + moment

    def instant(self, worked: int) -> int | None:
        """The first instant by which `worked` working time has been reached; None beyond hi."""
        j = bisect_left(self.after, worked)
        if j == len(self.after):
            return None
        return self.ends[j] - self.after[j] + worked

    def contains(self, moment: int) -> bool:
        i = bisect_right(self.begins, moment) - 1
        return i >= 0 and moment < self.ends[i]

    def next_working(self, moment: int) -> int | None:
        i = bisect_right(self.begins, moment) - 1
        if i >= 0 and moment < self.ends[i]:
            return moment
        return self.begins[i + 1] if i + 1 < len(self.begins) else None

    def grown(self) -> _Spans:
        """One more local year at the end (published for later calls when the index stays small enough)."""
        last_day = self.last_day.replace(year=self.last_day.year + 1)
        total = self.after[-1] if self.after else self.base
        begins, ends, after, overlapping = _collect(self.index.calendar, self.last_day, last_day, total)
        overlapping = overlapping or self.overlapping or bool(self.ends and begins and begins[0] < self.ends[-1])
        grown = _Spans(self.index, self.first_day, last_day, self.base, self.begins + begins, self.ends + ends,
                       self.after + after, overlapping)
        self.index.offer(grown)
        return grown

    def grown_back(self) -> _Spans:
        """One more local year at the start; the origin of the working time stays where it is."""
        first_day = self.first_day.replace(year=self.first_day.year - 1)
        begins, ends, after, overlapping = _collect(self.index.calendar, first_day, self.first_day, 0)
        shift = self.base - (after[-1] if after else 0)
        overlapping = overlapping or self.overlapping or bool(ends and self.begins and self.begins[0] < ends[-1])
        return _Spans(self.index, first_day, self.last_day, shift, begins + self.begins, ends + self.ends,
                      [value + shift for value in after] + self.after, overlapping)


class _AlwaysOpen(_Spans):
    """A 24x7 calendar: every instant is working time (its spans, whole local days, touch one another)."""

    __slots__ = ()

    def __init__(self, index: _SpanIndex) -> None:  # no spans, so none of _Spans.__init__
        self.index = index
        self.first_day = self.last_day = date.min
        self.lo, self.hi = -(1 << 62), 1 << 62
        self.base = 0
        self.begins, self.ends, self.after = [], [], []
        self.overlapping = False

    def worked(self, moment: int) -> int:
        return moment

    def instant(self, worked: int) -> int | None:
        return worked

    def contains(self, moment: int) -> bool:
        return True

    def next_working(self, moment: int) -> int | None:
        return moment


def _collect(calendar: Calendar, first_day: date, last_day: date, total: int) -> tuple[list[int], list[int],
                                                                                     list[int], bool]:
    begins: list[int] = []
    ends: list[int] = []
    after: list[int] = []
    overlapping = False
    day = first_day
    while day < last_day:
        for begin, end in _day_micros(calendar, day):
            if ends and begin < ends[-1]:
                overlapping = True
            total += end - begin
            begins.append(begin)
            ends.append(end)
            after.append(total)
        day += timedelta(days=1)
    return begins, ends, after, overlapping


class _SpanIndex:
    """The spans of one calendar: a few windows of whole local years, grown as queries need.

    Several windows, so that queries decades apart (say, replaying old tickets while new ones come in) do not
    rebuild the index on every call."""

    __slots__ = ("calendar", "current", "tz", "windows")

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.tz = calendar.tz
        self.current: _Spans | None = _AlwaysOpen(self) if calendar.is_24x7 else None  # the last window used
        self.windows: list[_Spans] = []

    def covering(self, moment: int) -> _Spans:
        spans = self.current
        if spans is not None and spans.lo <= moment <= spans.hi:
            return spans
        for spans in self.windows:
            if spans.lo <= moment <= spans.hi:
                self.current = spans
                return spans
        year = _local_day(moment, self.tz).year
        # Grow a window by a year or two, but start a new one for a query further away: building the years
        # in between would cost more than it is likely to save.
        near = [w for w in self.windows if w.first_day.year - 2 <= year <= w.last_day.year + 1
                and max(w.last_day.year, year + 1) - min(w.first_day.year, year) <= _INDEX_YEARS]
        spans = near[0] if near else _Spans.build(self, date(year, 1, 1), date(year + 1, 1, 1))
        while moment < spans.lo:
            spans = spans.grown_back()
        while moment > spans.hi:
            spans = spans.grown()
        self.offer(spans)
        return spans

    def offer(self, spans: _Spans) -> None:
        """Keep `spans` for later calls (in place of the windows it contains), unless it is too long."""
        if spans.last_day.year - spans.first_day.year > _INDEX_YEARS:
            return
        kept = [w for w in self.windows if not spans.first_day <= w.first_day <= w.last_day <= spans.last_day]
        self.windows = [spans, *kept][:_INDEX_WINDOWS]
        self.current = spans


_INDEXES: dict[Calendar, _SpanIndex] = {}
_INDEXES_BY_ID: dict[int, tuple[Calendar, _SpanIndex]] = {}


def _index_for(calendar: Calendar) -> _SpanIndex:
    """The calendar's index; by identity first, because hashing a Calendar costs more than a whole query.

    A Calendar is a value: its hours and half days must not be changed once it has been used."""
    entry = _INDEXES_BY_ID.get(id(calendar))
    if entry is not None and entry[0] is calendar:
        return entry[1]
    index = _INDEXES.get(calendar)
    if index is None:
        index = _INDEXES[calendar] = _SpanIndex(calendar)
        _trim(_INDEXES)
    _INDEXES_BY_ID[id(calendar)] = (calendar, index)  # holding the calendar keeps its id from being reused
    _trim(_INDEXES_BY_ID)
    return index


def _trim(cache: dict[Any, Any]) -> None:
    while len(cache) > _INDEX_CACHE_SIZE:
        try:
            del cache[next(iter(cache))]
        except (KeyError, RuntimeError, StopIteration):  # another thread trimmed it first
            return


# --- walking, for calendars whose UTC spans overlap ------------------------------------------------------

def _walk_deadline(calendar: Calendar, start: datetime, duration: timedelta, merged: Sequence[Span]) -> datetime:
    start = start.astimezone(UTC_ZONE)
    remaining = duration
    for span in working_spans(calendar, start):
        for begin, end in _subtract(span, merged):
            length = end - begin
            if length >= remaining:
                return (begin + remaining).astimezone(calendar.tz)
            remaining -= length
    raise CalendarError("calendar", f"has less working time than {duration} in {MAX_DAYS} days")


def _walk_between(calendar: Calendar, start: datetime, end: datetime, merged: Sequence[Span]) -> timedelta:
    start, end = start.astimezone(UTC_ZONE), end.astimezone(UTC_ZONE)
    total = timedelta(0)
    # + 3: a DST change can put the end's local day one further than the elapsed days suggest.
    for span in working_spans(calendar, start, days=(end - start).days + 3):
        if span[0] >= end:
            break
        for begin, finish in _subtract((span[0], min(span[1], end)), merged):
            total += finish - begin
    return total


def _walk_next_working(calendar: Calendar, moment: int, tz: ZoneInfo) -> int | None:
    day = _local_day(moment, tz)
    for _ in range(MAX_DAYS):
        found = [max(begin, moment) for begin, end in _day_micros(calendar, day) if end > moment]
        if found:  # spans of a later day begin after every span of this one has ended
            return min(found)
        day += timedelta(days=1)
    return None


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
