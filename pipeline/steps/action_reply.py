"""The reply step's part for the ledger: a ``#done``, ``#drop`` or ``#due`` about an action.

Runs inside the reply step's transaction, which holds the escalation's row; the
escalation's actions are locked next (the order every action step keeps).
:func:`pipeline.decide.action_reply.answer_action` decides; this saves the actions
changed, queues the mails under the message's step key (I3) and records the message's
outcome. A writer who neither owns nor answers for any action of the escalation and
takes no part in it is quarantined: nothing changes.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from pipeline import log
from pipeline.decide import action_plan
from pipeline.decide.action_reply import ActionContext, answer_action
from pipeline.decide.classify import Verdict
from pipeline.inbound.commands import Command
from pipeline.inbound.matching import ReplyMatch
from pipeline.model.due_dates import local_date, overdue_at
from pipeline.model.ids import ref
from pipeline.model.mail import Address, InboundMail
from pipeline.steps.action_chase import facts
from pipeline.steps.services import Services, record_outcome
from pipeline.steps.thread import thread_for
from pipeline.steps.transition import commit
from pipeline.store import actions, escalations, outbox

logger = log.get(__name__)


def answer_action_reply(
    svc: Services,
    conn: Connection,
    message_id: int,
    mail: InboundMail,
    loaded: escalations.Loaded,
    command: Command,
    *,
    sender: Address,
    participant: bool,
    match: ReplyMatch,
) -> list[outbox.ClaimedMail]:
    """Apply an action command from ``sender`` to escalation ``loaded``'s ledger."""
    now = svc.clock()
    escalation = loaded.escalation
    assert escalation.number is not None
    ledger = actions.load_for_escalation(conn, escalation_id=escalation.number)

    def today(person: str) -> date:
        return local_date(svc.rules.person(person), now, service_timezone=svc.timezone)

    ctx = ActionContext(
        rules=svc.rules,
        identity=svc.identity,
        thread=thread_for(svc, escalation, loaded.row, mail),
        now=now,
        today=today,
        due_at=lambda person, due: overdue_at(svc.rules.person(person), due, service_timezone=svc.timezone),
        facts=lambda action: facts(svc, action),
        participant=participant,
    )
    outcome = answer_action(ledger, command, sender=sender, subject=mail.subject, ctx=ctx)
    if outcome.stranger:
        reason = f"{outcome.reason} in {ref(escalation.number)} (matched by {match.reason}); nothing changed"
        record_outcome(conn, svc, message_id, Verdict.QUARANTINE, reason, escalation_id=escalation.number)
        logger.warning("action_reply_quarantined", command=command.name)
        return []
    for action in outcome.changed:
        action_plan.reschedule(action, svc.rules, service_timezone=svc.timezone)
        actions.save(conn, action=action)
    claimed = commit(svc, conn, escalation, outcome.mails, now=now, step=f"m{message_id}")
    reason = f"{ref(escalation.number)}: {outcome.reason} (matched by {match.reason})"
    record_outcome(conn, svc, message_id, Verdict.REPLY, reason, escalation_id=escalation.number)
    logger.info("action_reply_processed", command=command.name, mails=[m.kind for m in outcome.mails])
    return claimed
