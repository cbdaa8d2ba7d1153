"""Ops closing an escalation from the command line with a writeup that reached them another way.

The same domain gate applies as on the email path (I5): the writeup given is
merged into what the owner already sent and checked against rca.yaml; an
incomplete one changes nothing and the missing sections are reported. A closed
escalation sends the executive the closing summary and the owner a confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pipeline.inbound.writeup import parse_writeup
from pipeline.model.escalation import RootCauseMissing, State
from pipeline.model.ids import ref
from pipeline.model.mail import Address
from pipeline.model.rootcause import (
    check_sections,
    describe_findings,
    merge_sections,
    render_sections,
)
from pipeline.outbound import followups
from pipeline.steps.services import Services
from pipeline.store import escalations, outbox


class CloseRefused(Exception):
    """The escalation cannot be closed; str() says why and what is missing."""


@dataclass(frozen=True)
class Closed:
    """A closing done from the command line: the mails queued for sending."""

    mail_ids: list[int]


def close_with_writeup(svc: Services, *, number: int, text: str, actor: str) -> Closed:
    """Close escalation ``number`` with the writeup ``text``; :class:`CloseRefused` changes nothing."""
    rca = svc.rules.rca
    now = svc.clock()
    with svc.db.transaction() as conn:
        loaded = escalations.load(conn, number=number)
        if loaded is None:
            raise CloseRefused(f"no escalation {ref(number)}")
        escalation, row = loaded.escalation, loaded.row
        if escalation.state is State.CLOSED:
            raise CloseRefused(f"{ref(number)} is already closed")
        merged = merge_sections(escalation.writeup, parse_writeup(text, rca.sections), rca)
        verdict = check_sections(merged, rca)
        if not verdict.complete:
            raise CloseRefused(f"{ref(number)} stays open; the writeup lacks:\n{describe_findings(verdict)}")
        escalation.writeup = merged
        escalation.record("writeup_received", now, actor, sections=sorted(merged), complete=True, via="cli")
        try:
            escalation.close(now=now, actor=actor, rca=rca)
        except RootCauseMissing as error:  # pragma: no cover - checked just above; the gate has the last word
            raise CloseRefused(str(error)) from error
        person = svc.rules.person(escalation.owner)
        thread = followups.Thread(
            number=number,
            subject=row["subject"],
            executive=Address(escalation.executive, row["executive_name"]),
            owner=Address(escalation.owner, row["owner_name"]),
            owner_timezone=person.timezone if person else svc.timezone,
        )
        closed_by = Address(actor)
        mails = [
            followups.render_closing_summary(
                thread,
                svc.identity,
                closed_by=closed_by,
                explanation=escalation.explanation or "(none was sent by email)",
                writeup=render_sections(merged, rca),
            ),
            followups.render_closed_confirmation(thread, svc.identity, to=thread.owner),
        ]
        for mail in mails:
            escalation.record("mail_queued", now, "qmark", mail=mail.kind, to=mail.recipient)
        escalation.chase_at = None  # closed: nothing left to chase
        escalations.save(conn, escalation=escalation)
        # Claimable at once (no lease): a send job, or the sweeper, delivers them.
        claimed = outbox.add_claimed(
            conn,
            escalation_id=number,
            mails=mails,
            now=now,
            lease=timedelta(0),
            step=f"cli{now.timestamp():.0f}",
        )
    return Closed([item.id for item in claimed])
