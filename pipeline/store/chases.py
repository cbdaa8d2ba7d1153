"""Repository functions for the chase clock: claim escalations whose next slot is due.

The scheduler tick calls :func:`claim_due`: one ``UPDATE … RETURNING`` that leases
the due rows (``chase_at <= now``, no live lease), so two schedulers never take the
same escalation; on PostgreSQL the inner select skips rows another tick has locked
(``FOR UPDATE SKIP LOCKED``), on SQLite the write lock serialises the ticks. The
``chase_at`` index keeps the query independent of how many escalations exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, or_, select, update

from pipeline.store.models import Escalation

_DUE = (
    select(Escalation.id)
    .where(
        Escalation.chase_at <= bindparam("now"),
        or_(Escalation.chase_lease_until.is_(None), Escalation.chase_lease_until < bindparam("now")),
    )
    .order_by(Escalation.chase_at)
    .limit(bindparam("limit"))
)


def claim_due(conn: Connection, *, now: datetime, lease: timedelta, limit: int = 500) -> list[int]:
    """Lease up to ``limit`` escalations whose next chase slot is due; returns their numbers."""
    due = _DUE.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else _DUE
    claim = (
        update(Escalation)
        .where(Escalation.id.in_(due))
        .values(chase_lease_until=now + lease)
        .returning(Escalation.id)
    )
    return sorted(conn.execute(claim, {"now": now, "limit": limit}).scalars())


def release(conn: Connection, *, number: int) -> None:
    """Drop the tick's lease on escalation ``number`` (its chase step is done)."""
    conn.execute(update(Escalation).where(Escalation.id == number).values(chase_lease_until=None))
