"""Durations and deadline arithmetic: wall-clock and business time. Pure, no I/O.

A :class:`Duration` is either wall-clock (``"4h"``: elapsed seconds) or business
time (``"8 business hours"``, ``"5 business days"``), which only counts the
owner's working hours in the owner's timezone. Business time is computed one
local day at a time: each working window's edges are placed in local wall time
and converted to UTC, so DST changes shorten or lengthen nothing by accident.

Public holidays come from the ``holidays`` package by country code (``"DE"``,
``"US-NY"``); its bundled data is the only thing read besides the tz database.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "DURATION_EXAMPLES",
    "Duration",
    "Window",
    "WorkingHours",
    "deadline_after",
    "next_working_moment",
    "parse_duration",
    "parse_working_hours",
    "remind_slots",
    "working_seconds_between",
    "zone",
]

#: How a valid duration looks; used in error messages here and by the loaders.
DURATION_EXAMPLES = '"90s", "30m", "4h", "2d", "1h30m", "8 business hours" or "5 business days"'

#: How many days ahead business arithmetic may look before giving up (all holidays).
_SEARCH_DAYS = 3660

_UNIT_SECONDS = {
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
}  # fmt: skip
_UNITS = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
_WALL_PART = rf"(\d+(?:\.\d+)?)\s*({_UNITS})"
_WALL_RE = re.compile(rf"(?:\s*{_WALL_PART})+\s*", re.IGNORECASE)
_WALL_PART_RE = re.compile(_WALL_PART, re.IGNORECASE)
_BUSINESS_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s+business\s+(hours?|days?)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Duration:
    """A parsed duration; exactly one of ``seconds``, ``business_hours``, ``business_days`` is set.

    ``business_days`` counts in units of the person's working day (see
    :attr:`WorkingHours.day_hours`), so it can only be turned into hours once the
    person is known.
    """

    text: str
    seconds: float | None = None
    business_hours: float | None = None
    business_days: float | None = None

    def __post_init__(self) -> None:
        chosen = [v for v in (self.seconds, self.business_hours, self.business_days) if v is not None]
        if len(chosen) != 1:
            raise ValueError("a Duration needs exactly one of seconds, business_hours, business_days")
        if chosen[0] < 0:
            raise ValueError(f"duration {self.text!r} is negative")

    @property
    def is_business(self) -> bool:
        """True when the duration counts working time only."""
        return self.seconds is None

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str) -> Duration:
    """Parse ``"90s"``, ``"1h30m"``, ``"100ms"``, ``"8 business hours"``, ``"5 business days"``."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; write it as a string like {DURATION_EXAMPLES}")
    business = _BUSINESS_RE.fullmatch(text)
    if business:
        amount = float(business.group(1))
        if business.group(2).lower().startswith("hour"):
            return Duration(text=text.strip(), business_hours=amount)
        return Duration(text=text.strip(), business_days=amount)
    if text.strip() and _WALL_RE.fullmatch(text):
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit.lower()] for number, unit in _WALL_PART_RE.findall(text)
        )
        return Duration(text=text.strip(), seconds=seconds)
    raise ValueError(f'"{text}" is not a duration; use a number and a unit, e.g. {DURATION_EXAMPLES}')


@dataclass(frozen=True)
class Window:
    """One stretch of working time within a day, in minutes after local midnight (end may be 1440)."""

    start: int
    end: int

    @property
    def hours(self) -> float:
        """The window's nominal length in hours."""
        return (self.end - self.start) / 60


@dataclass(frozen=True)
class WorkingHours:
    """A weekly working schedule: ``week[0]`` holds Monday's windows, ``week[6]`` Sunday's."""

    text: str
    week: tuple[tuple[Window, ...], ...] = field(repr=False)

    def windows_on(self, day: date) -> tuple[Window, ...]:
        """The working windows on ``day`` (by its weekday)."""
        return self.week[day.weekday()]

    @property
    def day_hours(self) -> float:
        """The length of a normal working day: the most common day length (the longest on a tie)."""
        lengths = Counter(sum(w.hours for w in day) for day in self.week if day)
        return max(lengths, key=lambda hours: (lengths[hours], hours))

    def __str__(self) -> str:
        return self.text


_DAY_NAMES = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_DAYS_RE = re.compile(r"([A-Za-z]+)(?:\s*-\s*([A-Za-z]+))?")
_RANGE = r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})"
_CLAUSE_RE = re.compile(rf"\s*([A-Za-z]+(?:\s*-\s*[A-Za-z]+)?)\s*((?:{_RANGE}\s*)*)")
_RANGE_RE = re.compile(_RANGE)


def _day(name: str) -> int:
    try:
        return _DAY_NAMES[name.lower()]
    except KeyError:
        raise ValueError(f'"{name}" is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun') from None


def _days(spec: str) -> list[int]:
    match = _DAYS_RE.fullmatch(spec.strip())
    if not match:
        raise ValueError(f'"{spec}" is not a day or a day range like Mon-Fri')
    first = _day(match.group(1))
    last = _day(match.group(2)) if match.group(2) else first
    return [(first + offset) % 7 for offset in range((last - first) % 7 + 1)]


def _minute(hours: str, minutes: str, *, is_end: bool) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and (m or not is_end)):
        raise ValueError(f'"{hours}:{minutes}" is not a time of day (00:00 to 24:00)')
    return h * 60 + m


def parse_working_hours(text: str) -> WorkingHours:
    """Parse ``"Mon-Fri 09:00-18:00"``, ``"Mon-Thu 08:00-17:00, Fri 08:00-13:00"``, ``"Sun-Thu 09:00-17:00"``.

    A clause may hold several ranges (``"Mon-Fri 09:00-12:00 13:00-17:00"``); a
    clause of days alone takes the next clause's times (``"Sat, Sun 10:00-14:00"``).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError('working hours must be a string like "Mon-Fri 09:00-18:00"')
    week: list[list[Window]] = [[] for _ in range(7)]
    pending: list[int] = []
    for clause in re.split(r"[,;]", text):
        match = _CLAUSE_RE.fullmatch(clause)
        if not match:
            raise ValueError(f'"{clause.strip()}" should read like "Mon-Fri 09:00-18:00"')
        pending += _days(match.group(1))
        for h1, m1, h2, m2 in _RANGE_RE.findall(match.group(2)):
            window = Window(_minute(h1, m1, is_end=False), _minute(h2, m2, is_end=True))
            if window.end <= window.start:
                raise ValueError(
                    f"{h2}:{m2} is not after {h1}:{m1}; split a night shift at midnight "
                    '("Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00")'
                )
            for day in pending:
                week[day].append(window)
        if match.group(2):
            pending = []
    if pending:
        raise ValueError(f'"{text.strip()}" ends with days but no times, e.g. "Sat 10:00-14:00"')
    for windows in week:
        windows.sort(key=lambda w: w.start)
        for before, after in pairwise(windows):
            if after.start < before.end:
                raise ValueError(f'"{text.strip()}" has overlapping times on the same day')
    return WorkingHours(text=text.strip(), week=tuple(tuple(day) for day in week))


#: Business time for a person without working_hours.
DEFAULT_WORKING_HOURS = parse_working_hours("Mon-Fri 09:00-17:00")


def zone(name: str) -> ZoneInfo:
    """The IANA timezone called ``name``; ValueError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'"{name}" is not an IANA timezone such as "Europe/Berlin" or "UTC"') from None


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
