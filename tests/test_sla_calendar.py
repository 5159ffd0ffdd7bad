"""Business-calendar maths against a brute-force reference that walks minute by minute, and golden cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomedesk.sla.calendar import (
    MAX_DAYS,
    Calendar,
    CalendarError,
    add_business_time,
    business_time_between,
    calendar_from_json,
    calendar_to_json,
    is_working,
    next_working_instant,
    normalise_pauses,
    working_spans,
)

BERLIN = {
    "timezone": "Europe/Berlin",
    "hours": {d: [["09:00", "12:00"], ["13:00", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE", "subdiv": "BY"},
    "extra_holidays": ["2026-12-24"],
    "half_days": {"2026-12-31": [["09:00", "12:00"]]},
}


def at(text: str, zone: str = "Europe/Berlin") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def reference_minutes(cal: Calendar, start: datetime, end: datetime, pauses: list[tuple[datetime, datetime]]) -> int:
    """Count working minutes by looking at every minute (start and end on whole minutes)."""
    count, moment = 0, start
    while moment < end:
        local = moment.astimezone(cal.tz)
        minute = local.hour * 60 + local.minute
        working = any(
            a.hour * 60 + a.minute <= minute < (1440 if b == time(0) else b.hour * 60 + b.minute)
            for a, b in cal.intervals_on(local.date())
        )
        if working and not any(p0 <= moment < p1 for p0, p1 in pauses):
            count += 1
        moment += timedelta(minutes=1)
    return count


def test_friday_afternoon_to_tuesday_over_a_weekend_and_a_holiday() -> None:
    cal = calendar_from_json(BERLIN)
    # Fri 2026-05-22 16:30, 8 h of work: 1 h Friday, Mon 25 May is Whit Monday, Tue 09-12 and 13-17.
    due = add_business_time(cal, at("2026-05-22T16:30"), timedelta(hours=8))
    assert due == at("2026-05-26T17:00")


def test_lunch_break_is_not_counted() -> None:
    cal = calendar_from_json(BERLIN)
    assert add_business_time(cal, at("2026-06-03T11:30"), timedelta(hours=1)) == at("2026-06-03T13:30")


def test_a_pause_over_the_weekend_only_removes_working_time() -> None:
    cal = calendar_from_json(BERLIN)
    pause = (at("2026-06-05T16:00"), at("2026-06-08T10:00"))  # Fri 16:00 -> Mon 10:00
    due = add_business_time(cal, at("2026-06-05T15:00"), timedelta(hours=2), [pause])
    assert due == at("2026-06-08T11:00")


def test_half_day_and_custom_holiday() -> None:
    cal = calendar_from_json(BERLIN)
    # Wed 23 Dec 17:00 + 1 h: 30 min that day; 24 Dec is a custom holiday, 25/26 are public; Mon 28 Dec.
    assert add_business_time(cal, at("2026-12-23T17:00"), timedelta(hours=1)) == at("2026-12-28T09:30")
    # 31 Dec is a half day until 12:00.
    assert add_business_time(cal, at("2026-12-31T11:00"), timedelta(hours=2)) == at("2027-01-04T10:00")


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # 24x7 across the spring-forward night: 3 h of real time, not of wall clock.
        ("Europe/Berlin", "2026-03-29T01:00", "2026-03-29T05:00"),
        ("America/New_York", "2026-03-08T01:00", "2026-03-08T05:00"),
        # Across the autumn night the wall clock shows one hour less than the real time.
        ("Europe/Berlin", "2026-10-25T01:00", "2026-10-25T03:00"),
        ("America/New_York", "2026-11-01T00:30", "2026-11-01T02:30"),
    ],
)
def test_24x7_counts_real_hours_over_dst_changes(zone: str, start: str, expected: str) -> None:
    cal = calendar_from_json({"timezone": zone, "hours": "24x7"})
    assert add_business_time(cal, at(start, zone), timedelta(hours=3)) == at(expected, zone)


def test_working_day_across_dst_keeps_wall_clock_hours() -> None:
    cal = calendar_from_json({"timezone": "America/New_York",
                              "hours": {d: [["08:00", "18:00"]] for d in ("fri", "sat", "sun", "mon")}})
    due = add_business_time(cal, at("2026-03-07T17:00", "America/New_York"), timedelta(hours=2))
    assert due == at("2026-03-08T09:00", "America/New_York")  # Sunday after the change, still 08:00 start


def test_business_time_between_excludes_pauses_and_closed_hours() -> None:
    cal = calendar_from_json(BERLIN)
    # Wed 3 June: 3 h + 4.5 h less a 1 h pause; Thu 4 June is Corpus Christi in Bavaria; Fri 09:00-10:00.
    spent = business_time_between(cal, at("2026-06-03T08:00"), at("2026-06-05T10:00"),
                                  [(at("2026-06-03T14:00"), at("2026-06-03T15:00"))])
    assert spent == timedelta(hours=3 + 4.5 - 1 + 1)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"hours": {"mon": [["12:00", "09:00"]]}}, "hours.mon[0]"),
        ({"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "hours.mon[1]"),
        ({"hours": {"mon": [["13:00", "14:00"], ["09:00", "12:00"]]}}, "hours.mon[1]"),
        ({"hours": {"funday": []}}, "hours.funday"),
        ({"hours": {"mon": [["9am", "5pm"]]}}, "hours.mon[0]"),
        ({"holidays": {"country": "XX"}}, "holidays.country"),
        ({"extra_holidays": ["24/12/2026"]}, "extra_holidays[0]"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_calendars_name_the_problem(data: dict[str, object], field: str) -> None:
    with pytest.raises(CalendarError) as err:
        calendar_from_json(data)
    assert err.value.field == field


def test_bad_durations_and_pauses_are_refused() -> None:
    cal = calendar_from_json(BERLIN)
    with pytest.raises(CalendarError, match="negative"):
        add_business_time(cal, at("2026-06-03T09:00"), timedelta(minutes=-1))
    with pytest.raises(CalendarError, match="ends before it starts"):
        add_business_time(cal, at("2026-06-03T09:00"), timedelta(hours=1),
                          [(at("2026-06-03T11:00"), at("2026-06-03T10:00"))])
    with pytest.raises(CalendarError, match="less working time"):
        add_business_time(calendar_from_json({"hours": {}}), at("2026-06-03T09:00"), timedelta(minutes=1))


def test_json_round_trip() -> None:
    cal = calendar_from_json(BERLIN)
    assert calendar_from_json({k: v for k, v in calendar_to_json(cal).items()}) == cal


# --- properties against the minute-walking reference ------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York"]


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    if draw(st.booleans()) and draw(st.booleans()):
        return calendar_from_json({"timezone": draw(st.sampled_from(ZONES)), "hours": "24x7"})
    hours = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        cuts = sorted(draw(st.sets(st.integers(min_value=6 * 4, max_value=22 * 4), max_size=4)))
        pairs = [cuts[i : i + 2] for i in range(0, len(cuts) - 1, 2)]
        hours[day] = [[f"{a // 4:02d}:{a % 4 * 15:02d}", f"{b // 4:02d}:{b % 4 * 15:02d}"] for a, b in pairs]
    extra = draw(st.lists(st.dates(min_value=date(2026, 3, 1), max_value=date(2026, 4, 30)), max_size=3))
    return calendar_from_json({"timezone": draw(st.sampled_from(ZONES)), "hours": hours,
                               "extra_holidays": [d.isoformat() for d in extra]})


starts = st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 4, 10)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
)


@settings(max_examples=60, deadline=None)
@given(cal=calendars(), start=starts, minutes=st.integers(min_value=0, max_value=3000),
       pause_at=st.integers(min_value=0, max_value=5000), pause_len=st.integers(min_value=0, max_value=3000))
def test_deadline_matches_minute_by_minute_reference(
    cal: Calendar, start: datetime, minutes: int, pause_at: int, pause_len: int
) -> None:
    pauses = [(start + timedelta(minutes=pause_at), start + timedelta(minutes=pause_at + pause_len))]
    try:
        due = add_business_time(cal, start, timedelta(minutes=minutes), pauses)
    except CalendarError:
        assert reference_minutes(cal, start, start + timedelta(days=9), pauses) < minutes
        return
    assert reference_minutes(cal, start, due, pauses) == minutes
    assert business_time_between(cal, start, due, pauses) == timedelta(minutes=minutes)
    if minutes:  # the deadline is the end of a working minute, not later
        assert reference_minutes(cal, start, due - timedelta(minutes=1), pauses) == minutes - 1


# --- the span index against walking the spans -------------------------------------------------------------

def walked_business_time(
    cal: Calendar, start: datetime, end: datetime, pauses: list[tuple[datetime, datetime]]
) -> timedelta:
    """Working time in [start, end) the slow, obvious way: every span from working_spans, less every pause."""
    merged = normalise_pauses(pauses)
    total = timedelta(0)
    for begin, finish in working_spans(cal, start, days=(end - start).days + 3):
        finish = min(finish, end)
        if begin >= end:
            break
        if finish <= begin:
            continue
        total += finish - begin
        for p_begin, p_end in merged:
            total -= max(timedelta(0), min(finish, p_end) - max(begin, p_begin))
    return total


# Microseconds, over both spring-forward nights (8 and 29 March 2026) and both autumn ones (25 Oct, 1 Nov).
instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 4, 10)),
    st.datetimes(min_value=datetime(2026, 10, 20), max_value=datetime(2026, 11, 5)),
).map(lambda d: d.replace(tzinfo=UTC))
microseconds = st.integers(min_value=0, max_value=6 * 24 * 3600 * 10**6).map(lambda n: timedelta(microseconds=n))


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), start=instants, length=microseconds,
       pauses=st.lists(st.tuples(microseconds, microseconds), max_size=2))
def test_business_time_between_matches_walking_the_spans(
    cal: Calendar, start: datetime, length: timedelta, pauses: list[tuple[timedelta, timedelta]]
) -> None:
    end = start + length
    spans = [(start + offset, start + offset + size / 4) for offset, size in pauses]
    assert business_time_between(cal, start, end, spans) == walked_business_time(cal, start, end, spans)
    assert business_time_between(cal, start.astimezone(cal.tz), end.astimezone(cal.tz), spans) == (
        walked_business_time(cal, start, end, spans)
    )


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), start=instants, duration=microseconds,
       pauses=st.lists(st.tuples(microseconds, microseconds), max_size=2))
def test_deadline_to_the_microsecond_is_the_first_instant_with_enough_working_time(
    cal: Calendar, start: datetime, duration: timedelta, pauses: list[tuple[timedelta, timedelta]]
) -> None:
    spans = [(start + offset, start + offset + size / 4) for offset, size in pauses]
    try:
        due = add_business_time(cal, start, duration, spans)
    except CalendarError:  # too little working time in MAX_DAYS days
        assert business_time_between(cal, start, start + timedelta(days=MAX_DAYS - 2), spans) < duration
        return
    assert due.tzinfo == cal.tz
    assert business_time_between(cal, start, due, spans) == duration
    if duration:
        before = due.astimezone(UTC) - timedelta(microseconds=1)  # in UTC: local arithmetic is wall-clock
        assert business_time_between(cal, start, before, spans) < duration


@settings(max_examples=100, deadline=None)
@given(cal=calendars(), moment=instants)
def test_next_working_instant_is_working_and_nothing_before_it_is(cal: Calendar, moment: datetime) -> None:
    try:
        found = next_working_instant(cal, moment)
    except CalendarError:
        assert cal.hours is not None and not any(cal.hours.values())
        assert not is_working(cal, moment)
        return
    assert is_working(cal, found)
    # In UTC: == between zones is always False for a wall-clock time that occurs twice (PEP 495).
    assert (found.astimezone(UTC) == moment) == is_working(cal, moment)
    assert business_time_between(cal, moment, found) == timedelta(0)


def test_24x7_counts_the_hours_of_a_day_with_a_spring_forward_night() -> None:
    cal = calendar_from_json({"timezone": "Europe/Berlin", "hours": "24x7"})
    start = at("2026-03-28T23:50")  # Saturday; 23 h 30 min later it is Monday 00:20
    end = (start.astimezone(UTC) + timedelta(hours=23, minutes=30)).astimezone(cal.tz)
    assert end == at("2026-03-30T00:20")
    assert business_time_between(cal, start, end) == timedelta(hours=23, minutes=30)


def test_next_working_instant_waits_over_the_weekend_and_a_holiday() -> None:
    cal = calendar_from_json(BERLIN)
    # Fri 22 May 2026 after hours; Mon 25 May is Whit Monday.
    assert not is_working(cal, at("2026-05-22T17:45"))
    assert next_working_instant(cal, at("2026-05-22T17:45")) == at("2026-05-26T09:00")
    assert not is_working(cal, at("2026-05-25T10:00"))
    assert next_working_instant(cal, at("2026-05-25T10:00")) == at("2026-05-26T09:00")


def test_next_working_instant_inside_working_time_is_that_instant() -> None:
    cal = calendar_from_json(BERLIN)
    moment = datetime(2026, 6, 3, 8, 15, 0, 123456, tzinfo=UTC)  # 10:15:00.123456 in Berlin
    assert is_working(cal, moment)
    found = next_working_instant(cal, moment)
    assert found == moment
    assert found.tzinfo == ZoneInfo("Europe/Berlin")
    assert found.isoformat() == "2026-06-03T10:15:00.123456+02:00"


def test_a_span_starts_working_time_and_its_end_does_not() -> None:
    cal = calendar_from_json(BERLIN)
    assert is_working(cal, at("2026-06-03T09:00"))
    assert not is_working(cal, at("2026-06-03T12:00"))
    assert next_working_instant(cal, at("2026-06-03T12:00")) == at("2026-06-03T13:00")
    assert not is_working(cal, at("2026-06-03T17:30"))
    assert next_working_instant(cal, at("2026-06-03T17:30")) == at("2026-06-05T09:00")  # 4 June: Corpus Christi


def test_working_instants_on_dst_days_follow_the_wall_clock() -> None:
    cal = calendar_from_json({"timezone": "Europe/Berlin", "hours": {"sun": [["01:00", "05:00"]]}})
    # Sun 29 March 2026: 02:00 CET jumps to 03:00 CEST, so that day has 3 h of working time.
    assert next_working_instant(cal, at("2026-03-29T00:30")) == at("2026-03-29T01:00")
    assert is_working(cal, datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC))  # 01:59:59.999999 CET
    assert is_working(cal, datetime(2026, 3, 29, 1, 0, tzinfo=UTC))  # 03:00 CEST
    assert not is_working(cal, datetime(2026, 3, 29, 3, 0, tzinfo=UTC))  # 05:00 CEST
    assert business_time_between(cal, at("2026-03-29T00:00"), at("2026-03-30T00:00")) == timedelta(hours=3)
    # Sun 25 October 2026: 03:00 CEST goes back to 02:00 CET, so that day has 5 h.
    assert business_time_between(cal, at("2026-10-25T00:00"), at("2026-10-26T00:00")) == timedelta(hours=5)
    assert next_working_instant(cal, at("2026-10-25T05:00")) == at("2026-11-01T01:00")


def test_working_instants_of_a_24x7_calendar() -> None:
    cal = calendar_from_json({"timezone": "America/New_York", "hours": "24x7"})
    moment = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert is_working(cal, moment)
    assert next_working_instant(cal, moment) == moment
    assert next_working_instant(cal, moment).tzinfo == ZoneInfo("America/New_York")


def test_working_instants_refuse_naive_times_and_calendars_without_hours() -> None:
    with pytest.raises(CalendarError) as err:
        next_working_instant(calendar_from_json(BERLIN), datetime(2026, 6, 3, 10, 0))
    assert err.value.field == "at"
    with pytest.raises(CalendarError) as err:
        is_working(calendar_from_json(BERLIN), datetime(2026, 6, 3, 10, 0))
    assert err.value.field == "at"
    with pytest.raises(CalendarError) as err:
        next_working_instant(calendar_from_json({"hours": {}}), at("2026-06-03T10:00"))
    assert err.value.field == "calendar"


def test_queries_years_apart_use_the_same_calendar() -> None:
    cal = calendar_from_json(BERLIN)
    assert add_business_time(cal, at("2026-06-03T11:30"), timedelta(hours=1)) == at("2026-06-03T13:30")
    # 2031, and over its New Year (1 January a holiday) into 2032.
    assert add_business_time(cal, at("2031-12-30T17:00"), timedelta(hours=2)) == at("2031-12-31T10:30")
    assert add_business_time(cal, at("2031-12-31T17:00"), timedelta(hours=1)) == at("2032-01-02T09:30")
    assert add_business_time(cal, at("2031-03-28T17:00"), timedelta(hours=2)) == at("2031-03-31T10:30")
    assert add_business_time(cal, at("2090-05-31T16:00"), timedelta(hours=8)) == at("2090-06-01T16:30")
    # and back again
    assert add_business_time(cal, at("2026-05-22T16:30"), timedelta(hours=8)) == at("2026-05-26T17:00")
    start = at("2031-12-30T17:00")
    assert business_time_between(cal, start, start + timedelta(days=400)) == timedelta(days=86, hours=13.5)
