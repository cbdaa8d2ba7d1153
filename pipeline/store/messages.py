"""Repository functions for stored inbound messages: store, claim, finish, find lost ones."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from pipeline.model.mail import Envelope
from pipeline.store import work
from pipeline.store.models import MessageRow

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


def header_message_id(raw: bytes) -> str:
    """The Message-ID header of ``raw`` without angle brackets, found without a full parse."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:262144]
    match = _MESSAGE_ID.search(head)
    if match is None:
        return ""
    value = b" ".join(match.group(1).split()).decode("ascii", "replace").strip()
    return value.strip("<>")[:998]


def message_row(raw: bytes, envelope: Envelope) -> dict[str, object]:
    """The column values of a new stored message (pending processing)."""
    return {
        "received_at": envelope.received_at,
        "channel": envelope.channel,
        "mail_from": envelope.mail_from[:998],
        "rcpt_tos": list(envelope.rcpt_tos),
        "peer": envelope.peer[:255],
        "raw": raw,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "header_message_id": header_message_id(raw),
        "state": "pending",
        "attempts": 0,
    }


def store_many(conn: Connection, *, rows: Sequence[dict[str, object]]) -> list[int]:
    """Insert prepared rows; returns their ids in order."""
    result = conn.execute(
        insert(MessageRow).returning(MessageRow.id, sort_by_parameter_order=True), list(rows)
    )
    return [row[0] for row in result]


@dataclass(frozen=True)
class Claimed:
    """A message claimed for processing by one worker."""

    id: int
    raw: bytes
    envelope: Envelope
    attempts: int
    last_error: str | None


_CLAIM = (
    update(MessageRow)
    .where(work.claimable(MessageRow))
    .values(state="processing", attempts=MessageRow.attempts + 1, lease_until=bindparam("until"))
    .returning(
        MessageRow.id,
        MessageRow.raw,
        MessageRow.mail_from,
        MessageRow.rcpt_tos,
        MessageRow.peer,
        MessageRow.received_at,
        MessageRow.channel,
        MessageRow.attempts,
        MessageRow.last_error,
    )
)
_FINISH = (
    update(MessageRow)
    .where(MessageRow.id == bindparam("message_id"))
    .values(
        state="done",
        outcome=bindparam("outcome"),
        reason=bindparam("reason"),
        processed_at=bindparam("now"),
        lease_until=None,
        escalation_id=bindparam("escalation_id"),
    )
)


