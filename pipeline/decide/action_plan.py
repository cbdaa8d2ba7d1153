"""When to chase an action, and whom: the same slots as an escalation's clock, around its due date.

Pure. :func:`plan` gives an open action's slots, in time order:

* a reminder to the action's owner ``actions.remind_before`` before it is due (in working days
  for a business duration, held until the owner's next working hour for a wall-clock one);
  none when that moment is already past at the action's start;
* the breach when it is overdue (the end of the owner's working day on the due date,
  :func:`pipeline.model.due_dates.overdue_at`): the owner's manager is chased, the escalation's
  executive told in one line;
* one rung up the ladder every ``actions.rechase_every``;
* the top: ``rechase_every`` after the last rung (at the breach when there is no manager), ops
  are told and the chase ends.

Which slot is due now is :func:`pipeline.decide.chase.slots_due`, the escalations' own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pipeline.decide.chase import Slot
from pipeline.model.action import Action
from pipeline.model.action_items import ActionItem
from pipeline.model.deadlines import deadline_for, next_working_moment
from pipeline.model.due_dates import overdue_at, working_days_before
from rules.holidays import holidays_near
from rules.schema import Person, Rules


def due_at(item: ActionItem, rules: Rules, *, service_timezone: str) -> datetime:
    """When the action ``item`` plans is overdue for its owner."""
    return overdue_at(rules.person(item.owner), item.due, service_timezone=service_timezone)


def plan(action: Action, rules: Rules, *, service_timezone: str = "UTC") -> list[Slot]:
    """Every slot of the action's current chase phase (from its start or its last move), in time order."""
    if not action.is_open:
        return []
    start = action.clock_started_at or action.created_at or action.due_at
    owner = rules.person(action.owner)
    slots: list[Slot] = []
    remind = _reminder(action, rules, owner, service_timezone)
    if start < remind < action.due_at:
        slots.append(Slot(0, "remind", remind))
    ladder = rules.ladder(action.owner)
    if not ladder:
        return [*slots, Slot(len(slots), "breach", action.due_at, tell_ops=True)]
    slots.append(Slot(len(slots), "breach", action.due_at, level=1))
    at = action.due_at
    for level in range(2, len(ladder) + 2):
        at = deadline_for(owner, at, rules.rca.actions.rechase_every, service_timezone=service_timezone)
        if level <= len(ladder):
            slots.append(Slot(len(slots), "climb", at, level=level))
        else:
            slots.append(Slot(len(slots), "top", at, tell_ops=True))
    return slots


def reschedule(action: Action, rules: Rules, *, service_timezone: str = "UTC") -> None:
    """Set ``chase_at`` to the action's next unhandled slot (None when nothing is left to chase)."""
    pending = plan(action, rules, service_timezone=service_timezone)[action.chase_slot :]
    action.chase_at = pending[0].at if pending else None


def _reminder(action: Action, rules: Rules, owner: Person | None, service_timezone: str) -> datetime:
    before = rules.rca.actions.remind_before
    if before.is_business:
        days = before.business_days if before.business_days is not None else (before.business_hours or 0) / 8
        return working_days_before(owner, action.due, max(1, round(days)), service_timezone=service_timezone)
    moment = action.due_at - timedelta(seconds=before.seconds or 0)
    if owner is None or owner.working_hours is None:
        return moment
    off = holidays_near(owner.holidays, moment)
    return next_working_moment(
        moment, timezone=owner.timezone, working_hours=owner.working_hours, holidays=off
    )
