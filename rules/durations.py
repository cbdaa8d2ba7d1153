"""Durations as the rules write them: wall-clock (``"4h"``) or business time (``"8 business hours"``).

A :class:`Duration` is either wall-clock (elapsed seconds) or business time
(``"8 business hours"``, ``"5 business days"``), which only counts the owner's
working hours in the owner's timezone; turning one into a deadline is
:mod:`pipeline.model.deadlines`'s job. Pure, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How a valid duration looks; used in error messages here and by the loaders.
DURATION_EXAMPLES = '"90s", "30m", "4h", "2d", "1h30m", "8 business hours" or "5 business days"'

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
