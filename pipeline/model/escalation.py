"""The escalation state machine: its states, its transitions, and the events they leave.

Pure domain: no database, no mail. A transition is a method that checks the
current state, changes it and appends an :class:`Event`; the store persists
both. The root-cause gate (I5) lives here: :meth:`Escalation.close` re-checks the
writeup the escalation holds against the rca rules, so no path — email, CLI,
sweeper, replay — can close without a complete one.

    awaiting_explanation --explain--> awaiting_root_cause --submit--> closed
    awaiting_root_cause --submit (policy executive_approves)--> awaiting_approval
    awaiting_approval --approve--> closed;  --send_back--> awaiting_root_cause
    closed --reopen--> awaiting_explanation
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pipeline.model.action_items import ActionItem, ActionReading
from pipeline.model.rootcause import WriteupCheck, check_sections, merge_sections
from rules.schema import RcaRules


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


_EXCERPT = 2000  # characters of someone's words kept in an event


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


@dataclass
class Escalation:
    """An escalation as the domain sees it; ``new_events`` are not persisted yet.

    ``writeup`` holds the root-cause sections received so far (merged over the
    owner's mails); ``root_cause_at`` is set when they first formed a complete writeup.
    """

    state: State
    executive: str
    owner: str
    deadline: datetime
    opened_at: datetime
    number: int | None = None
    closed_at: datetime | None = None
    explained_at: datetime | None = None
    explanation: str = ""
    writeup: dict[str, str] = field(default_factory=dict)
    root_cause_at: datetime | None = None
    extended: bool = False
    reopened: int = 0
    # The chase clock: a phase (explanation, root cause) runs from clock_started_at to the
    # deadline; chase_slot of its slots are handled; chase_at is when the next is due.
    clock_started_at: datetime | None = None
    clock_business: bool = False
    chase_phase: int = 1
    chase_slot: int = 0
    chase_at: datetime | None = None
    paused_at: datetime | None = None
    paused_seconds: float = 0.0
    explained_in_time: bool | None = None
    root_cause_in_time: bool | None = None
    # The actions the accepted writeup plans; they become the ledger's rows at the close.
    planned_actions: list[ActionItem] = field(default_factory=list)
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
        business: bool = False,
    ) -> Escalation:
        """Open an escalation awaiting the explanation (``business``: its deadline counts work time)."""
        _require_future(deadline, now)
        escalation = cls(
            state=State.AWAITING_EXPLANATION,
            executive=executive,
            owner=owner,
            deadline=deadline,
            opened_at=now,
            clock_started_at=now,
            clock_business=business,
        )
        detail: dict[str, Any] = {"owner": owner, "route": route, "reasons": list(reasons)}
        detail["deadline"] = deadline.isoformat()
        if comment:
            detail["comment"] = comment
        escalation._record("opened", now, executive, detail)
        return escalation

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def chased(self) -> bool:
        """Whether a clock runs: an explanation or a writeup is awaited and nothing pauses it."""
        return self.state in (State.AWAITING_EXPLANATION, State.AWAITING_ROOT_CAUSE) and not self.is_paused

    # -- the owner's side ---------------------------------------------------------------------

    def acknowledge(self, *, now: datetime, actor: str, words: str) -> None:
        """A mere acknowledgement: recorded, but it is no explanation and the clock runs on."""
        self._require_open("acknowledge")
        self._record("acknowledged", now, actor, {"words": _excerpt(words)})

    def explain(
        self, *, now: datetime, actor: str, text: str, root_cause_deadline: datetime, business: bool = False
    ) -> None:
        """The first substantive answer: the explanation clock stops, the root-cause clock starts."""
        if self.state is not State.AWAITING_EXPLANATION:
            raise InvalidTransition(f"an explanation is not awaited in state {self.state.value}")
        _require_future(root_cause_deadline, now)
        self.state = State.AWAITING_ROOT_CAUSE
        self.explained_at = now
        self.explained_in_time = now <= self.deadline
        self.explanation = text.strip()
        self.deadline = root_cause_deadline
        self._restart_clock(now, business)
        detail = {"words": _excerpt(text), "root_cause_deadline": root_cause_deadline.isoformat()}
        self._record("explained", now, actor, detail)

    def add_writeup(
        self,
        *,
        now: datetime,
        actor: str,
        sections: Mapping[str, str],
        rca: RcaRules,
        actions: ActionReading | None = None,
    ) -> WriteupCheck:
        """Merge the sections of one mail into the writeup and judge the whole; changes no state.

        ``actions``: the merged writeup's action sections as the caller read them; a complete one plans them.
        """
        if self.state is not State.AWAITING_ROOT_CAUSE:
            raise InvalidTransition(f"a root-cause writeup is not awaited in state {self.state.value}")
        self.writeup = merge_sections(self.writeup, sections, rca)
        verdict = check_sections(self.writeup, rca, actions)
        if verdict.complete:
            self.planned_actions = list(verdict.actions)
        lacking = [f"{f.title}: {f.problem}" for f in verdict.findings]
        lacking += [f"{p.line[:200]}: {p.reason}" for p in verdict.action_problems]
        detail = {"sections": sorted(sections), "complete": verdict.complete, "lacking": lacking}
        self._record("writeup_received", now, actor, detail)
        if verdict.complete and self.root_cause_at is None:
            self.root_cause_at = now
            self.root_cause_in_time = now <= self.deadline
        return verdict

    def submit(self, *, now: datetime, actor: str, rca: RcaRules) -> None:
        """A complete writeup ends the owner's part: closed, or awaiting the executive's approval."""
        if self.state is not State.AWAITING_ROOT_CAUSE:
            raise InvalidTransition(f"nothing to submit in state {self.state.value}")
        self._require_complete(rca)
        if rca.policy == "executive_approves":
            self.state = State.AWAITING_APPROVAL
            self._record("approval_requested", now, actor, {})
        else:
            self.close(now=now, actor=actor, rca=rca)

    def reassign(
        self, *, now: datetime, actor: str, new_owner: str, deadline: datetime | None, business: bool = False
    ) -> None:
        """Hand the escalation to ``new_owner``; a new deadline (and clock) when one is given."""
        self._require_open("reassign")
        if new_owner == self.owner:
            raise InvalidTransition(f"{new_owner} already owns it")
        detail: dict[str, Any] = {"from": self.owner, "to": new_owner}
        self.owner = new_owner
        if deadline is not None:
            _require_future(deadline, now)
            self.deadline = deadline
            self._restart_clock(now, business)
            detail["deadline"] = deadline.isoformat()
        self._record("reassigned", now, actor, detail)

    def extend(
        self, *, now: datetime, actor: str, new_deadline: datetime, reason: str, business: bool = False
    ) -> None:
        """More time, once per escalation, with a reason."""
        self._require_open("extend")
        if self.extended:
            raise InvalidTransition("more time was already granted once for this escalation")
        if not reason.strip():
            raise InvalidTransition("more time needs a reason")
        if new_deadline <= self.deadline:
            raise InvalidTransition("the new deadline must be later than the current one")
        detail = {"from": self.deadline.isoformat(), "to": new_deadline.isoformat(), "reason": reason}
        self.extended = True
        self.deadline = new_deadline
        self._restart_clock(now, business)
        self._record("deadline_extended", now, actor, detail)

    def pause(self, *, now: datetime, actor: str, reason: str) -> None:
        """The owner waits on the customer: the clock stops until they write again."""
        if not self.chased:
            what = "already paused" if self.is_paused else f"{self.state.value}: no clock runs"
            raise InvalidTransition(f"cannot pause: {what}")
        if not reason.strip():
            raise InvalidTransition("a pause needs a reason")
        self.paused_at = now
        self._record("paused", now, actor, {"reason": _excerpt(reason)})

    def resume(
        self, *, now: datetime, actor: str, new_deadline: datetime, business: bool = False
    ) -> timedelta:
        """The clock runs again with the paused time excluded; returns how long it was paused."""
        if self.paused_at is None:
            raise InvalidTransition("the clock is not paused")
        paused = max(now - self.paused_at, timedelta(0))
        self.paused_seconds += paused.total_seconds()
        self.paused_at = None
        self.deadline = max(new_deadline, now + timedelta(seconds=1))
        self._restart_clock(now, business)
        detail = {"paused_seconds": round(paused.total_seconds()), "deadline": self.deadline.isoformat()}
        self._record("resumed", now, actor, detail)
        return paused

    # -- the executive's side -----------------------------------------------------------------

    def approve(self, *, now: datetime, actor: str, rca: RcaRules) -> None:
        """The executive accepts the writeup: closed (the gate still applies)."""
        if self.state is not State.AWAITING_APPROVAL:
            raise InvalidTransition(f"nothing awaits approval in state {self.state.value}")
        self.close(now=now, actor=actor, rca=rca)

    def send_back(self, *, now: datetime, actor: str, note: str) -> None:
        """The executive wants more: back to the owner for the root cause."""
        if self.state is not State.AWAITING_APPROVAL:
            raise InvalidTransition(f"nothing awaits approval in state {self.state.value}")
        self.state = State.AWAITING_ROOT_CAUSE
        self._record("sent_back", now, actor, {"note": _excerpt(note)})

    def reopen(
        self, *, now: datetime, actor: str, note: str, deadline: datetime, business: bool = False
    ) -> None:
        """An executive's "?" on a closed escalation: a new explanation is due."""
        if self.state is not State.CLOSED:
            raise InvalidTransition(f"only a closed escalation reopens, not one {self.state.value}")
        _require_future(deadline, now)
        self.state = State.AWAITING_EXPLANATION
        self.closed_at = None
        self.explained_at = None
        self.explanation = ""
        self.writeup = {}
        self.planned_actions = []
        self.root_cause_at = None
        self.explained_in_time = None
        self.root_cause_in_time = None
        self.deadline = deadline
        self.reopened += 1
        self._restart_clock(now, business)
        self._record("reopened", now, actor, {"note": _excerpt(note), "deadline": deadline.isoformat()})

    # -- closing: the gate --------------------------------------------------------------------

    def close(self, *, now: datetime, actor: str, rca: RcaRules) -> None:
        """Close the escalation; refused unless the writeup it holds is complete (I5)."""
        if self.state is State.CLOSED:
            raise InvalidTransition("the escalation is already closed")
        self._require_complete(rca)
        self.state = State.CLOSED
        self.closed_at = now
        if self.root_cause_at is None:
            self.root_cause_at = now
            self.root_cause_in_time = now <= self.deadline
        self._record("closed", now, actor, {})

    def record(self, kind: str, now: datetime, actor: str, **detail: Any) -> None:
        """Add an event that changes no state (a mail queued, a note)."""
        self._record(kind, now, actor, detail)

    def chase_done(self, *, slots: int, next_at: datetime | None) -> None:
        """The chase step handled the phase's slots up to ``slots``; the next is due at ``next_at``."""
        self.chase_slot = slots
        self.chase_at = next_at

    def _restart_clock(self, now: datetime, business: bool) -> None:
        self.clock_started_at = now
        self.clock_business = business
        self.chase_phase += 1
        self.chase_slot = 0
        self.paused_at = None

    def _require_complete(self, rca: RcaRules) -> None:
        """The writeup is complete and every action section plans at least one action."""
        verdict = check_sections(self.writeup, rca, ActionReading(tuple(self.planned_actions)))
        if not verdict.complete:
            lacking = ", ".join(f"{f.title} ({f.problem.replace('_', ' ')})" for f in verdict.findings)
            raise RootCauseMissing(f"the root-cause writeup is not complete: {lacking}")

    def _require_open(self, what: str) -> None:
        if not self.is_open:
            raise InvalidTransition(f"cannot {what} a closed escalation")

    def _record(self, kind: str, at: datetime, actor: str, detail: dict[str, Any]) -> None:
        self.new_events.append(Event(kind=kind, at=at, actor=actor, detail=detail))


def _require_future(deadline: datetime, now: datetime) -> None:
    if deadline <= now:
        raise InvalidTransition(f"deadline {deadline.isoformat()} is not after {now.isoformat()}")