def claim_many(
    conn: Connection, *, message_ids: Sequence[int], now: datetime, lease: timedelta
) -> list[Claimed]:
    """Take those of ``message_ids`` that are not done and not under another worker's live lease."""
    rows = conn.execute(_CLAIM, {"ids": list(message_ids), "now": now, "until": now + lease})
    claimed = [
        Claimed(
            row_id, raw, Envelope(mail_from, tuple(rcpt_tos), peer, received_at, channel), attempts, error
        )
        for row_id, raw, mail_from, rcpt_tos, peer, received_at, channel, attempts, error in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


def finish(
    conn: Connection,
    *,
    message_id: int,
    outcome: str,
    reason: str,
    now: datetime,
    escalation_id: int | None = None,
) -> None:
    """Record the message's final outcome and reason (I2)."""
    params = {"message_id": message_id, "outcome": outcome, "reason": reason, "now": now}
    conn.execute(_FINISH, {**params, "escalation_id": escalation_id})


def release(conn: Connection, *, message_id: int, error: str) -> None:
    """Give a claimed message back after a failure, keeping the error for ops."""
    conn.execute(
        update(MessageRow)
        .where(MessageRow.id == message_id, MessageRow.state == "processing")
        .values(state="pending", lease_until=None, last_error=error[:4000])
    )


def list_lost(conn: Connection, *, now: datetime, older_than: timedelta, limit: int = 500) -> list[int]:
    """Messages whose processing job was lost (Redis wiped, worker killed); see ``work.list_lost``."""
    return work.list_lost(conn, MessageRow, now=now, older_than=older_than, limit=limit)


def mark_enqueued(conn: Connection, *, message_ids: Sequence[int], now: datetime) -> None:
    """Stamp when these messages were last handed to the broker."""
    work.mark_enqueued(conn, MessageRow, ids=message_ids, now=now)


def already_stored(conn: Connection, *, raw: bytes) -> int | None:
    """The stored message with exactly these bytes and this Message-ID, if any (IMAP re-reads).

    A reused Message-ID with different bytes is a different message and is not matched.
    """
    digest = hashlib.sha256(raw).hexdigest()
    query = select(MessageRow.id).where(
        MessageRow.sha256 == digest, MessageRow.header_message_id == header_message_id(raw)
    )
    return conn.execute(query.limit(1)).scalar()


# Ops: the quarantine and the dead letters' view of stored messages.

QUARANTINED = "quarantined"
HEAD_BYTES = 65536  # enough for any sane header block; lists never load whole messages


@dataclass(frozen=True)
class Summary:
    """What ops lists show of a stored message: its envelope, state, and the first bytes (the headers)."""

    id: int
    received_at: datetime
    channel: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    size: int
    state: str
    outcome: str | None
    reason: str | None
    attempts: int
    last_error: str | None
    escalation_id: int | None
    processed_at: datetime | None
    head: bytes


def _summaries(session: Session, where: ColumnElement[bool], *, limit: int) -> list[Summary]:
    query = (
        select(
            MessageRow.id,
            MessageRow.received_at,
            MessageRow.channel,
            MessageRow.mail_from,
            MessageRow.rcpt_tos,
            MessageRow.size,
            MessageRow.state,
            MessageRow.outcome,
            MessageRow.reason,
            MessageRow.attempts,
            MessageRow.last_error,
            MessageRow.escalation_id,
            MessageRow.processed_at,
            func.substr(MessageRow.raw, 1, HEAD_BYTES),
        )
        .where(where)
        .order_by(MessageRow.received_at, MessageRow.id)
        .limit(limit)
    )
    return [
        Summary(
            id=row[0],
            received_at=row[1],
            channel=row[2],
            mail_from=row[3],
            rcpt_tos=tuple(row[4] or ()),
            size=row[5],
            state=row[6],
            outcome=row[7],
            reason=row[8],
            attempts=row[9],
            last_error=row[10],
            escalation_id=row[11],
            processed_at=row[12],
            head=bytes(row[13] or b""),
        )
        for row in session.execute(query)
    ]


def list_quarantined(session: Session, *, limit: int = 200) -> list[Summary]:
    """Messages held in quarantine, oldest first (only their first ``HEAD_BYTES`` bytes are read)."""
    held = (MessageRow.state == "done") & (MessageRow.outcome == QUARANTINED)
    return _summaries(session, held, limit=limit)


def list_by_ids(session: Session, *, message_ids: Sequence[int]) -> list[Summary]:
    """These messages (those that exist), oldest first, without their bodies."""
    if not message_ids:
        return []
    return _summaries(session, MessageRow.id.in_(list(message_ids)), limit=len(message_ids))


def get(session: Session, *, message_id: int) -> MessageRow | None:
    """One stored message, whole (raw bytes included)."""
    return session.get(MessageRow, message_id)


def raw_of(conn: Connection, *, message_id: int) -> bytes | None:
    """The exact bytes of stored message ``message_id``, inside the caller's transaction."""
    return conn.execute(select(MessageRow.raw).where(MessageRow.id == message_id)).scalar()


def release_quarantined(conn: Connection, *, message_id: int, now: datetime) -> bool:
    """Send a quarantined message back to processing as if just received; False if it is not quarantined.

    Its outcome, reason, error and attempts are cleared; ``enqueued_at`` is stamped
    ``now``, so the sweeper enqueues it later only if the caller's enqueue is lost.
    """
    result = conn.execute(
        update(MessageRow)
        .where(MessageRow.id == message_id, MessageRow.state == "done", MessageRow.outcome == QUARANTINED)
        .values(
            state="pending",
            outcome=None,
            reason=None,
            attempts=0,
            last_error=None,
            lease_until=None,
            processed_at=None,
            escalation_id=None,
            enqueued_at=now,
        )
    )
    return result.rowcount == 1


def reset_attempts(conn: Connection, *, message_ids: Sequence[int]) -> list[int]:
    """Give still-pending messages a fresh set of attempts (an operator replays their job); returns them."""
    if not message_ids:
        return []
    result = conn.execute(
        update(MessageRow)
        .where(MessageRow.id.in_(list(message_ids)), MessageRow.state == "pending")
        .values(attempts=0)
        .returning(MessageRow.id)
    )
    return sorted(row[0] for row in result)
