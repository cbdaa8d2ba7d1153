"""Repository functions for outgoing mail: queue once, claim, mark sent or dead, find lost ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pipeline.mail import OutgoingMail
from pipeline.store import work
from pipeline.store.models import OutboundMail


def add(session: Session, *, escalation_id: int, mail: OutgoingMail, now: datetime, step: str = "") -> int:
    """Queue a rendered mail; the unique (escalation, kind, step, recipient) key makes it once-only."""
    result = session.execute(
        insert(OutboundMail)
        .values(
            escalation_id=escalation_id,
            kind=mail.kind,
            step=step,
            recipient=mail.recipient,
            envelope_from=mail.envelope_from,
            message_id=mail.message_id,
            raw=mail.raw,
            state="pending",
            attempts=0,
            created_at=now,
        )
        .returning(OutboundMail.id)
    )
    return int(result.scalar_one())


def claim(
    session: Session, *, mail_id: int, now: datetime, lease: timedelta
) -> tuple[OutgoingMail, int, int] | None:
    """Take a pending mail for sending: (mail, escalation id, attempt number), or None."""
    row = session.execute(
        update(OutboundMail)
        .where(work.claimable(OutboundMail, mail_id, now))
        .values(state="sending", attempts=OutboundMail.attempts + 1, lease_until=now + lease)
        .returning(
            OutboundMail.kind,
            OutboundMail.recipient,
            OutboundMail.message_id,
            OutboundMail.raw,
            OutboundMail.envelope_from,
            OutboundMail.escalation_id,
            OutboundMail.attempts,
        )
    ).first()
    if row is None:
        return None
    kind, recipient, message_id, raw, envelope_from, escalation_id, attempts = row
    return OutgoingMail(kind, recipient, message_id, raw, envelope_from), escalation_id, attempts


def mark_sent(session: Session, *, mail_id: int, now: datetime) -> None:
    session.execute(
        update(OutboundMail)
        .where(OutboundMail.id == mail_id)
        .values(state="sent", sent_at=now, lease_until=None, last_error=None)
    )


def mark_dead(session: Session, *, mail_id: int, error: str) -> None:
    """Give up on a mail (permanent failure or out of attempts); ops see it as a dead letter."""
    session.execute(
        update(OutboundMail)
        .where(OutboundMail.id == mail_id)
        .values(state="dead", lease_until=None, last_error=error[:4000])
    )


def release(session: Session, *, mail_id: int, error: str) -> None:
    """Put a mail back to pending after a temporary failure."""
    session.execute(
        update(OutboundMail)
        .where(OutboundMail.id == mail_id, OutboundMail.state == "sending")
        .values(state="pending", lease_until=None, last_error=error[:4000])
    )


def list_lost(session: Session, *, now: datetime, older_than: timedelta, limit: int = 500) -> list[int]:
    """Unsent mails whose send job was lost; see ``work.list_lost``."""
    return work.list_lost(session, OutboundMail, now=now, older_than=older_than, limit=limit)


def mark_enqueued(session: Session, *, mail_ids: Sequence[int], now: datetime) -> None:
    """Stamp when these mails were last handed to the broker."""
    work.mark_enqueued(session, OutboundMail, ids=mail_ids, now=now)


def list_dead(session: Session, *, limit: int = 200) -> list[OutboundMail]:
    """Mails qmark gave up on, newest first."""
    query = select(OutboundMail).where(OutboundMail.state == "dead").order_by(OutboundMail.id.desc())
    return list(session.execute(query.limit(limit)).scalars())
