"""The escalation state machine: its states, its transitions, and the events they leave.

Pure domain: no database, no mail. A transition is a method that checks the
current state, changes it and appends an :class:`Event`; the store persists
both. The root-cause gate (I5) lives here so that no path can skip it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class State(StrEnum):
    AWAITING_EXPLANATION = "awaiting_explanation"
    AWAITING_ROOT_CAUSE = "awaiting_root_cause"
    AWAITING_APPROVAL = "awaiting_approval"
    CLOSED = "closed"


OPEN_STATES = frozenset({State.AWAITING_EXPLANATION, State.AWAITING_ROOT_CAUSE, State.AWAITING_APPROVAL})


class InvalidTransition(Exception):
    """A transition was asked of an escalation in a state that does not allow it."""


class RootCauseMissing(InvalidTransition):
    """Closing was asked without a complete root-cause writeup (I5)."""


@dataclass(frozen=True)
class Event:
    """One entry of the audit trail."""

    kind: str
    at: datetime
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)


def ref(number: int) -> str:
    """The public id of escalation ``number``: ``Q-<n>``."""
    return f"Q-{number}"


def parse_ref(text: str) -> int | None:
    """``Q-12`` (any case, optional brackets) -> 12; anything else -> None."""
    cleaned = text.strip().strip("[]").upper()
    if cleaned.startswith("Q-") and cleaned[2:].isdigit():
        return int(cleaned[2:])
    return None


@dataclass
class Escalation:
    """An escalation as the domain sees it; ``new_events`` are not persisted yet."""

    state: State
    executive: str
    owner: str
    deadline: datetime
    opened_at: datetime
    number: int | None = None
    closed_at: datetime | None = None
    new_events: list[Event] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        *,
        executive: str,
        owner: str,
        deadline: datetime,
        now: datetime,
        route: str,
        reasons: tuple[str, ...],
        comment: str,
    ) -> Escalation:
        """Open a new escalation awaiting the owner's explanation."""
        if deadline <= now:
            raise InvalidTransition(f"deadline {deadline.isoformat()} is not after {now.isoformat()}")
        escalation = cls(
            state=State.AWAITING_EXPLANATION,
            executive=executive,
            owner=owner,
            deadline=deadline,
            opened_at=now,
        )
        detail: dict[str, Any] = {"owner": owner, "route": route, "reasons": list(reasons)}
        detail["deadline"] = deadline.isoformat()
        if comment:
            detail["comment"] = comment
        escalation._record("opened", now, executive, detail)
        return escalation

    def close(self, *, now: datetime, actor: str, writeup_complete: bool) -> None:
        """Close the escalation; refused without a complete root-cause writeup."""
        if self.state is State.CLOSED:
            raise InvalidTransition("the escalation is already closed")
        if not writeup_complete:
            raise RootCauseMissing("no complete root-cause writeup: the escalation stays open")
        self.state = State.CLOSED
        self.closed_at = now
        self._record("closed", now, actor, {})

    def record(self, kind: str, now: datetime, actor: str, **detail: Any) -> None:
        """Add an event that changes no state (a mail queued, a note)."""
        self._record(kind, now, actor, detail)

    def _record(self, kind: str, at: datetime, actor: str, detail: dict[str, Any]) -> None:
        self.new_events.append(Event(kind=kind, at=at, actor=actor, detail=detail))
