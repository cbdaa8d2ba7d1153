"""Read queries behind ops' reports: what a digest says, and the backlog ``qmark status`` shows.

Each function reads one report from a read-only session in a few aggregate
queries and returns plain values (:mod:`pipeline.model.digest` for the digest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.model.digest import ROOT_CAUSE_KEY, Breach, ClosedItem, DigestFacts, OpenItem, Recurrence
from pipeline.model.escalation import State
from pipeline.model.ids import ref
from pipeline.model.mail import Address
from pipeline.store import related
from pipeline.store.models import EscalationRow, EventRow, MessageRow, OutboundMailRow

#: The events a digest lists as breaches: a deadline missed, a later rung chased, the ladder's top.
BREACH_KINDS = ("breached", "chased_up", "ladder_top_reached")


def digest_facts(session: Session, *, now: datetime, since: datetime, root_cause_key: str) -> DigestFacts:
    """Every open escalation, and the breaches, closures and recurrences in ``[since, now]``.

    ``root_cause_key`` names the writeup section that holds the root cause
    (:func:`pipeline.model.digest.root_cause_key`).
    """
    return DigestFacts(
        now=now,
        since=since,
        open=_open(session),
        breaches=_breaches(session, now=now, since=since),
        closed=_closed(session, now=now, since=since, key=root_cause_key),
        recurrences=tuple(
            Recurrence(ref(number), ref(earlier))
            for number, earlier in related.recurrences(session, since=since, now=now)
        ),
    )


def _open(session: Session) -> tuple[OpenItem, ...]:
    table = EscalationRow
    rows = session.execute(
        select(
            table.id,
            table.subject,
            table.owner,
            table.owner_name,
            table.state,
            table.deadline,
            table.paused_at,
        )
        .where(table.state != State.CLOSED.value)
        .order_by(table.deadline, table.id)
    )
    return tuple(
        OpenItem(ref(number), subject, Address(owner, name), state, deadline, paused_at is not None)
        for number, subject, owner, name, state, deadline, paused_at in rows
    )


def _breaches(session: Session, *, now: datetime, since: datetime) -> tuple[Breach, ...]:
    table, event = EscalationRow, EventRow
    rows = session.execute(
        select(
            event.escalation_id,
            event.at,
            event.kind,
            event.detail,
            table.subject,
            table.owner,
            table.owner_name,
        )
        .join(table, table.id == event.escalation_id)
        .where(event.kind.in_(BREACH_KINDS), event.at >= since, event.at <= now)
        .order_by(event.at, event.id)
    )
    return tuple(
        _breach(number, at, kind, detail or {}, subject, Address(owner, name))
        for number, at, kind, detail, subject, owner, name in rows
    )


def _breach(
    number: int, at: datetime, kind: str, detail: Mapping[str, object], subject: str, owner: Address
) -> Breach:
    level = detail.get("level")
    return Breach(
        ref=ref(number),
        subject=subject,
        owner=owner,
        at=at,
        kind=kind,
        phase=str(detail.get("phase") or ""),
        level=level if isinstance(level, int) and not isinstance(level, bool) else None,
        chased=str(detail.get("to") or ""),
    )


def _closed(session: Session, *, now: datetime, since: datetime, key: str) -> tuple[ClosedItem, ...]:
    table = EscalationRow
    rows = session.execute(
        select(table.id, table.subject, table.owner, table.owner_name, table.closed_at, table.writeup)
        .where(table.state == State.CLOSED.value, table.closed_at >= since, table.closed_at <= now)
        .order_by(table.closed_at, table.id)
    )
    return tuple(
        ClosedItem(ref(number), subject, Address(owner, name), closed_at, _root_cause(writeup or {}, key))
        for number, subject, owner, name, closed_at, writeup in rows
        if closed_at is not None  # the query's condition; for the type checker
    )


def _root_cause(writeup: Mapping[str, object], key: str) -> str:
    return str(writeup.get(key) or writeup.get(ROOT_CAUSE_KEY) or "")


@dataclass(frozen=True)
class Backlog:
    """What waits: the oldest message not processed yet, and the last day's failures."""

    oldest_unprocessed: datetime | None
    mails_failed_last_day: int
    quarantined_last_day: int


def backlog(session: Session, *, now: datetime) -> Backlog:
    """The oldest unprocessed message; mail refused or bounced, messages quarantined in the last day."""
    day_ago = now - timedelta(days=1)
    oldest = session.execute(
        select(func.min(MessageRow.received_at)).where(MessageRow.state != "done")
    ).scalar()
    failed = session.execute(
        select(func.count()).where(
            OutboundMailRow.state.in_(("dead", "bounced")), OutboundMailRow.created_at >= day_ago
        )
    ).scalar_one()
    quarantined = session.execute(
        select(func.count()).where(MessageRow.outcome == "quarantined", MessageRow.received_at >= day_ago)
    ).scalar_one()
    return Backlog(oldest, int(failed), int(quarantined))
