"""Public holidays by code (rules/holidays.py), and business time around them and DST (model/deadlines.py).

tests/unit/test_deadlines.py covers the arithmetic with hand-written holiday
sets and the Berlin DST weekends for short deadlines; these tests use the
``holidays`` package's calendars, both DST changes in Berlin and New York, the
hold-until-working-time rule, and reminders around weekends and holidays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.model.deadlines import (
    deadline_after,
    next_working_moment,
    remind_slots,
    working_seconds_between,
)
from rules.durations import parse_duration
from rules.holidays import holiday_region, holidays_near, public_holidays
from rules.hours import WorkingHours, parse_working_hours
from tests.unit.test_deadlines import BERLIN, BERLIN_HOURS, NEW_YORK, berlin

NEW_YORK_HOURS = parse_working_hours("Mon-Fri 08:00-17:00")
GERMANY = public_holidays("DE", [2026])
NEW_YORK_STATE = public_holidays("US-NY", [2026])


def new_york(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def due_in_berlin(start: datetime, duration: str, holidays: frozenset[date] = GERMANY) -> datetime:
    """The deadline, in Berlin time, for a Berlin owner working Mon-Fri 09:00-18:00 with German holidays."""
    due = deadline_after(
        start,
        parse_duration(duration),
        timezone="Europe/Berlin",
        working_hours=BERLIN_HOURS,
        holidays=holidays,
    )
    return due.astimezone(BERLIN)


def due_in_new_york(start: datetime, duration: str, holidays: frozenset[date] = NEW_YORK_STATE) -> datetime:
    """The deadline, in New York time, for an owner working Mon-Fri 08:00-17:00 with New York holidays."""
    due = deadline_after(
        start,
        parse_duration(duration),
        timezone="America/New_York",
        working_hours=NEW_YORK_HOURS,
        holidays=holidays,
    )
    return due.astimezone(NEW_YORK)


# public_holidays and holidays_near ----------------------------------------------------------------


def test_germany_has_its_national_holidays_and_no_regional_ones() -> None:
    assert {date(2026, 5, 1), date(2026, 5, 14), date(2026, 10, 3), date(2026, 12, 25)} <= GERMANY
    assert date(2026, 12, 24) not in GERMANY
    assert date(2026, 1, 6) not in GERMANY  # Epiphany is a holiday in some states only


def test_a_region_adds_its_own_holidays_to_the_countrys() -> None:
    bavaria = public_holidays("DE-BY", [2026])
    assert date(2026, 1, 6) in bavaria
    assert GERMANY.issubset(bavaria) and bavaria != GERMANY


def test_new_york_state_has_thanksgiving_and_its_own_holidays() -> None:
    assert date(2026, 11, 26) in NEW_YORK_STATE
    assert date(2026, 2, 12) in NEW_YORK_STATE  # Lincoln's Birthday: New York, not federal
    assert date(2026, 2, 12) not in public_holidays("US", [2026])


def test_codes_are_read_in_any_case_and_cached() -> None:
    assert holiday_region(" de-by ") == "DE-BY"
    assert holiday_region("us") == "US"
    assert public_holidays("de", (2026,)) is GERMANY
    assert public_holidays("us-NY", [2026, 2026]) is NEW_YORK_STATE


def test_holidays_for_several_years_cover_each_year() -> None:
    both = public_holidays("DE", [2027, 2026])
    assert {date(2026, 12, 25), date(2027, 12, 25)} <= both
    assert date(2028, 12, 25) not in both


@pytest.mark.parametrize(
    ("code", "complaint"),
    [
        ("XX", '"XX" is not a country with known public holidays; use an ISO 3166 country code'),
        ("Germany", '"Germany" is not a country'),
        ("DEU", '"DEU" is not a country'),
        ("DE-XX", '"DE-XX" is not a region of DE with known public holidays; use DE alone or one of DE-BB'),
        ("", "must be a country code"),
    ],
)
def test_an_unknown_country_or_region_is_refused(code: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        public_holidays(code, [2026])


def test_holidays_near_a_moment_span_the_year_before_to_two_years_after() -> None:
    near = holidays_near("DE", berlin("2026-06-01T12:00"))
    assert {date(2025, 12, 25), date(2026, 12, 25), date(2027, 12, 25), date(2028, 12, 25)} <= near
    assert date(2024, 12, 25) not in near
    assert date(2029, 1, 1) not in near


def test_no_code_means_no_holidays() -> None:
    assert holidays_near(None, berlin("2026-06-01T12:00")) == frozenset()


# Business hours across weekends and public holidays ------------------------------------------------


def test_eight_business_hours_from_friday_afternoon_in_berlin_land_on_monday() -> None:
    # Three hours on Friday (15:00-18:00), five on Monday (09:00-14:00).
    assert due_in_berlin(berlin("2026-06-05T15:00"), "8 business hours") == berlin("2026-06-08T14:00")


def test_ascension_day_in_germany_is_not_business_time() -> None:
    # Given Wednesday 15:00 before Ascension (Thursday 2026-05-14)
    start = berlin("2026-05-13T15:00")
    # Then without holidays the work ends on Thursday, with German holidays on Friday
    assert due_in_berlin(start, "8 business hours", frozenset()) == berlin("2026-05-14T14:00")
    assert due_in_berlin(start, "8 business hours") == berlin("2026-05-15T14:00")


def test_labour_day_on_a_friday_pushes_the_deadline_over_the_long_weekend() -> None:
    assert due_in_berlin(berlin("2026-04-30T15:00"), "8 business hours") == berlin("2026-05-04T14:00")


def test_thanksgiving_in_new_york_is_not_business_time() -> None:
    # Wednesday 14:00-17:00, Thanksgiving skipped, Friday 08:00-13:00.
    start = new_york("2026-11-25T14:00")
    assert due_in_new_york(start, "8 business hours", frozenset()) == new_york("2026-11-26T13:00")
    assert due_in_new_york(start, "8 business hours") == new_york("2026-11-27T13:00")


def test_the_same_deadline_differs_between_german_states() -> None:
    # Corpus Christi (Thursday 2026-06-04) is a holiday in Bavaria, not in Berlin.
    start = berlin("2026-06-03T15:00")
    bavaria = public_holidays("DE-BY", [2026])
    assert due_in_berlin(start, "8 business hours") == berlin("2026-06-04T14:00")
    assert due_in_berlin(start, "8 business hours", bavaria) == berlin("2026-06-05T14:00")


# Both DST changes in Berlin and New York ----------------------------------------------------------

DST_WEEKENDS = [
    # zone, its owner's hours and holidays, the Friday before the change, Friday's and Monday's UTC offset
    pytest.param("Europe/Berlin", BERLIN_HOURS, "DE", "2026-03-27", 1, 2, id="berlin-spring-forward"),
    pytest.param("Europe/Berlin", BERLIN_HOURS, "DE", "2026-10-23", 2, 1, id="berlin-fall-back"),
    pytest.param(
        "America/New_York", NEW_YORK_HOURS, "US-NY", "2026-03-06", -5, -4, id="new-york-spring-forward"
    ),
    pytest.param("America/New_York", NEW_YORK_HOURS, "US-NY", "2026-10-30", -4, -5, id="new-york-fall-back"),
]


@pytest.mark.parametrize(("name", "hours", "code", "friday", "before", "after"), DST_WEEKENDS)
def test_a_business_deadline_over_a_dst_change_keeps_local_opening_hours(
    name: str, hours: WorkingHours, code: str, friday: str, before: int, after: int
) -> None:
    tz = ZoneInfo(name)
    (window,) = hours.windows_on(date.fromisoformat(friday))
    opens, closes = window.start // 60, window.end // 60
    start = datetime.combine(date.fromisoformat(friday), time(closes - 1), tzinfo=tz)
    monday = start.date() + timedelta(days=3)
    # Given an hour left on Friday, when 3 business hours are added
    due = deadline_after(
        start,
        parse_duration("3 business hours"),
        timezone=name,
        working_hours=hours,
        holidays=holidays_near(code, start),
    )
    # Then Monday's two hours start at the local opening time, in the new UTC offset
    assert due.astimezone(tz) == datetime.combine(monday, time(opens + 2), tzinfo=tz)
    assert start.utcoffset() == timedelta(hours=before)
    assert due.astimezone(tz).utcoffset() == timedelta(hours=after)
    # And Friday opening to Monday closing holds two 9-hour days of working time, though
    # the elapsed time between them is an hour shorter or longer than the wall clock says
    friday_open = datetime.combine(start.date(), time(opens), tzinfo=tz)
    monday_close = datetime.combine(monday, time(closes), tzinfo=tz)
    assert working_seconds_between(friday_open, monday_close, timezone=name, working_hours=hours) == 18 * 3600
    elapsed = monday_close.astimezone(UTC) - friday_open.astimezone(UTC)
    assert elapsed == timedelta(days=3, hours=9) - timedelta(hours=after - before)


@pytest.mark.parametrize(("name", "hours", "code", "friday", "before", "after"), DST_WEEKENDS)
def test_a_wall_clock_day_over_a_dst_change_is_exactly_86400_seconds(
    name: str, hours: WorkingHours, code: str, friday: str, before: int, after: int
) -> None:
    tz = ZoneInfo(name)
    saturday_noon = datetime.combine(date.fromisoformat(friday) + timedelta(days=1), time(12), tzinfo=tz)
    due = deadline_after(saturday_noon, parse_duration("24h"), timezone=name, working_hours=hours)
    assert due.tzinfo is UTC
    assert (due - saturday_noon).total_seconds() == 86400
    # The local clock moved, so the same elapsed day ends an hour off noon
    assert due.astimezone(tz).hour == 12 + (after - before)


def test_round_the_clock_hours_count_the_long_fall_back_day_in_real_time() -> None:
    # Sunday 2026-11-01 has 25 hours in New York; 24 working hours end an hour before Sunday noon.
    hours = parse_working_hours("Mon-Sun 00:00-24:00")
    start = new_york("2026-10-31T12:00")
    due = deadline_after(
        start, parse_duration("24 business hours"), timezone="America/New_York", working_hours=hours
    )
    assert due - start == timedelta(hours=24)
    assert due.astimezone(NEW_YORK) == new_york("2026-11-01T11:00")


# Reminders ----------------------------------------------------------------------------------------


def in_berlin_working_time(moment: datetime, holidays: frozenset[date]) -> bool:
    """True when ``moment`` is within a Berlin 09:00-18:00 weekday window, closing time included."""
    local = moment.astimezone(BERLIN)
    minute = local.hour * 60 + local.minute + local.second / 60
    return local.date() not in holidays and any(
        window.start <= minute <= window.end for window in BERLIN_HOURS.windows_on(local.date())
    )


def test_reminders_at_half_and_nine_tenths_of_a_deadline_over_the_weekend_fall_on_monday() -> None:
    # Friday 16:00 + 8 business hours: two on Friday, six on Monday, due Monday 15:00.
    opened = berlin("2026-06-05T16:00")
    due = due_in_berlin(opened, "8 business hours")
    assert due == berlin("2026-06-08T15:00")
    slots = remind_slots(
        opened, due, (0.5, 0.9), timezone="Europe/Berlin", working_hours=BERLIN_HOURS, holidays=GERMANY
    )
    # 4 and 7.2 working hours in: Monday 11:00 and 14:12, not on the weekend (wall-clock would be Sat/Sun)
    assert [slot.astimezone(BERLIN) for slot in slots] == [
        berlin("2026-06-08T11:00"),
        berlin("2026-06-08T14:12"),
    ]
    assert remind_slots(opened, due, (0.5,))[0].astimezone(BERLIN).weekday() == 6


def test_business_reminders_never_land_outside_working_hours() -> None:
    # Property: for deadlines opened every 47 minutes from the Wednesday before
    # Ascension to the Tuesday after, across the long weekend, the 50% and 90%
    # reminders lie inside a working window on a working day.
    opened = berlin("2026-05-13T00:00")
    while opened < berlin("2026-05-19T00:00"):
        due = due_in_berlin(opened, "8 business hours")
        slots = remind_slots(
            opened, due, (0.5, 0.9), timezone="Europe/Berlin", working_hours=BERLIN_HOURS, holidays=GERMANY
        )
        for slot in slots:
            assert in_berlin_working_time(slot, GERMANY), (opened, slot.astimezone(BERLIN))
            assert opened < slot < due
        opened += timedelta(minutes=47)


# next_working_moment ------------------------------------------------------------------------------


def held_in_berlin(moment: datetime, holidays: frozenset[date] = GERMANY) -> datetime:
    held = next_working_moment(
        moment, timezone="Europe/Berlin", working_hours=BERLIN_HOURS, holidays=holidays
    )
    assert held.tzinfo is UTC
    return held.astimezone(BERLIN)


@pytest.mark.parametrize(
    ("moment", "held"),
    [
        pytest.param("2026-06-03T10:15", "2026-06-03T10:15", id="inside-hours-unchanged"),
        pytest.param("2026-06-03T09:00", "2026-06-03T09:00", id="opening-minute-is-inside"),
        pytest.param("2026-06-03T17:59:59", "2026-06-03T17:59:59", id="last-second-is-inside"),
        pytest.param("2026-06-03T18:00", "2026-06-04T09:00", id="closing-time-is-outside"),
        pytest.param("2026-06-03T07:30", "2026-06-03T09:00", id="before-opening"),
        pytest.param("2026-06-06T12:00", "2026-06-08T09:00", id="saturday-to-monday"),
        pytest.param("2026-06-05T18:30", "2026-06-08T09:00", id="friday-evening-to-monday"),
        pytest.param("2026-05-14T10:00", "2026-05-15T09:00", id="ascension-holiday-to-friday"),
        pytest.param("2026-04-30T18:00", "2026-05-04T09:00", id="over-labour-day-and-weekend"),
        pytest.param("2026-03-28T12:00", "2026-03-30T09:00", id="over-spring-forward"),
        pytest.param("2026-10-24T12:00", "2026-10-26T09:00", id="over-fall-back"),
    ],
)
def test_a_moment_is_held_until_the_next_working_moment_in_berlin(moment: str, held: str) -> None:
    assert held_in_berlin(berlin(moment)) == berlin(held)


def test_holding_keeps_the_instant_not_just_the_wall_time() -> None:
    moment = datetime(2026, 6, 3, 8, 15, 30, tzinfo=UTC)  # 10:15:30 in Berlin
    assert next_working_moment(moment, timezone="Europe/Berlin", working_hours=BERLIN_HOURS) == moment


def test_monday_opening_after_spring_forward_is_in_summer_time() -> None:
    held = next_working_moment(
        berlin("2026-03-28T12:00"), timezone="Europe/Berlin", working_hours=BERLIN_HOURS
    )
    assert held == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_thanksgiving_eve_after_closing_is_held_until_friday_in_new_york() -> None:
    held = next_working_moment(
        new_york("2026-11-25T17:00"),
        timezone="America/New_York",
        working_hours=NEW_YORK_HOURS,
        holidays=NEW_YORK_STATE,
    )
    assert held.astimezone(NEW_YORK) == new_york("2026-11-27T08:00")


def test_without_working_hours_nothing_is_held() -> None:
    saturday = berlin("2026-06-06T03:00")
    assert next_working_moment(saturday, timezone="Europe/Berlin", working_hours=None) == saturday


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_working_moment(datetime(2026, 6, 6, 12, 0), timezone="UTC", working_hours=BERLIN_HOURS)
