"""A corrective or preventive action of the ledger, ``A-<n>``: its life after the escalation closed.

When an escalation closes, each :class:`~pipeline.model.action_items.ActionItem` its
writeup planned becomes an :class:`Action`, whose life is a small state machine:

    open --done(evidence)--> done;  open --drop(reason)--> dropped;  open --move(due)--> open
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pipeline.model.action_items import ActionItem
from pipeline.model.escalation import Event, InvalidTransition

#: Words of evidence ``#done`` needs at least.
MIN_EVIDENCE_WORDS = 5


class ActionState(StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


@dataclass
class Action:
    """One action of the ledger; ``new_events`` are recorded on its escalation's trail when saved."""

    number: int
    escalation: int
    section: str
    title: str
    owner: str
    due: date
    due_at: datetime
    state: ActionState = ActionState.OPEN
    line: str = ""  # the writeup's line as written
    created_at: datetime | None = None
    done_at: datetime | None = None
    evidence: str = ""
    dropped_reason: str = ""
    due_moves: int = 0
    clock_started_at: datetime | None = None  # when the current chase phase began
    chase_phase: int = 1
    chase_slot: int = 0
    chase_at: datetime | None = None
    new_events: list[Event] = field(default_factory=list)

    @classmethod
    def from_item(cls, item: ActionItem, *, escalation: int, due_at: datetime, now: datetime) -> Action:
        """The open action a writeup's ``item`` becomes when its escalation closes (numbered when stored)."""
        return cls(
            number=0,
            escalation=escalation,
            section=item.section,
            title=item.title,
            line=item.line,
            owner=item.owner,
            due=item.due,
            due_at=due_at,
            created_at=now,
            clock_started_at=now,
        )

    @property
    def is_open(self) -> bool:
        return self.state is ActionState.OPEN

    def done(self, *, now: datetime, actor: str, evidence: str) -> None:
        """The owner says it is done, with what was done (at least :data:`MIN_EVIDENCE_WORDS` words)."""
        self._require_open("mark done")
        words = len(evidence.split())
        if words < MIN_EVIDENCE_WORDS:
            raise InvalidTransition(
                f"#done needs what was done, in at least {MIN_EVIDENCE_WORDS} words (got {words})"
            )
        self.state = ActionState.DONE
        self.done_at = now
        self.evidence = evidence.strip()
        self.chase_at = None
        self._record("action_done", now, actor, evidence=self.evidence[:2000], in_time=now <= self.due_at)

    def drop(self, *, now: datetime, actor: str, reason: str) -> None:
        """The action will not be done, and why."""
        self._require_open("drop")
        if not reason.strip():
            raise InvalidTransition("#drop needs a reason")
        self.state = ActionState.DROPPED
        self.dropped_reason = reason.strip()
        self.chase_at = None
        self._record("action_dropped", now, actor, reason=self.dropped_reason[:2000])

    def move(self, *, now: datetime, actor: str, due: date, due_at: datetime) -> None:
        """A new due date; its chase starts again."""
        self._require_open("move")
        if due_at <= now:
            raise InvalidTransition(f"the new due date {due.isoformat()} is not in the future")
        self._record("action_due_moved", now, actor, was=self.due.isoformat(), due=due.isoformat())
        self.due, self.due_at = due, due_at
        self.due_moves += 1
        self.clock_started_at = now
        self.chase_phase += 1
        self.chase_slot = 0

    def record(self, kind: str, now: datetime, actor: str, **detail: Any) -> None:
        """Add an event that changes no state (a reminder sent, a chase)."""
        self._record(kind, now, actor, **detail)

    def _require_open(self, what: str) -> None:
        if not self.is_open:
            raise InvalidTransition(f"cannot {what} A-{self.number}: it is {self.state.value}")

    def _record(self, kind: str, at: datetime, actor: str, **detail: Any) -> None:
        self.new_events.append(
            Event(kind=kind, at=at, actor=actor, detail={"action": f"A-{self.number}", **detail})
        )
