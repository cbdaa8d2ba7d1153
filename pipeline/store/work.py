"""Claim, lease and sweep mechanics shared by every work row (stored messages, outgoing mail).

A work row is ``pending`` until a worker claims it, which sets its busy state
and a lease; a worker killed mid-job leaves a lease that expires, after which
the row can be claimed again. The sweeper finds rows nobody holds whose last
enqueue is old: their Redis message was lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, or_, select, update

from pipeline.store.models import MessageRow, OutboundMailRow

WorkRow = type[MessageRow] | type[OutboundMailRow]
BUSY: dict[WorkRow, str] = {MessageRow: "processing", OutboundMailRow: "sending"}


def _created(model: WorkRow) -> Any:
    return MessageRow.received_at if model is MessageRow else OutboundMailRow.created_at


def claimable(model: WorkRow) -> ColumnElement[bool]:
    """Rows among bound ``ids`` that are pending, or busy under a lease that ran out before bound ``now``.

    Built once per statement with bind parameters, so SQLAlchemy's statement
    cache is hit on every call instead of building and hashing a new tree.
    """
    busy = (model.state == BUSY[model]) & (model.lease_until < bindparam("now"))
    return model.id.in_(bindparam("ids", expanding=True)) & or_(model.state == "pending", busy)


def list_lost(
    conn: Connection, model: WorkRow, *, now: datetime, older_than: timedelta, limit: int
) -> list[int]:
    """Unfinished rows nobody holds a lease on, neither created nor enqueued within ``older_than``."""
    cutoff = now - older_than
    query = (
        select(model.id)
        .where(
            model.state.in_(("pending", BUSY[model])),
            _created(model) < cutoff,
            or_(model.enqueued_at.is_(None), model.enqueued_at < cutoff),
            or_(model.lease_until.is_(None), model.lease_until < now),
        )
        .order_by(model.id)
        .limit(limit)
    )
    return [row[0] for row in conn.execute(query)]


def mark_enqueued(conn: Connection, model: WorkRow, *, ids: Sequence[int], now: datetime) -> None:
    """Stamp when these rows were last handed to the broker."""
    if ids:
        conn.execute(update(model).where(model.id.in_(ids)).values(enqueued_at=now))
