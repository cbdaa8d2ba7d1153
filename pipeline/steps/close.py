"""Ops closing an escalation from the command line with a writeup that reached them another way.

The same path as a close by email: the escalation's row is held, the decision
(:func:`pipeline.decide.closing.close_by_operator`) merges the writeup into what
the owner already sent and lets the domain gate judge it (I5), and
:mod:`pipeline.steps.transition` writes the outcome the way every step does. The
mails are the same as for any close (the executive's closing summary, the
owner's confirmation). An incomplete writeup raises
:class:`~pipeline.decide.closing.CloseRefused` and changes nothing.

The command line does not send: its mails are queued pending, for a send job
(or the sweeper) to claim, whatever that worker's clock says.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.decide.closing import CloseRefused, close_by_operator
from pipeline.model.ids import ref
from pipeline.steps.services import Services
from pipeline.steps.transition import commit_for_sending_later, context_for
from pipeline.store import escalations


@dataclass(frozen=True)
class Closed:
    """A closing done from the command line: the mails queued for sending."""

    mail_ids: list[int]


def close_with_writeup(svc: Services, *, number: int, text: str, actor: str) -> Closed:
    """Close escalation ``number`` with the writeup ``text``; :class:`CloseRefused` changes nothing."""
    now = svc.clock()
    with svc.db.transaction() as conn:
        loaded = escalations.load(conn, number=number)
        if loaded is None:
            raise CloseRefused(f"no escalation {ref(number)}")
        ctx = context_for(svc, conn, loaded, now)
        answer = close_by_operator(loaded.escalation, ctx, text=text, actor=actor)
        step = f"cli{now.timestamp():.0f}"
        mail_ids = commit_for_sending_later(svc, conn, loaded.escalation, answer.mails, now=now, step=step)
    return Closed(mail_ids)
