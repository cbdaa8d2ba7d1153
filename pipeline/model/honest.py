"""Honest numbers: time to an event over every escalation, open ones included. Pure, no I/O.

A time to explanation (or to root cause) computed over the answered escalations
only looks best exactly when things are worst: the slowest cases are the ones
not answered yet, and they are left out. Here every escalation opened in the
window counts. One still waiting is *right-censored*: all we know is that its
time is longer than its current age. The Kaplan–Meier estimator uses exactly
that, so p50 and p90 count open escalations at their current age, and say "not
reached yet" when too many are still open to know.

Beside the percentiles stand the plain counts nobody can argue with: how many
were never answered (yet), how many of those are overdue now, and the share
within deadline over the *decided* cases: answered in time, or answered late
or still missing past the deadline. A missing answer that could still come in
time is undecided, and counts on neither side.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby

# Products of many fractions drift by a few ulps; S(t) = 0.5 must still meet the median.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Observation:
    """One escalation, seen from one event (the explanation, or the root cause)."""

    age: float  # seconds from opening to the event, or to now when it has not happened (censored)
    happened: bool  # True: event observed at `age`; False: right-censored at `age`
    in_time: bool | None  # the event came by its deadline (None when not happened, or not known)
    overdue_now: bool  # not happened and past its deadline now

    def __post_init__(self) -> None:
        if self.age < 0:
            raise ValueError(f"an age cannot be negative: {self.age}")
        if self.happened and self.overdue_now:
            raise ValueError("an event that happened cannot be overdue now")


def kaplan_meier(observations: Sequence[Observation]) -> list[tuple[float, float]]:
    """The Kaplan–Meier survival curve: ``(t, S(t))`` at each time an event happened, ascending.

    S(t) is the estimated share of escalations still without the event after ``t``
    seconds; it is 1.0 before the first step and drops only where events happen.
    At each event time ``S *= (n - d) / n``, ``n`` being those still at risk (not
    yet answered, not yet censored) and ``d`` those answered then. A censoring at
    the same time as an event counts as coming after it (it is still at risk at
    ``t``): the standard convention. Empty when no event happened.
    """
    at_risk = len(observations)
    survival = 1.0
    steps: list[tuple[float, float]] = []
    for age, group in groupby(sorted(observations, key=lambda o: o.age), key=lambda o: o.age):
        seen = list(group)
        events = sum(1 for o in seen if o.happened)
        if events:
            survival *= (at_risk - events) / at_risk
            steps.append((age, survival))
        at_risk -= len(seen)
    return steps


def km_quantile(curve: Sequence[tuple[float, float]], q: float) -> float | None:
    """The smallest ``t`` with ``S(t) <= 1 - q``: by then a share ``q`` had the event.

    None when the curve never gets there: too many are still open to know ("not reached yet").
    """
    if not 0 < q <= 1:
        raise ValueError(f"a quantile lies in (0, 1], not {q}")
    for time, survival in curve:
        if survival <= 1 - q + _TOLERANCE:
            return time
    return None


@dataclass(frozen=True)
class Measure:
    """Time to one event over the escalations opened in a window, told honestly."""

    count: int  # escalations in the window
    happened: int  # of them, with the event
    p50_seconds: float | None  # Kaplan–Meier median (None: not reached yet)
    p90_seconds: float | None
    within_deadline: int  # the event happened in time
    missed_deadline: int  # happened late, or still missing and overdue now
    undecided: int  # still missing, not overdue yet (could still make it)
    never: int  # still missing (count - happened): "never answered (yet)"
    overdue_now: int  # still missing and overdue now

    @property
    def decided(self) -> int:
        return self.within_deadline + self.missed_deadline

    @property
    def share_within_deadline(self) -> float | None:
        """Within / decided: a missing answer past its deadline counts as missed. None when none decided."""
        return self.within_deadline / self.decided if self.decided else None


def measure(observations: Sequence[Observation]) -> Measure:
    """Percentiles from the Kaplan–Meier curve and the counts beside them.

    An event that happened without knowing whether it came in time (``in_time``
    None: rows older than that column) counts as neither within nor missed.
    """
    curve = kaplan_meier(observations)
    happened = [o for o in observations if o.happened]
    missing = [o for o in observations if not o.happened]
    overdue = _count(missing, lambda o: o.overdue_now)
    return Measure(
        count=len(observations),
        happened=len(happened),
        p50_seconds=km_quantile(curve, 0.5),
        p90_seconds=km_quantile(curve, 0.9),
        within_deadline=_count(happened, lambda o: o.in_time is True),
        missed_deadline=_count(happened, lambda o: o.in_time is False) + overdue,
        undecided=len(missing) - overdue,
        never=len(missing),
        overdue_now=overdue,
    )


def _count(observations: Sequence[Observation], test: Callable[[Observation], bool]) -> int:
    return sum(1 for o in observations if test(o))


def duration_words(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 10m``, ``2d 4h``: at most two units, rounded up (a wait never looks shorter)."""
    whole = math.ceil(max(seconds, 0.0))
    if whole < 60:
        return f"{whole}s"
    minutes = -(-whole // 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(-(-whole // 3600), 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def describe_measure(name: str, m: Measure, *, done: str = "answered") -> str:
    """One honest line: percentiles, who is still missing, and the share within deadline.

    ``time to explanation: p50 3h 10m, p90 not reached yet (9 of 12 answered; 3 never
    answered, 2 of them overdue now); within deadline 5 of 8 decided (62%)``. ``done``
    names the event as a participle ("answered", "written up").
    """
    if m.count == 0:
        return f"{name}: no escalations opened in the window"

    def percentile(label: str, seconds: float | None) -> str:
        return f"{label} {'not reached yet' if seconds is None else duration_words(seconds)}"

    answered = f"{m.happened} of {m.count} {done}"
    if m.never:
        overdue = f"{m.overdue_now} of them overdue now" if m.overdue_now else "none overdue now"
        answered += f"; {m.never} never {done}, {overdue}"
    if m.decided:
        # Integer arithmetic, rounded down: the share is never shown better than it is.
        percent = m.within_deadline * 100 // m.decided
        share = f"within deadline {m.within_deadline} of {m.decided} decided ({percent}%)"
    else:
        share = "within deadline: none decided yet"
    p50, p90 = percentile("p50", m.p50_seconds), percentile("p90", m.p90_seconds)
    return f"{name}: {p50}, {p90} ({answered}); {share}"
