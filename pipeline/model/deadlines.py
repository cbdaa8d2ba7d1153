"""Deadline arithmetic: when a duration falls due, in wall-clock or in someone's working time. Pure.

Business time is computed one local day at a time: each working window's edges
are placed in local wall time and converted to UTC, so DST changes shorten or
lengthen nothing by accident. Public holidays (``rules.holidays``) are skipped
like weekends. :func:`deadline_for` is the one way a person's deadline is set:
their timezone, working hours and holidays.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.durations import Duration
from rules.holidays import holidays_near
from rules.hours import DEFAULT_WORKING_HOURS, WorkingHours
from rules.schema import Person
from rules.timezones import zone

#: How many days ahead business arithmetic may look before giving up (all holidays).
_SEARCH_DAYS = 3660


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _edge(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """Local wall time ``minute`` minutes after midnight of ``day``, in UTC (1440 is the next midnight)."""
    if minute == 1440:
        day, minute = day + timedelta(days=1), 0
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).astimezone(UTC)


def _working_spans(
    start: datetime, tz: ZoneInfo, hours: WorkingHours, holidays: Collection[date]
) -> Iterable[tuple[datetime, datetime]]:
    """Working time from ``start`` on, as UTC (begin, end) spans in order."""
    day = start.astimezone(tz).date()
    for _ in range(_SEARCH_DAYS):
        if day not in holidays:
            for window in hours.windows_on(day):
                begin, end = max(_edge(day, window.start, tz), start), _edge(day, window.end, tz)
                if begin < end:
                    yield begin, end
        day += timedelta(days=1)
    raise ValueError(f"no working time found within {_SEARCH_DAYS} days of {start.isoformat()}")


def deadline_after(
    start: datetime,
    duration: Duration,
    *,
    timezone: str = "UTC",
    working_hours: WorkingHours | None = None,
    holidays: Collection[date] = (),
) -> datetime:
    """The moment (aware, UTC) that ``duration`` after ``start`` falls due.

    Wall-clock durations add elapsed seconds. Business durations count only the
    time inside ``working_hours`` (default Mon-Fri 09:00-17:00) in ``timezone``,
    skipping the local dates in ``holidays``. Work that ends exactly at closing
    time is due at closing time, not at the next opening.
    """
    begin = _aware(start, "start")
    if duration.seconds is not None:
        return begin + timedelta(seconds=duration.seconds)
    hours = working_hours or DEFAULT_WORKING_HOURS
    if duration.business_days is not None:
        remaining = duration.business_days * hours.day_hours * 3600
    else:
        remaining = (duration.business_hours or 0.0) * 3600
    if remaining <= 0:
        return begin
    for span_begin, span_end in _working_spans(begin, zone(timezone), hours, holidays):
        available = (span_end - span_begin).total_seconds()
        if remaining <= available:
            return span_begin + timedelta(seconds=remaining)
        remaining -= available
    raise AssertionError("unreachable: _working_spans raises when it runs out")  # pragma: no cover


def working_seconds_between(
    start: datetime,
    end: datetime,
    *,
    timezone: str = "UTC",
    working_hours: WorkingHours | None = None,
    holidays: Collection[date] = (),
) -> float:
    """Working seconds between ``start`` and ``end`` (0 when ``end`` is not after ``start``)."""
    begin, finish = _aware(start, "start"), _aware(end, "end")
    total = 0.0
    if finish <= begin:
        return total
    for span_begin, span_end in _working_spans(
        begin, zone(timezone), working_hours or DEFAULT_WORKING_HOURS, holidays
    ):
        if span_begin >= finish:
            break
        total += (min(span_end, finish) - span_begin).total_seconds()
    return total


def next_working_moment(
    moment: datetime,
    *,
    timezone: str,
    working_hours: WorkingHours | None,
    holidays: Collection[date] = (),
) -> datetime:
    """``moment`` (aware, UTC) when it is working time, else the start of the next working window.

    Working time is ``working_hours`` in ``timezone`` on days not in ``holidays``;
    a window's closing minute is outside it (18:00 is not inside 09:00-18:00).
    Without ``working_hours`` every moment is working time, so nothing is held:
    this is for holding messages, such as reminders, until the recipient works.
    """
    begin = _aware(moment, "moment")
    if working_hours is None:
        return begin
    for span_begin, _ in _working_spans(begin, zone(timezone), working_hours, holidays):
        return span_begin
    raise AssertionError("unreachable: _working_spans raises when it runs out")  # pragma: no cover


def remind_slots(
    opened_at: datetime,
    deadline: datetime,
    fractions: Iterable[float],
    *,
    timezone: str | None = None,
    working_hours: WorkingHours | None = None,
    holidays: Collection[date] = (),
) -> tuple[datetime, ...]:
    """Reminder moments (aware, UTC) at ``fractions`` of the way from ``opened_at`` to ``deadline``.

    By default the fractions are of the wall-clock interval. Pass ``timezone``
    (and optionally ``working_hours`` and ``holidays``) for a business deadline:
    the fractions are then of the working time in between, so a reminder never
    lands on a weekend.
    """
    begin, finish = _aware(opened_at, "opened_at"), _aware(deadline, "deadline")
    shares = list(fractions)
    if timezone is not None:
        hours = working_hours or DEFAULT_WORKING_HOURS
        total = working_seconds_between(
            begin, finish, timezone=timezone, working_hours=hours, holidays=holidays
        )
        if total > 0:
            return tuple(
                deadline_after(
                    begin,
                    Duration(f"{share:.0%}", business_hours=total * share / 3600),
                    timezone=timezone,
                    working_hours=hours,
                    holidays=holidays,
                )
                for share in shares
            )
    return tuple(begin + (finish - begin) * share for share in shares)


def deadline_for(
    person: Person | None, start: datetime, duration: Duration, *, service_timezone: str
) -> datetime:
    """When ``duration`` from ``start`` falls due for ``person``: their timezone, hours and holidays."""
    return deadline_after(
        start,
        duration,
        timezone=person.timezone if person else service_timezone,
        working_hours=person.working_hours if person else None,
        holidays=holidays_near(person.holidays if person else None, start),
    )
