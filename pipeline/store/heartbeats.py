"""Repository functions for heartbeats: the last sign of life of every qmark process.

Each process beats under its role (``worker``, ``scheduler``, ``smtp``, ``imap``, ``http``) and
a holder naming it (host and pid). The scheduler beats once per tick, so its beat is also the
tick's freshness. Beats older than a day are pruned, so the table stays as small as the fleet.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from pipeline.store.models import HeartbeatRow

KEEP = timedelta(days=1)


def beat(conn: Connection, role: str, holder: str, now: datetime, started_at: datetime) -> None:
    """Record that ``holder`` (one process of ``role``) is alive at ``now``; prune stale beats.

    An update, then an insert when there was no row: portable to SQLite and PostgreSQL, and
    safe because only the holder itself ever writes its row.
    """
    done = conn.execute(
        update(HeartbeatRow)
        .where(HeartbeatRow.role == role, HeartbeatRow.holder == holder)
        .values(beat_at=now, started_at=started_at)
    )
    if done.rowcount == 0:
        conn.execute(
            insert(HeartbeatRow).values(role=role, holder=holder, beat_at=now, started_at=started_at)
        )
    prune(conn, now=now)


def prune(conn: Connection, *, now: datetime) -> int:
    """Forget processes not heard of for a day; returns how many rows went."""
    return int(conn.execute(delete(HeartbeatRow).where(HeartbeatRow.beat_at < now - KEEP)).rowcount)


def latest(session: Session) -> dict[str, list[tuple[str, datetime]]]:
    """Per role, its processes as (holder, last beat), the freshest first."""
    query = select(HeartbeatRow.role, HeartbeatRow.holder, HeartbeatRow.beat_at).order_by(
        HeartbeatRow.role, HeartbeatRow.beat_at.desc(), HeartbeatRow.holder
    )
    found: dict[str, list[tuple[str, datetime]]] = {}
    for role, holder, beat_at in session.execute(query):
        found.setdefault(role, []).append((holder, beat_at))
    return found
