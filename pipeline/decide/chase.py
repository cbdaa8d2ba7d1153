"""When to chase an escalation, and whom: the reminder, breach and ladder slots of its running clock.

Pure: :func:`plan` turns an escalation's clock (phase start, deadline, whether the
deadline counts business time) and the rules into the phase's slots, in order:

* a reminder to the owner at each ``remind_at`` fraction of the way to the deadline
  (of the working time for a business deadline), held until the owner's next working
  hour when they have working hours, and dropped if that is past the deadline;
* the breach at the deadline: the owner's manager is chased, the executive told;
* a climb one rung up the ladder every ``rechase_every`` after that;
* the top: ``rechase_every`` after the last rung (at the breach when there is no
  manager), ops are told and the chase ends.

:func:`slots_due` says, for the slots already handled and the time now, which slot is the
current one (the only one that gets a mail), which were missed (a scheduler that was
down catches up without spamming), and when the next is due. The timers live in the
database as ``chase_at``/``chase_slot``; nothing waits in the broker.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pipeline.model.deadlines import deadline_after, next_working_moment, remind_slots
from pipeline.model.escalation import Escalation
from rules.holidays import holidays_near
from rules.hours import WorkingHours
from rules.schema import Person, Rules

SlotKind = Literal["remind", "breach", "climb", "top"]


@dataclass(frozen=True)
class Slot:
    """One moment of a phase: ``share`` for reminders, ``level`` (1 = the owner's manager) for chases."""

    index: int
    kind: SlotKind
    at: datetime
    share: float | None = None
    level: int = 0
    tell_ops: bool = False


@dataclass(frozen=True)
class Due:
    """What is due now: the ``current`` slot (mailed), ``missed`` ones (recorded), progress, the next time."""

    current: Slot | None
    missed: tuple[Slot, ...]
    done: int
    next_at: datetime | None
    breach_now: bool  # the breach slot is among those handled now: the executive must be told


@dataclass(frozen=True)
class _Calendar:
    """The owner's working time: timezone, working hours (None: any time) and holidays."""

    zone: str
    hours: WorkingHours | None
    days: Collection[date]


def plan(escalation: Escalation, rules: Rules, *, service_timezone: str = "UTC") -> list[Slot]:
    """Every slot of the escalation's current phase, in time order."""
    start = escalation.clock_started_at or escalation.opened_at
    owner = rules.person(escalation.owner)
    calendar = _Calendar(
        zone=owner.timezone if owner else service_timezone,
        hours=owner.working_hours if owner else None,
        days=_holidays(owner, start),
    )
    slots = _reminders(escalation, rules, start, calendar)
    ladder = rules.ladder(escalation.owner)
    if not ladder:
        slots.append(Slot(len(slots), "breach", escalation.deadline, tell_ops=True))
        return slots
    slots.append(Slot(len(slots), "breach", escalation.deadline, level=1))
    at, every = escalation.deadline, rules.defaults.rechase_every
    for level in range(2, len(ladder) + 2):
        at = deadline_after(
            at, every, timezone=calendar.zone, working_hours=calendar.hours, holidays=calendar.days
        )
        if level <= len(ladder):
            slots.append(Slot(len(slots), "climb", at, level=level))
        else:
            slots.append(Slot(len(slots), "top", at, tell_ops=True))
    return slots


def _reminders(escalation: Escalation, rules: Rules, start: datetime, calendar: _Calendar) -> list[Slot]:
    """The reminders at the ``remind_at`` shares, held until the owner works, before the deadline."""
    deadline = escalation.deadline
    moments = remind_slots(
        start,
        deadline,
        rules.defaults.remind_at,
        timezone=calendar.zone if escalation.clock_business else None,
        working_hours=calendar.hours,
        holidays=calendar.days,
    )
    slots: list[Slot] = []
    for share, moment in zip(rules.defaults.remind_at, moments, strict=True):
        held = moment
        if calendar.hours is not None:  # held until the owner's next working hour
            held = next_working_moment(
                moment, timezone=calendar.zone, working_hours=calendar.hours, holidays=calendar.days
            )
        if start < held < deadline:
            slots.append(Slot(len(slots), "remind", held, share=share))
    return slots


def slots_due(slots: Sequence[Slot], done: int, now: datetime) -> Due:
    """Of the slots not yet handled, those due by ``now``: the last is current, the rest missed."""
    pending = list(slots[done:])
    ready = [slot for slot in pending if slot.at <= now]
    later = [slot for slot in pending if slot.at > now]
    return Due(
        current=ready[-1] if ready else None,
        missed=tuple(ready[:-1]),
        done=done + len(ready),
        next_at=later[0].at if later else None,
        breach_now=any(slot.kind == "breach" for slot in ready),
    )


def rung(rules: Rules, owner: str, slot: Slot) -> Person | None:
    """Whom ``slot`` chases on ``owner``'s ladder (level 1: their manager); None for a reminder or the top."""
    ladder = rules.ladder(owner)
    return ladder[slot.level - 1] if 0 < slot.level <= len(ladder) else None


def next_chase_at(escalation: Escalation, rules: Rules, *, service_timezone: str = "UTC") -> datetime | None:
    """When the escalation's next unhandled slot falls due; None when no clock runs."""
    if not escalation.chased:
        return None
    pending = plan(escalation, rules, service_timezone=service_timezone)[escalation.chase_slot :]
    return pending[0].at if pending else None


def reschedule(escalation: Escalation, rules: Rules, *, service_timezone: str = "UTC") -> None:
    """Set ``chase_at`` after a transition (a new phase, a pause, a close)."""
    escalation.chase_at = next_chase_at(escalation, rules, service_timezone=service_timezone)


def _holidays(person: Person | None, moment: datetime) -> Collection[date]:
    return holidays_near(person.holidays if person else None, moment)
