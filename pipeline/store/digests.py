"""Repository functions for the daily digest's rows: claim a day once, record how it went.

A day's digest is claimed by inserting its ``digests`` row; ``day`` is unique, so
of two schedulers racing only one inserts (and sends). A retry may take over a
``failed`` day, or one left ``sending`` for longer than ``stale``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.orm import Session

from pipeline.store.inserts import insert_unless_taken
from pipeline.store.models import DigestRow

SENDING, SENT, FAILED = "sending", "sent", "failed"


def get(session: Session, *, day: str) -> DigestRow | None:
    """The row of ``day`` (``YYYY-MM-DD``), if a digest was claimed for it."""
    return session.execute(select(DigestRow).where(DigestRow.day == day)).scalar_one_or_none()


def claim(conn: Connection, *, day: str, recipients: Sequence[str], now: datetime) -> bool:
    """Insert ``day``'s row (the claim); False, and nothing written, when the day is taken already."""
    statement = insert_unless_taken(conn, DigestRow, day=day, **_claimed(recipients, now))
    return conn.execute(statement.returning(DigestRow.id)).first() is not None


def take_over(
    conn: Connection, *, day: str, recipients: Sequence[str], now: datetime, stale: timedelta
) -> bool:
    """Claim ``day`` again when it failed, or was left ``sending`` for longer than ``stale``."""
    retryable = or_(
        DigestRow.state == FAILED, and_(DigestRow.state == SENDING, DigestRow.claimed_at < now - stale)
    )
    taken = conn.execute(
        update(DigestRow)
        .where(DigestRow.day == day, retryable)
        .values(**_claimed(recipients, now), sent_at=None, last_error=None)
    )
    return taken.rowcount == 1


def finish(conn: Connection, *, day: str, state: str, now: datetime, error: str | None) -> None:
    """Record how ``day``'s digest went: ``sent`` (to at least one recipient) or ``failed``."""
    sent_at = now if state == SENT else None
    conn.execute(
        update(DigestRow).where(DigestRow.day == day).values(state=state, sent_at=sent_at, last_error=error)
    )


def last_sent_before(session: Session, *, day: str) -> datetime | None:
    """When the latest digest before ``day`` that went out was claimed."""
    query = select(func.max(DigestRow.claimed_at)).where(DigestRow.state == SENT, DigestRow.day < day)
    return session.execute(query).scalar()


def _claimed(recipients: Sequence[str], now: datetime) -> dict[str, object]:
    return {"state": SENDING, "recipients": list(recipients), "claimed_at": now}
