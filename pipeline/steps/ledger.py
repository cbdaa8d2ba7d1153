"""The ledger opens at the close: each action the accepted writeup planned becomes a row ``A-<n>``.

Called by :func:`pipeline.steps.transition.commit` in the transaction that closes the
escalation, however it closes (the owner's writeup, the executive's approval, ops'
close). Safe twice: an item already in the ledger for this escalation (same section
and line) is not added again, so a close after a reopen adds only what is new.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from pipeline.decide import action_plan
from pipeline.model.action import Action
from pipeline.model.action_items import ActionItem
from pipeline.model.escalation import Escalation
from pipeline.model.ids import action_ref
from pipeline.steps.services import Services
from pipeline.store import actions


def open_actions(svc: Services, conn: Connection, escalation: Escalation, now: datetime) -> list[int]:
    """Add the escalation's planned actions to the ledger; returns the numbers added."""
    assert escalation.number is not None
    known = {(a.section, a.line) for a in actions.load_for_escalation(conn, escalation_id=escalation.number)}
    new = [_new(svc, escalation.number, item, now) for item in escalation.planned_actions]
    new = [n for n in new if (n.item.section, n.item.line) not in known]
    numbers = actions.add(conn, escalation_id=escalation.number, actions=new, now=now)
    if numbers:
        escalation.record("actions_opened", now, "qmark", actions=[action_ref(n) for n in numbers])
    return numbers


def _new(svc: Services, escalation: int, item: ActionItem, now: datetime) -> actions.NewAction:
    """The row for ``item``: when it is overdue, and when its chase first looks at it."""
    due_at = action_plan.due_at(item, svc.rules, service_timezone=svc.timezone)
    draft = Action.from_item(item, escalation=escalation, due_at=due_at, now=now)
    action_plan.reschedule(draft, svc.rules, service_timezone=svc.timezone)
    return actions.NewAction(item=item, due_at=due_at, chase_at=draft.chase_at)
