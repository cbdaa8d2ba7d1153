"""Repository functions for the chase clock: claim escalations whose next slot is due.

The scheduler tick calls :func:`claim_due`: one ``UPDATE … RETURNING`` that leases
the due rows (``chase_at <= now``, no live lease), so two schedulers never take the
same escalation; on PostgreSQL the inner select skips rows another tick has locked
(``FOR UPDATE SKIP LOCKED``), on SQLite the write lock serialises the ticks. The
``chase_at`` index keeps the query independent of how many escalations exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, Update, bindparam, or_, select, update

from pipeline.store.models import EscalationRow

_DUE = (
    select(EscalationRow.id)
    .where(
        EscalationRow.chase_at <= bindparam("now"),
        or_(EscalationRow.chase_lease_until.is_(None), EscalationRow.chase_lease_until < bindparam("now")),
    )
    .order_by(EscalationRow.chase_at)
    .limit(bindparam("limit"))
)


def _claim(due: Select[Any]) -> Update:
    return (
        update(EscalationRow)
        .where(EscalationRow.id.in_(due))
        .values(chase_lease_until=bindparam("until"))
        .returning(EscalationRow.id)
    )


# Built once: the tick runs this every few seconds, mostly finding nothing.
_CLAIM = _claim(_DUE)
_CLAIM_SKIP_LOCKED = _claim(_DUE.with_for_update(skip_locked=True))


def claim_due(conn: Connection, *, now: datetime, lease: timedelta, limit: int = 500) -> list[int]:
    """Lease up to ``limit`` escalations whose next chase slot is due; returns their numbers."""
    claim = _CLAIM_SKIP_LOCKED if conn.dialect.name == "postgresql" else _CLAIM
    return sorted(conn.execute(claim, {"now": now, "until": now + lease, "limit": limit}).scalars())


def release(conn: Connection, *, number: int) -> None:
    """Drop the tick's lease on escalation ``number`` (its chase step is done)."""
    conn.execute(update(EscalationRow).where(EscalationRow.id == number).values(chase_lease_until=None))
