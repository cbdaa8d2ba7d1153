"""The chase step: for an escalation the scheduler claimed, send what its clock says is due now.

One transaction holding the escalation's row: :func:`pipeline.decide.chase.slots_due` names the
current slot (a reminder to the owner, or a chase up the ladder with the executive
told at the breach) and the missed ones (recorded, never mailed, so a scheduler
that was down does not spam); the mails are queued with the step key
``c<phase>.<slot>`` (I3: one mail per slot, however often the step runs); the
progress, the next due time and the released lease are written with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from pipeline import log
from pipeline.decide import chase
from pipeline.model.escalation import Escalation, State
from pipeline.model.ids import ref
from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import reminders
from pipeline.outbound.reminders import HistoryLine
from pipeline.outbound.thread import Thread
from pipeline.steps.services import Services, each_alone
from pipeline.steps.thread import complaint, thread_for
from pipeline.steps.transition import commit
from pipeline.store import chases, escalations, outbox

logger = log.get(__name__)


def chase_many(svc: Services, numbers: Sequence[int]) -> list[outbox.ClaimedMail]:
    """Run the chase step for each escalation; returns the mails queued (claimed for sending)."""
    return each_alone(svc, numbers, _chase, bound=lambda number: {"escalation_id": ref(number)})


def _chase(svc: Services, conn: Connection, number: int) -> list[outbox.ClaimedMail]:
    now = svc.clock()
    loaded = escalations.load(conn, number=number)
    if loaded is None:
        return []
    escalation, row = loaded.escalation, loaded.row
    mails: list[OutgoingMail] = []
    step = ""
    if escalation.chased and escalation.chase_at is not None and escalation.chase_at <= now:
        slots = chase.plan(escalation, svc.rules, service_timezone=svc.timezone)
        due = chase.slots_due(slots, escalation.chase_slot, now)
        for slot in due.missed:
            escalation.record(
                "chase_missed", now, "qmark", slot=slot.kind, level=slot.level, due=slot.at.isoformat()
            )
        if due.current is not None:
            mails = _act(svc, conn, escalation, row, due, now)
            step = f"c{escalation.chase_phase}.{due.current.index}"
        escalation.chase_done(slots=due.done, next_at=due.next_at)
    # else: nothing due (closed or paused meanwhile, or claimed early): the next time is set anew
    claimed = commit(svc, conn, escalation, mails, now=now, step=step)
    chases.release(conn, number=number)
    return claimed


def _act(
    svc: Services,
    conn: Connection,
    escalation: Escalation,
    row: dict[str, object],
    due: chase.Due,
    now: datetime,
) -> list[OutgoingMail]:
    """The mails (and events) for the current slot."""
    slot = due.current
    assert slot is not None
    phase: reminders.Phase = "explanation" if escalation.state is State.AWAITING_EXPLANATION else "root_cause"
    act = _Acting(svc, conn, escalation, row, thread_for(svc, escalation, row), phase, now)
    if slot.kind == "remind":
        return [act.remind(slot.share or 0.0)]
    manager = chase.rung(svc.rules, escalation.owner, slot)
    chased = [Address(manager.email, manager.name)] if manager else []
    mails = [act.chase(to, slot.level, "breached" if slot.kind == "breach" else "chased_up") for to in chased]
    if due.breach_now:
        mails.append(act.tell_executive(chased))
    if slot.tell_ops:  # the top of the ladder: nobody left to chase
        levels = len(svc.rules.ladder(escalation.owner))
        escalation.record("ladder_top_reached", now, "qmark", phase=phase, levels=levels)
        logger.error("escalation_ladder_exhausted", phase=phase, levels=levels)
    return mails


@dataclass(frozen=True)
class _Acting:
    """One chase slot being acted on: the escalation, its thread, the phase whose clock ran, the time."""

    svc: Services
    conn: Connection
    escalation: Escalation
    row: dict[str, object]
    thread: Thread
    phase: reminders.Phase
    now: datetime

    def remind(self, share: float) -> OutgoingMail:
        """The owner reminded of the deadline."""
        self.escalation.record("reminded", self.now, "qmark", share=share, phase=self.phase)
        return reminders.render_reminder(
            self.thread,
            self.svc.identity,
            phase=self.phase,
            deadline=self.escalation.deadline,
            share=share,
            now=self.now,
        )

    def chase(self, to: Address, level: int, kind: str) -> OutgoingMail:
        """One rung of the ladder told of the breach, with the history and the complaint."""
        mail = reminders.render_breach(
            self.thread,
            self.svc.identity,
            phase=self.phase,
            to=to,
            level=level,
            deadline=self.escalation.deadline,
            now=self.now,
            history=_history(self.conn, self.escalation),
            note=str(self.row["executive_note"] or ""),
            complaint=complaint(self.svc, self.conn, self.row),
        )
        self.escalation.record(kind, self.now, "qmark", level=level, to=to.email, phase=self.phase)
        logger.warning("escalation_chased", level=level, phase=self.phase)
        return mail

    def tell_executive(self, chased: list[Address]) -> OutgoingMail:
        """The executive told the deadline passed, and who was chased."""
        return reminders.render_breach_notice(
            self.thread, self.svc.identity, phase=self.phase, deadline=self.escalation.deadline, chased=chased
        )


def _history(conn: Connection, escalation: Escalation) -> list[HistoryLine]:
    assert escalation.number is not None
    events = escalations.list_events_conn(conn, number=escalation.number)
    return [HistoryLine(at=e.at, kind=e.kind, actor=e.actor, summary=_summary(e.detail)) for e in events]


def _summary(detail: dict[str, object]) -> str:
    parts = [
        f"{key}: {' '.join(str(value).split())[:80]}" for key, value in detail.items() if key != "reasons"
    ]
    return "; ".join(parts)[:300]
