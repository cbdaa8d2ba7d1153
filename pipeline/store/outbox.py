"""Repository functions for outgoing mail: queue once, claim, mark sent or dead, find lost ones.

Also what ops list of it: the mails the relay refused for good (dead letters only the
database knows of), what a dead send job held, and reviving a dead mail. Those lists
carry the first ``messages.HEAD_BYTES`` bytes of a mail (its header block), never the whole.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from pipeline.model.mail import OutgoingMail
from pipeline.store import escalations, messages, work
from pipeline.store.models import EventRow, OutboundMailRow


@dataclass(frozen=True)
class ClaimedMail:
    """A mail claimed for sending by one worker."""

    id: int
    mail: OutgoingMail
    escalation_id: int
    attempts: int
    last_error: str | None


def add_claimed(
    conn: Connection,
    *,
    escalation_id: int,
    mails: Sequence[OutgoingMail],
    now: datetime,
    lease: timedelta,
    step: str = "",
) -> list[ClaimedMail]:
    """Queue rendered mails already claimed by the caller, who sends them right after commit.

    The unique (escalation, kind, step, recipient) key makes each mail once-only.
    If the caller dies before sending, the lease runs out and the sweeper hands
    the mails to another worker.
    """
    return _insert(conn, escalation_id, mails, step, created_at=now, lease_until=now + lease)


def add_pending(
    conn: Connection, *, escalation_id: int, mails: Sequence[OutgoingMail], now: datetime, step: str = ""
) -> list[int]:
    """Queue rendered mails for a send job (or the sweeper) to claim; returns their ids.

    For callers that do not send themselves, such as the command line: nobody
    holds a pending mail, so it is claimable at once, whatever the claiming
    worker's clock says.
    """
    return [mail.id for mail in _insert(conn, escalation_id, mails, step, created_at=now, lease_until=None)]


def _insert(
    conn: Connection,
    escalation_id: int,
    mails: Sequence[OutgoingMail],
    step: str,
    *,
    created_at: datetime,
    lease_until: datetime | None,
) -> list[ClaimedMail]:
    if not mails:
        return []
    claimed = lease_until is not None
    rows = [
        {
            "escalation_id": escalation_id,
            "kind": mail.kind,
            "step": step,
            "recipient": mail.recipient,
            "envelope_from": mail.envelope_from,
            "message_id": mail.message_id,
            "raw": mail.raw,
            "state": "sending" if claimed else "pending",
            "attempts": 1 if claimed else 0,
            "lease_until": lease_until,
            "created_at": created_at,
        }
        for mail in mails
    ]
    result = conn.execute(
        insert(OutboundMailRow).returning(OutboundMailRow.id, sort_by_parameter_order=True), rows
    )
    attempts = 1 if claimed else 0
    return [
        ClaimedMail(row[0], mail, escalation_id, attempts, None)
        for row, mail in zip(result, mails, strict=True)
    ]


_CLAIM = (
    update(OutboundMailRow)
    .where(work.claimable(OutboundMailRow))
    .values(state="sending", attempts=OutboundMailRow.attempts + 1, lease_until=bindparam("until"))
    .returning(
        OutboundMailRow.id,
        OutboundMailRow.kind,
        OutboundMailRow.recipient,
        OutboundMailRow.message_id,
        OutboundMailRow.raw,
        OutboundMailRow.envelope_from,
        OutboundMailRow.escalation_id,
        OutboundMailRow.attempts,
        OutboundMailRow.last_error,
    )
)
_SENT = (
    update(OutboundMailRow)
    .where(OutboundMailRow.id.in_(bindparam("ids", expanding=True)))
    .values(state="sent", sent_at=bindparam("now"), lease_until=None, last_error=None)
)


def claim_many(
    conn: Connection, *, mail_ids: Sequence[int], now: datetime, lease: timedelta
) -> list[ClaimedMail]:
    """Take whichever of ``mail_ids`` are pending (or whose lease ran out) for sending."""
    if not mail_ids:
        return []
    rows = conn.execute(_CLAIM, {"ids": list(mail_ids), "now": now, "until": now + lease})
    claimed = [
        ClaimedMail(mail_id, OutgoingMail(kind, rcpt, mid, raw, env_from), esc_id, attempts, error)
        for mail_id, kind, rcpt, mid, raw, env_from, esc_id, attempts, error in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


def mark_sent(conn: Connection, *, mail_ids: Sequence[int], now: datetime) -> None:
    """Record these mails as accepted by the relay."""
    if mail_ids:
        conn.execute(_SENT, {"ids": list(mail_ids), "now": now})


def mark_dead(conn: Connection, *, mail_id: int, error: str) -> None:
    """Give up on a mail (permanent failure or out of attempts); ops see it as a dead letter."""
    conn.execute(
        update(OutboundMailRow)
        .where(OutboundMailRow.id == mail_id)
        .values(state="dead", lease_until=None, last_error=error[:4000])
    )


def release(conn: Connection, *, mail_id: int, error: str) -> None:
    """Put a mail back to pending after a temporary failure."""
    conn.execute(
        update(OutboundMailRow)
        .where(OutboundMailRow.id == mail_id, OutboundMailRow.state == "sending")
        .values(state="pending", lease_until=None, last_error=error[:4000])
    )


def list_lost(conn: Connection, *, now: datetime, older_than: timedelta, limit: int = 500) -> list[int]:
    """Unsent mails whose send job was lost; see ``work.list_lost``."""
    return work.list_lost(conn, OutboundMailRow, now=now, older_than=older_than, limit=limit)


def mark_enqueued(conn: Connection, *, mail_ids: Sequence[int], now: datetime) -> None:
    """Stamp when these mails were last handed to the broker."""
    work.mark_enqueued(conn, OutboundMailRow, ids=mail_ids, now=now)


def count_recent(conn: Connection, *, escalation_id: int, kinds: Collection[str], since: datetime) -> int:
    """How many mails of these kinds were queued for the escalation since ``since``."""
    query = select(func.count()).where(
        OutboundMailRow.escalation_id == escalation_id,
        OutboundMailRow.kind.in_(list(kinds)),
        OutboundMailRow.created_at >= since,
    )
    return int(conn.execute(query).scalar_one())


def find_by_message_ids(conn: Connection, *, message_ids: Collection[str]) -> list[tuple[int, int, str, str]]:
    """(id, escalation id, kind, recipient) of qmark's mails with these Message-IDs."""
    if not message_ids:
        return []
    query = select(
        OutboundMailRow.id, OutboundMailRow.escalation_id, OutboundMailRow.kind, OutboundMailRow.recipient
    ).where(func.lower(OutboundMailRow.message_id).in_([m.lower() for m in message_ids]))
    return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]


