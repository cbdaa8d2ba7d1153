"""Working hours as the rules write them: ``"Mon-Fri 09:00-18:00"``, parsed into a weekly schedule.

Pure, no I/O: which moments are working time, and deadlines counted in it, are
:mod:`pipeline.model.deadlines`'s job.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise


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
    week = _week(text)
    for windows in week:
        _sort_without_overlaps(windows, text)
    return WorkingHours(text=text.strip(), week=tuple(tuple(day) for day in week))


def _week(text: str) -> list[list[Window]]:
    """Each weekday's windows as written, clause by clause; days alone wait for the next clause's times."""
    week: list[list[Window]] = [[] for _ in range(7)]
    pending: list[int] = []
    for clause in re.split(r"[,;]", text):
        days, times = _clause(clause)
        pending += days
        for window in _windows(times):
            for day in pending:
                week[day].append(window)
        if times:
            pending = []
    if pending:
        raise ValueError(f'"{text.strip()}" ends with days but no times, e.g. "Sat 10:00-14:00"')
    return week


def _clause(clause: str) -> tuple[list[int], str]:
    """A clause's days, and its times as written ('' for days alone)."""
    match = _CLAUSE_RE.fullmatch(clause)
    if not match:
        raise ValueError(f'"{clause.strip()}" should read like "Mon-Fri 09:00-18:00"')
    return _days(match.group(1)), match.group(2)


def _windows(times: str) -> list[Window]:
    """The windows written in ``times`` (``"09:00-12:00 13:00-17:00"``), in order."""
    windows = []
    for h1, m1, h2, m2 in _RANGE_RE.findall(times):
        window = Window(_minute(h1, m1, is_end=False), _minute(h2, m2, is_end=True))
        if window.end <= window.start:
            raise ValueError(
                f"{h2}:{m2} is not after {h1}:{m1}; split a night shift at midnight "
                '("Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00")'
            )
        windows.append(window)
    return windows


def _sort_without_overlaps(windows: list[Window], text: str) -> None:
    """Sort one day's ``windows`` by start; ValueError when two of them overlap."""
    windows.sort(key=lambda w: w.start)
    for before, after in pairwise(windows):
        if after.start < before.end:
            raise ValueError(f'"{text.strip()}" has overlapping times on the same day')


#: Business time for a person without working_hours.
DEFAULT_WORKING_HOURS = parse_working_hours("Mon-Fri 09:00-17:00")
