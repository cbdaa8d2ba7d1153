"""What a digest says: the open escalations, the breaches, the closures and the complaints that came back
after a fix, of a period, as of a moment.

Plain values, read by :mod:`pipeline.store.reports` and rendered by
:mod:`pipeline.outbound.digest`; which of the open ones are overdue is decided here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.model.escalation import State
from pipeline.model.mail import Address
from rules.schema import RcaSection

ROOT_CAUSE_KEY = "root_cause"
#: The states whose deadline a clock chases (approval is the executive's, not the owner's).
CHASED = frozenset({State.AWAITING_EXPLANATION.value, State.AWAITING_ROOT_CAUSE.value})


@dataclass(frozen=True)
class OpenItem:
    """An open escalation: who owns it, what is awaited (its state) and by when."""

    ref: str
    subject: str
    owner: Address
    state: str
    deadline: datetime
    paused: bool = False

    def late_by(self, now: datetime) -> timedelta | None:
        """How late the owner is at ``now``, or None when nothing is overdue (paused, on time, approval)."""
        if self.state not in CHASED or self.paused or self.deadline >= now:
            return None
        return now - self.deadline


@dataclass(frozen=True)
class Breach:
    """One breach event: a deadline missed (``breached``), a later rung chased, or the ladder's top."""

    ref: str
    subject: str
    owner: Address
    at: datetime
    kind: str
    phase: str = ""
    level: int | None = None
    chased: str = ""  # the address chased, if anyone


@dataclass(frozen=True)
class ClosedItem:
    """An escalation closed in the period, with the text of its root-cause section ("" if it has none)."""

    ref: str
    subject: str
    owner: Address
    closed_at: datetime
    root_cause: str


@dataclass(frozen=True)
class Recurrence:
    """An escalation opened in the period that came back after an earlier one's fix (recurred_after_fix)."""

    ref: str
    earlier: str


@dataclass(frozen=True)
class DigestFacts:
    """Everything one digest says, as of ``now``; breaches and closures are those since ``since``."""

    now: datetime
    since: datetime
    open: tuple[OpenItem, ...] = ()
    breaches: tuple[Breach, ...] = ()
    closed: tuple[ClosedItem, ...] = ()
    recurrences: tuple[Recurrence, ...] = ()

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None or self.since.utcoffset() is None:
            raise ValueError("now and since must be timezone-aware")

    @property
    def overdue(self) -> tuple[OpenItem, ...]:
        """Open, not paused, an explanation or writeup awaited and its deadline passed; most overdue first."""
        late = [item for item in self.open if item.late_by(self.now) is not None]
        return tuple(sorted(late, key=lambda item: (item.deadline, item.ref)))

    @property
    def on_time(self) -> tuple[OpenItem, ...]:
        """The open escalations that are not overdue: soonest deadline first, then paused, then approval."""

        def order(item: OpenItem) -> tuple[int, datetime, str]:
            group = 2 if item.state not in CHASED else int(item.paused)
            return group, item.deadline, item.ref

        return tuple(sorted((item for item in self.open if item.late_by(self.now) is None), key=order))


def root_cause_key(sections: Sequence[RcaSection]) -> str:
    """The writeup key of the root cause: ``root_cause``, else a section titled like it, else the first."""
    keys = [section.key for section in sections]
    if not sections or ROOT_CAUSE_KEY in keys:
        return ROOT_CAUSE_KEY
    for section in sections:
        names = (section.key.replace("_", " "), section.title, *section.aliases)
        if any("root cause" in " ".join(name.lower().replace("-", " ").split()) for name in names):
            return section.key
    return sections[0].key
