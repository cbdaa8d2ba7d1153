"""The action chase step: for an action the scheduler claimed, send what its chase says is due now.

The same machinery as the escalations' (:mod:`pipeline.steps.chase`): one transaction,
the escalation's row locked first and then the action's (the order every action step
keeps, so two steps never wait on each other), :func:`pipeline.decide.chase.slots_due`
over :func:`pipeline.decide.action_plan.plan` naming the current slot, missed slots
recorded and not mailed, the mails queued under the step key ``a<n>.<phase>.<slot>``
(I3: one mail per slot, however often the step runs). The slots: a reminder to the
action's owner before the due date; at the breach the owner's manager chased and the
executive told in one line; one rung higher every ``actions.rechase_every``; at the top
ops are told.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from pipeline import log
from pipeline.decide import action_plan, chase
from pipeline.model.action import Action
from pipeline.model.escalation import Escalation
from pipeline.model.ids import action_ref, ref
from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import actions as action_mails
from pipeline.outbound.actions import ActionFacts
from pipeline.outbound.thread import Thread
from pipeline.steps.services import Services, each_alone
from pipeline.steps.thread import thread_for
from pipeline.steps.transition import commit
from pipeline.store import actions, chases, escalations, outbox

logger = log.get(__name__)


def chase_actions(svc: Services, numbers: Sequence[int]) -> list[outbox.ClaimedMail]:
    """Run the chase step for each action; returns the mails queued (claimed for sending)."""
    return each_alone(svc, numbers, _chase, bound=lambda number: {"action_id": action_ref(number)})


def facts(svc: Services, action: Action) -> ActionFacts:
    """What a mail says about ``action``, with its owner's name from people.yaml."""
    person = svc.rules.person(action.owner)
    return ActionFacts(
        number=action.number,
        title=action.title,
        owner=Address(action.owner, person.name if person else ""),
        due=action.due,
        state=action.state.value,
        evidence=action.evidence or action.dropped_reason,
    )


def _chase(svc: Services, conn: Connection, number: int) -> list[outbox.ClaimedMail]:
    now = svc.clock()
    escalation_id = actions.escalation_of(conn, number=number)
    # the escalation's row is locked first, as every action step does
    loaded = None if escalation_id is None else escalations.load(conn, number=escalation_id)
    action = actions.load(conn, number=number) if loaded is not None else None
    if loaded is None or action is None:
        return []
    mails: list[OutgoingMail] = []
    step = ""
    with log.bound(escalation_id=ref(action.escalation)):
        if action.is_open and action.chase_at is not None and action.chase_at <= now:
            due = chase.slots_due(
                action_plan.plan(action, svc.rules, service_timezone=svc.timezone), action.chase_slot, now
            )
            for slot in due.missed:
                action.record("action_chase_missed", now, "qmark", slot=slot.kind, due=slot.at.isoformat())
            if due.current is not None:
                thread = thread_for(svc, loaded.escalation, loaded.row)
                mails = _act(svc, thread, loaded.escalation, action, due, now)
                step = f"a{number}.{action.chase_phase}.{due.current.index}"
            action.chase_slot, action.chase_at = due.done, due.next_at
        elif not action.is_open:
            action.chase_at = None
        actions.save(conn, action=action)
        claimed = commit(svc, conn, loaded.escalation, mails, now=now, step=step)
    chases.release_action(conn, number=number)
    return claimed


def _act(
    svc: Services, thread: Thread, escalation: Escalation, action: Action, due: chase.Due, now: datetime
) -> list[OutgoingMail]:
    """The mails (and events) for the current slot of the action's chase."""
    slot = due.current
    assert slot is not None
    about = facts(svc, action)
    if slot.kind == "remind":
        action.record("action_reminded", now, "qmark", to=action.owner)
        return [action_mails.render_reminder(thread, svc.identity, about)]
    manager = chase.rung(svc.rules, action.owner, slot)
    chased = [Address(manager.email, manager.name)] if manager else []
    mails = [
        action_mails.render_overdue(thread, svc.identity, about, to=to, level=slot.level, now=now)
        for to in chased
    ]
    if manager is not None:
        kind = "action_overdue" if slot.kind == "breach" else "action_chased_up"
        action.record(kind, now, "qmark", level=slot.level, to=manager.email)
        logger.warning("action_chased", level=slot.level)
    if due.breach_now:
        mails.append(action_mails.render_overdue_notice(thread, svc.identity, about, chased=chased))
    if slot.tell_ops:  # the top of the ladder: nobody left to chase
        levels = len(svc.rules.ladder(action.owner))
        action.record("action_ladder_top_reached", now, "qmark", levels=levels)
        logger.error("action_ladder_exhausted", levels=levels, escalation_state=escalation.state.value)
    return mails
