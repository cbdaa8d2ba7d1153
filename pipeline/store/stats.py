"""The honest statistics from the database: time to explanation and to root cause, open ones included.

Every escalation opened in the window counts, whatever its state; one still
waiting counts at its current age (right-censored, see :mod:`pipeline.model.honest`).

Two decisions, both on the side of showing more trouble rather than less:

* **Root cause while the explanation is still awaited.** Its root cause is
  missing, but it has no root-cause deadline yet: that deadline is set when the
  explanation comes, counted from then, so even a late explanation may still be
  followed by a root cause in time. It is undecided for the root cause (censored
  at its current age), and overdue for the *explanation*, where it is counted.
* **The live backlog.** ``open_now`` and ``overdue_now`` (the "% overdue now")
  count every open escalation, however long ago it was opened: an escalation
  open for longer than the window is the most overdue of all, and a window must
  not hide it. The time measures stay over the escalations opened in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.model.escalation import State
from pipeline.model.honest import Measure, Observation, describe_measure, measure
from pipeline.store import models

_CLOSED = State.CLOSED.value
_AWAITING_EXPLANATION = State.AWAITING_EXPLANATION.value
_AWAITING_ROOT_CAUSE = State.AWAITING_ROOT_CAUSE.value


@dataclass(frozen=True)
class HonestStats:
    """Both measures over a window, and the live backlog beside them."""

    window_days: int
    opened: int  # escalations opened in the window
    explanation: Measure
    root_cause: Measure
    overdue_now: int  # open escalations past their deadline now (not paused), whenever opened
    open_now: int  # open escalations (any state but closed), whenever opened

    @property
    def overdue_share(self) -> float | None:
        """overdue_now / open_now; None when nothing is open."""
        return self.overdue_now / self.open_now if self.open_now else None


def honest_stats(session: Session, *, now: datetime, window: timedelta = timedelta(days=30)) -> HonestStats:
    """The statistics over every escalation with ``opened_at >= now - window``, open or closed."""
    table = models.EscalationRow
    rows = session.execute(
        select(
            table.opened_at,
            table.state,
            table.deadline,
            table.paused_at,
            table.explained_at,
            table.explained_in_time,
            table.root_cause_at,
            table.root_cause_in_time,
        ).where(table.opened_at >= now - window)
    ).all()
    explanation: list[Observation] = []
    root_cause: list[Observation] = []
    for row in rows:
        late = row.paused_at is None and row.deadline < now
        overdue = late and row.state == _AWAITING_EXPLANATION
        explanation.append(_observation(row.opened_at, row.explained_at, row.explained_in_time, now, overdue))
        overdue = late and row.state == _AWAITING_ROOT_CAUSE
        root_cause.append(
            _observation(row.opened_at, row.root_cause_at, row.root_cause_in_time, now, overdue)
        )
    open_now, overdue_now = session.execute(
        select(
            func.count(),
            func.count().filter(
                table.state.in_((_AWAITING_EXPLANATION, _AWAITING_ROOT_CAUSE)),
                table.paused_at.is_(None),
                table.deadline < now,
            ),
        ).where(table.state != _CLOSED)
    ).one()
    return HonestStats(
        window_days=window // timedelta(days=1),
        opened=len(rows),
        explanation=measure(explanation),
        root_cause=measure(root_cause),
        overdue_now=int(overdue_now),
        open_now=int(open_now),
    )


def _observation(
    opened_at: datetime, at: datetime | None, in_time: bool | None, now: datetime, late: bool
) -> Observation:
    """One escalation seen from one event; ``late``: that very event is awaited and overdue now."""
    age = ((at or now) - opened_at).total_seconds()
    return Observation(
        age=max(age, 0.0),  # clock skew between processes must not make an age negative
        happened=at is not None,
        in_time=in_time if at is not None else None,
        overdue_now=late and at is None,
    )


def describe_stats(stats: HonestStats) -> list[str]:
    """The lines for ``qmark status`` and the digest, "% overdue now" included."""
    days = f"{stats.window_days} day{'s' if stats.window_days != 1 else ''}"
    lines = [f"last {days}: {stats.opened} escalation{'s' if stats.opened != 1 else ''} opened"]
    lines.append(describe_measure("time to explanation", stats.explanation))
    lines.append(describe_measure("time to root cause", stats.root_cause, done="written up"))
    if stats.open_now:
        share = -(-stats.overdue_now * 100 // stats.open_now)  # rounded up: never shown better than it is
        lines.append(f"overdue now: {stats.overdue_now} of {stats.open_now} open escalations ({share}%)")
    else:
        lines.append("overdue now: nothing open")
    return lines
