"""Durations and working hours (rules/durations.py, hours.py), deadline arithmetic (model/deadlines.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.model.deadlines import deadline_after, remind_slots, working_seconds_between
from rules.durations import Duration, parse_duration
from rules.hours import parse_working_hours

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN_HOURS = parse_working_hours("Mon-Fri 09:00-18:00")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def in_berlin(start: datetime, duration: str, holidays: set[date] | None = None) -> datetime:
    """The deadline, in Berlin time, for a Berlin owner working Mon-Fri 09:00-18:00."""
    due = deadline_after(
        start,
        parse_duration(duration),
        timezone="Europe/Berlin",
        working_hours=BERLIN_HOURS,
        holidays=holidays or set(),
    )
    assert due.tzinfo is UTC
    return due.astimezone(BERLIN)


# parse_duration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("4h", 14400),
        ("2d", 172800),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("100ms", 0.1),
        ("1.5h", 5400),
        ("2 hours", 7200),
    ],
)
def test_wall_clock_durations_parse_to_seconds(text: str, seconds: float) -> None:
    duration = parse_duration(text)
    assert duration.seconds == pytest.approx(seconds)
    assert duration.business_hours is None and duration.business_days is None
    assert not duration.is_business
    assert str(duration) == text


@pytest.mark.parametrize(
    ("text", "hours", "days"),
    [
        ("8 business hours", 8, None),
        ("1 business hour", 1, None),
        ("1.5 Business Hours", 1.5, None),
        ("5 business days", None, 5),
        ("1 business day", None, 1),
    ],
)
def test_business_durations_keep_their_unit(text: str, hours: float | None, days: float | None) -> None:
    duration = parse_duration(text)
    assert (duration.seconds, duration.business_hours, duration.business_days) == (None, hours, days)
    assert duration.is_business


@pytest.mark.parametrize("text", ["4 parsecs", "", "1h30", "-4h", "four hours", "8 business weeks", "h"])
def test_unparseable_durations_raise_a_value_error_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration; use a number and a unit, e\.g\. \"90s\""):
        parse_duration(text)


def test_a_duration_needs_exactly_one_unit() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Duration("4h", seconds=14400, business_hours=4)
    with pytest.raises(ValueError, match="exactly one"):
        Duration("nothing")


# parse_working_hours ------------------------------------------------------------------------------


def test_a_weekday_range_covers_each_day_in_it() -> None:
    hours = parse_working_hours("Mon-Fri 09:00-18:00")
    assert [len(day) for day in hours.week] == [1, 1, 1, 1, 1, 0, 0]
    assert hours.week[0][0].start == 9 * 60 and hours.week[0][0].end == 18 * 60
    assert hours.day_hours == 9


def test_clauses_give_different_days_different_hours() -> None:
    hours = parse_working_hours("Mon-Thu 08:00-17:00, Fri 08:00-13:00")
    assert [sum(w.hours for w in day) for day in hours.week] == [9, 9, 9, 9, 5, 0, 0]
    # Then the normal working day is the most common length.
    assert hours.day_hours == 9


def test_a_range_may_wrap_around_the_weekend() -> None:
    hours = parse_working_hours("Sun-Thu 09:00-17:00")
    assert [bool(day) for day in hours.week] == [True, True, True, True, False, False, True]


def test_a_day_may_have_several_ranges_and_days_may_share_times() -> None:
    hours = parse_working_hours("Mon-Fri 09:00-12:00 13:00-17:00; Sat, Sun 10:00-14:00")
    assert [(w.start, w.end) for w in hours.week[2]] == [(540, 720), (780, 1020)]
    assert [(w.start, w.end) for w in hours.week[6]] == [(600, 840)]


def test_a_day_may_end_at_midnight() -> None:
    assert parse_working_hours("Mon-Sun 00:00-24:00").week[3][0].hours == 24


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("Mnday-Fri 09:00-17:00", '"Mnday" is not a day'),
        ("Mon-Fri 18:00-09:00", "split a night shift at midnight"),
        ("Mon-Fri 09:00-25:00", '"25:00" is not a time of day'),
        ("Mon-Fri 09:00-13:00 12:00-17:00", "overlapping"),
        ("Mon-Fri", "days but no times"),
        ("9 to 5", "should read like"),
        ("", "must be a string"),
    ],
)
def test_bad_working_hours_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_working_hours(text)


# deadline_after -----------------------------------------------------------------------------------


def test_business_hours_skip_the_weekend() -> None:
    # Given a Friday 16:00 in Berlin with working hours 09:00-18:00
    # When four business hours are added
    due = in_berlin(berlin("2026-06-05T16:00"), "4 business hours")
    # Then two are used on Friday and two on Monday morning
    assert due == berlin("2026-06-08T11:00")


def test_business_hours_are_right_across_the_spring_forward_weekend() -> None:
    # Europe/Berlin moves from +01:00 to +02:00 on Sunday 2026-03-29.
    due = in_berlin(berlin("2026-03-27T16:00"), "4 business hours")
    assert due == berlin("2026-03-30T11:00")
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def test_business_hours_are_right_across_the_fall_back_weekend() -> None:
    # Europe/Berlin moves from +02:00 to +01:00 on Sunday 2026-10-25.
    due = in_berlin(berlin("2026-10-23T16:00"), "4 business hours")
    assert due == berlin("2026-10-26T11:00")
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)


def test_business_hours_count_in_the_owners_timezone() -> None:
    # Given a New York owner working 08:00-17:00, and a start given in UTC on the
    # Friday before US daylight saving time begins (Sunday 2026-03-08)
    start = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # 15:00 EST
    hours = parse_working_hours("Mon-Fri 08:00-17:00")
    due = deadline_after(
        start, parse_duration("4 business hours"), timezone="America/New_York", working_hours=hours
    )
    # Then two hours are left on Friday and Monday's 08:00 is already EDT (-04:00)
    assert due.astimezone(NEW_YORK) == datetime(2026, 3, 9, 10, 0, tzinfo=NEW_YORK)
    assert due == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_a_holiday_is_skipped() -> None:
    # Given Christmas Day (a Friday) is a holiday
    due = in_berlin(berlin("2026-12-24T16:00"), "4 business hours", holidays={date(2026, 12, 25)})
    # Then the work continues on Monday
    assert due == berlin("2026-12-28T11:00")


def test_fractional_business_hours_carry_into_the_next_day() -> None:
    assert in_berlin(berlin("2026-06-03T17:00"), "1.5 business hours") == berlin("2026-06-04T09:30")


def test_a_start_before_opening_counts_from_opening() -> None:
    assert in_berlin(berlin("2026-06-01T07:00"), "1 business hour") == berlin("2026-06-01T10:00")


def test_a_start_on_the_weekend_counts_from_monday() -> None:
    assert in_berlin(berlin("2026-06-06T12:00"), "2 business hours") == berlin("2026-06-08T11:00")


def test_work_that_fills_the_day_is_due_at_closing_time() -> None:
    assert in_berlin(berlin("2026-06-05T14:00"), "4 business hours") == berlin("2026-06-05T18:00")


def test_business_days_are_working_days_of_the_persons_length() -> None:
    # Five 9-hour days from Tuesday 10:00 end next Tuesday 10:00.
    assert in_berlin(berlin("2026-06-02T10:00"), "5 business days") == berlin("2026-06-09T10:00")


def test_business_hours_default_to_nine_to_five_on_weekdays() -> None:
    start = datetime(2026, 6, 5, 15, 0, tzinfo=UTC)  # a Friday
    due = deadline_after(start, parse_duration("3 business hours"))
    assert due == datetime(2026, 6, 8, 10, 0, tzinfo=UTC)


def test_round_the_clock_hours_count_real_time_on_the_short_dst_day() -> None:
    # The Sunday of spring forward has only 23 hours in Berlin.
    hours = parse_working_hours("Mon-Sun 00:00-24:00")
    due = deadline_after(
        berlin("2026-03-28T12:00"),
        parse_duration("24 business hours"),
        timezone="Europe/Berlin",
        working_hours=hours,
    )
    assert due.astimezone(BERLIN) == berlin("2026-03-29T13:00")


def test_wall_clock_durations_add_elapsed_time_across_dst() -> None:
    start = berlin("2026-03-29T01:00")  # an hour before the clocks jump
    due = deadline_after(start, parse_duration("4h"), timezone="Europe/Berlin")
    assert due - start == timedelta(hours=4)
    assert due.astimezone(BERLIN).hour == 6


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_after(datetime(2026, 6, 5, 16, 0), parse_duration("4h"))


def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="IANA timezone"):
        deadline_after(
            berlin("2026-06-05T16:00"), parse_duration("4 business hours"), timezone="Mars/Olympus"
        )


def test_a_week_of_holidays_is_skipped_without_hanging() -> None:
    off = {date(2026, 6, 8) + timedelta(days=n) for n in range(5)}
    assert in_berlin(berlin("2026-06-05T18:00"), "1 business hour", holidays=off) == berlin(
        "2026-06-15T10:00"
    )


@pytest.mark.parametrize(
    "start", ["2026-03-26T08:15", "2026-03-27T17:59", "2026-10-24T10:00", "2026-12-23T12:30"]
)
def test_deadlines_grow_with_the_duration_and_give_back_the_working_time(start: str) -> None:
    # Property: more business time never gives an earlier deadline, and the
    # working time between start and deadline is the duration asked for.
    previous = None
    for quarter_hours in range(0, 200, 7):
        hours = quarter_hours / 4
        due = in_berlin(berlin(start), f"{hours} business hours", holidays={date(2026, 12, 25)})
        assert previous is None or due >= previous
        worked = working_seconds_between(
            berlin(start),
            due,
            timezone="Europe/Berlin",
            working_hours=BERLIN_HOURS,
            holidays={date(2026, 12, 25)},
        )
        assert worked == pytest.approx(hours * 3600)
        previous = due


# remind_slots -------------------------------------------------------------------------------------


def test_reminders_fall_at_fractions_of_the_wall_clock_interval() -> None:
    opened = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    slots = remind_slots(opened, opened + timedelta(hours=4), (0.5, 0.9))
    assert slots == (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), datetime(2026, 6, 1, 13, 36, tzinfo=UTC))


def test_business_reminders_fall_at_fractions_of_the_working_time() -> None:
    # Given a Friday 16:00 Berlin complaint due Monday 11:00 (4 business hours)
    opened = berlin("2026-06-05T16:00")
    due = in_berlin(opened, "4 business hours")
    # When reminders are counted in working time
    slots = remind_slots(opened, due, (0.25, 0.75), timezone="Europe/Berlin", working_hours=BERLIN_HOURS)
    # Then none lands on the weekend
    assert [slot.astimezone(BERLIN) for slot in slots] == [
        berlin("2026-06-05T17:00"),
        berlin("2026-06-08T10:00"),
    ]
