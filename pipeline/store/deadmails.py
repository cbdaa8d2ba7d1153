"""Repository functions for dead letters' mails: read outgoing mails and their refusals, revive a dead one.

An outbound mail in state ``dead`` (the relay refused it for good, or it ran
out of send attempts) is a dead letter that only the database knows of; a send
job's mails are what a dead send job belongs to. The rows come with the first
``messages.HEAD_BYTES`` bytes of the mail (its header block), never the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from pipeline.store import escalations, messages
from pipeline.store.models import EventRow, OutboundMailRow


@dataclass(frozen=True)
class Mail:
    """One outgoing mail as a dead-letter list shows it; ``head`` is its header block."""

    id: int
    escalation_id: int
    kind: str
    recipient: str
    state: str
    last_error: str | None
    created_at: datetime
    head: bytes


def _mails(session: Any, *, where: Any, limit: int = 1000) -> list[Mail]:
    query = (
        select(
            OutboundMailRow.id,
            OutboundMailRow.escalation_id,
            OutboundMailRow.kind,
            OutboundMailRow.recipient,
            OutboundMailRow.state,
            OutboundMailRow.last_error,
            OutboundMailRow.created_at,
            func.substr(OutboundMailRow.raw, 1, messages.HEAD_BYTES),
        )
        .where(where)
        .order_by(OutboundMailRow.id)
        .limit(limit)
    )
    found: list[Mail] = []
    for mail_id, number, kind, recipient, state, error, created_at, head in session.execute(query):
        found.append(Mail(mail_id, number, kind, recipient, state, error, created_at, bytes(head or b"")))
    return found


def by_ids(session: Any, *, mail_ids: Sequence[int]) -> list[Mail]:
    """These mails (those that exist), by id."""
    return _mails(session, where=OutboundMailRow.id.in_(mail_ids))


def dead(session: Any, *, limit: int = 1000) -> list[Mail]:
    """Mails in state ``dead``, by id."""
    return _mails(session, where=OutboundMailRow.state == "dead", limit=limit)


def refused_at(session: Any, mails: Sequence[Mail]) -> dict[tuple[int, str, str], datetime]:
    """When each refusal was last recorded (``delivery_failed``), by (escalation, mail kind, recipient)."""
    refused: dict[tuple[int, str, str], datetime] = {}
    if mails:
        query = select(EventRow.escalation_id, EventRow.at, EventRow.detail).where(
            EventRow.escalation_id.in_({m.escalation_id for m in mails}), EventRow.kind == "delivery_failed"
        )
        for number, at, detail in session.execute(query):
            key = (number, str((detail or {}).get("mail")), str((detail or {}).get("to")))
            refused[key] = max(at, refused.get(key, at))
    return refused


def revive(conn: Connection, *, mail_id: int, now: datetime) -> bool:
    """A dead mail back to pending with fresh attempts, recorded on its escalation; False if not dead.

    The way back from ``outbox.mark_dead``: an operator replays the mail.
    """
    row = conn.execute(
        update(OutboundMailRow)
        .where(OutboundMailRow.id == mail_id, OutboundMailRow.state == "dead")
        .values(state="pending", attempts=0, lease_until=None, enqueued_at=now)
        .returning(OutboundMailRow.escalation_id, OutboundMailRow.kind, OutboundMailRow.recipient)
    ).first()
    if row is None:
        return False
    number, kind, recipient = row
    escalations.add_event(
        conn, escalation_id=number, kind="mail_requeued", at=now, actor="operator", mail=kind, to=recipient
    )
    return True
