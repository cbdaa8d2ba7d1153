"""One transition of one escalation, written the way every step writes it.

A step that changes an escalation (open, reply, chase, close) holds its row in
one transaction and ends the same way: each mail the transition queues is
recorded as ``mail_queued``, the next chase time follows the new state, the row
and its new events are saved, and the mails are queued once per step key (I3) —
claimed by this worker when it sends them right after the commit, else pending
for a send job. :func:`context_for` gives a decision (``pipeline.decide``) what
it works with: the thread, the complaint on demand, the day's feedback count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from pipeline.decide.chase import reschedule
from pipeline.decide.context import FEEDBACK_KINDS, Context
from pipeline.model.escalation import Escalation
from pipeline.model.mail import InboundMail, OutgoingMail
from pipeline.steps import ledger
from pipeline.steps.services import Services
from pipeline.steps.thread import complaint, thread_for
from pipeline.store import escalations, outbox


def context_for(
    svc: Services,
    conn: Connection,
    loaded: escalations.Loaded,
    now: datetime,
    answering: InboundMail | None = None,
) -> Context:
    """What deciding on escalation ``loaded`` needs; threaded under ``answering`` when it answers a mail."""
    escalation, row = loaded.escalation, loaded.row
    assert escalation.number is not None
    return Context(
        rules=svc.rules,
        identity=svc.identity,
        now=now,
        thread=thread_for(svc, escalation, row, answering),
        route=row["route"],
        feedback_today=outbox.count_recent(
            conn, escalation_id=escalation.number, kinds=FEEDBACK_KINDS, since=now - timedelta(days=1)
        ),
        complaint=lambda: complaint(svc, conn, row),
        service_timezone=svc.timezone,
    )


def stage(svc: Services, escalation: Escalation, mails: Sequence[OutgoingMail], now: datetime) -> None:
    """Record the mails the transition queues and set the next chase time from the new state."""
    for mail in mails:
        escalation.record("mail_queued", now, "qmark", mail=mail.kind, to=mail.recipient)
    reschedule(escalation, svc.rules, service_timezone=svc.timezone)


def commit(
    svc: Services,
    conn: Connection,
    escalation: Escalation,
    mails: Sequence[OutgoingMail],
    *,
    now: datetime,
    step: str,
    owner_name: str | None = None,
) -> list[outbox.ClaimedMail]:
    """Stage, save and queue the mails claimed by this worker, which sends them after the commit."""
    stage(svc, escalation, mails, now)
    _open_ledger(svc, conn, escalation, now)
    escalations.save(conn, escalation=escalation, owner_name=owner_name)
    assert escalation.number is not None
    return outbox.add_claimed(
        conn, escalation_id=escalation.number, mails=mails, now=now, lease=svc.lease, step=step
    )


def commit_for_sending_later(
    svc: Services,
    conn: Connection,
    escalation: Escalation,
    mails: Sequence[OutgoingMail],
    *,
    now: datetime,
    step: str,
) -> list[int]:
    """Stage, save and queue the mails pending, for a send job; returns their ids."""
    stage(svc, escalation, mails, now)
    _open_ledger(svc, conn, escalation, now)
    escalations.save(conn, escalation=escalation)
    assert escalation.number is not None
    return outbox.add_pending(conn, escalation_id=escalation.number, mails=mails, now=now, step=step)


def _open_ledger(svc: Services, conn: Connection, escalation: Escalation, now: datetime) -> None:
    """A transition that closed the escalation opens the ledger of the actions its writeup planned."""
    if any(event.kind == "closed" for event in escalation.new_events):
        ledger.open_actions(svc, conn, escalation, now)
