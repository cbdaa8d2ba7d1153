"""Repository functions for the chase clocks: claim escalations, and actions, whose next slot is due.

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

from pipeline.store.models import ActionRow, EscalationRow

ClockRow = type[EscalationRow] | type[ActionRow]


def _claims(table: ClockRow) -> tuple[Update, Update]:
    """The claim of ``table``'s due rows, plain and with ``SKIP LOCKED`` (built once per table)."""
    due = (
        select(table.id)
        .where(
            table.chase_at <= bindparam("now"),
            or_(table.chase_lease_until.is_(None), table.chase_lease_until < bindparam("now")),
        )
        .order_by(table.chase_at)
        .limit(bindparam("limit"))
    )

    def claim(rows: Select[Any]) -> Update:
        return (
            update(table)
            .where(table.id.in_(rows))
            .values(chase_lease_until=bindparam("until"))
            .returning(table.id)
        )

    return claim(due), claim(due.with_for_update(skip_locked=True))


# Built once: the tick runs these every few seconds, mostly finding nothing.
_CLAIMS: dict[ClockRow, tuple[Update, Update]] = {
    table: _claims(table) for table in (EscalationRow, ActionRow)
}


def claim_due(conn: Connection, *, now: datetime, lease: timedelta, limit: int = 500) -> list[int]:
    """Lease up to ``limit`` escalations whose next chase slot is due; returns their numbers."""
    return _claim_due(conn, EscalationRow, now=now, lease=lease, limit=limit)


def claim_due_actions(conn: Connection, *, now: datetime, lease: timedelta, limit: int = 500) -> list[int]:
    """Lease up to ``limit`` actions whose next chase slot is due; returns their numbers."""
    return _claim_due(conn, ActionRow, now=now, lease=lease, limit=limit)


def _claim_due(
    conn: Connection, table: ClockRow, *, now: datetime, lease: timedelta, limit: int
) -> list[int]:
    plain, skip_locked = _CLAIMS[table]
    claim = skip_locked if conn.dialect.name == "postgresql" else plain
    return sorted(conn.execute(claim, {"now": now, "until": now + lease, "limit": limit}).scalars())


def release(conn: Connection, *, number: int) -> None:
    """Drop the tick's lease on escalation ``number`` (its chase step is done)."""
    conn.execute(update(EscalationRow).where(EscalationRow.id == number).values(chase_lease_until=None))


def release_action(conn: Connection, *, number: int) -> None:
    """Drop the tick's lease on action ``number``."""
    conn.execute(update(ActionRow).where(ActionRow.id == number).values(chase_lease_until=None))