def list_for_escalation(conn: Connection, *, escalation_id: int) -> list[tuple[int, str, str, str]]:
    """(id, kind, recipient, state) of every mail queued for the escalation, oldest first."""
    query = (
        select(OutboundMailRow.id, OutboundMailRow.kind, OutboundMailRow.recipient, OutboundMailRow.state)
        .where(OutboundMailRow.escalation_id == escalation_id)
        .order_by(OutboundMailRow.id)
    )
    return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]


def mark_bounced(conn: Connection, *, mail_id: int, reason: str) -> None:
    """A bounce came back for a mail the relay had accepted: it did not reach its recipient."""
    conn.execute(
        update(OutboundMailRow)
        .where(OutboundMailRow.id == mail_id)
        .values(state="bounced", last_error=reason[:4000])
    )


# Ops lists of outgoing mail: the dead ones and what a dead send job held ---------------------------


@dataclass(frozen=True)
class MailSummary:
    """One outgoing mail as ops lists show it (dead letters): ``head`` is its header block."""

    id: int
    escalation_id: int
    kind: str
    recipient: str
    state: str
    last_error: str | None
    created_at: datetime
    head: bytes


def _summaries(session: Any, *, where: Any, limit: int = 1000) -> list[MailSummary]:
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
    found: list[MailSummary] = []
    for mail_id, number, kind, recipient, state, error, created_at, head in session.execute(query):
        found.append(
            MailSummary(mail_id, number, kind, recipient, state, error, created_at, bytes(head or b""))
        )
    return found


def summaries_by_ids(session: Any, *, mail_ids: Sequence[int]) -> list[MailSummary]:
    """These mails (those that exist), by id."""
    return _summaries(session, where=OutboundMailRow.id.in_(mail_ids))


def dead_summaries(session: Any, *, limit: int = 1000) -> list[MailSummary]:
    """Mails in state ``dead``, by id."""
    return _summaries(session, where=OutboundMailRow.state == "dead", limit=limit)


def refused_at(session: Any, mails: Sequence[MailSummary]) -> dict[tuple[int, str, str], datetime]:
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
