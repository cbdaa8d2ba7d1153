"""A due date as moments in someone's working time: when it is overdue, and a day some working days before.

An action is due *on* a date: it is overdue once that day's work is over for its owner —
the end of their last working window that day, or :data:`CLOSING_TIME` on a day without
one (a weekend, a holiday, no working hours known). "N business days before" counts the
owner's working days (weekdays of their working hours, holidays skipped) back from the
due date and starts at that day's first working window. Pure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from rules.holidays import holidays_near
from rules.hours import DEFAULT_WORKING_HOURS
from rules.schema import Person
from rules.timezones import zone

#: The end of a due date without working hours, local time.
CLOSING_TIME = time(17, 0)
#: The start of a working day without working hours, local time.
OPENING_TIME = time(9, 0)
_MAX_DAYS_BACK = 366


def overdue_at(person: Person | None, due: date, *, service_timezone: str) -> datetime:
    """When an action due on ``due`` is overdue for ``person``: the end of their working day (UTC)."""
    tz = zone(person.timezone if person else service_timezone)
    hours = (person.working_hours if person else None) or DEFAULT_WORKING_HOURS
    windows = hours.windows_on(due)
    if not windows:
        return datetime.combine(due, CLOSING_TIME, tzinfo=tz).astimezone(UTC)
    end = windows[-1].end  # minutes after midnight; 1440 is the next midnight
    return (datetime.combine(due, time(0), tzinfo=tz) + timedelta(minutes=end)).astimezone(UTC)


def working_days_before(person: Person | None, due: date, days: int, *, service_timezone: str) -> datetime:
    """The start of the working day ``days`` working days before ``due`` for ``person`` (UTC)."""
    tz = zone(person.timezone if person else service_timezone)
    hours = (person.working_hours if person else None) or DEFAULT_WORKING_HOURS
    holidays = holidays_near(
        person.holidays if person else None, datetime.combine(due, OPENING_TIME, tzinfo=tz)
    )
    day, left = due, days
    for _ in range(_MAX_DAYS_BACK):
        if left <= 0:
            break
        day -= timedelta(days=1)
        if hours.windows_on(day) and day not in holidays:
            left -= 1
    windows = hours.windows_on(day)
    start = _clock(windows[0].start) if windows else OPENING_TIME
    return datetime.combine(day, start, tzinfo=tz).astimezone(UTC)


def local_date(person: Person | None, moment: datetime, *, service_timezone: str) -> date:
    """``moment``'s date where ``person`` is."""
    return moment.astimezone(zone(person.timezone if person else service_timezone)).date()


def _clock(minute: int) -> time:
    """Minutes after midnight as a time of day (1440, the next midnight, as 00:00)."""
    return time(0) if minute >= 1440 else time(minute // 60, minute % 60)
