"""Repository functions for IMAP intake: who polls a folder (a lease) and how far it got.

Progress is (UIDVALIDITY, last UID), written only by the lease holder and only in the
transaction that stores the messages it fetched (:func:`advance`): a poller that lost
its lease cannot commit, and a crash after the commit loses nothing and re-reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.orm import Session

from pipeline.store.inserts import insert_unless_taken
from pipeline.store.models import ImapMailboxRow


class LeaseLost(Exception):
    """Another poller holds this folder now; stop and give way."""


@dataclass(frozen=True)
class Progress:
    """Where polling of a folder stands."""

    uidvalidity: int | None
    last_uid: int


def acquire(conn: Connection, *, key: str, holder: str, now: datetime, lease: timedelta) -> bool:
    """Take or renew the lease on folder ``key``: True when ``holder`` polls it until now + lease."""
    # Two pollers starting at once (two hosts): the folder's row is created once, the other
    # insert is a no-op, and the update below gives the lease to one of them.
    conn.execute(insert_unless_taken(conn, ImapMailboxRow, key=key, last_uid=0, ingested=0))
    taken = conn.execute(
        update(ImapMailboxRow)
        .where(
            ImapMailboxRow.key == key,
            or_(
                ImapMailboxRow.holder == holder,
                ImapMailboxRow.lease_until.is_(None),
                ImapMailboxRow.lease_until < now,
            ),
        )
        .values(holder=holder, lease_until=now + lease)
    )
    return taken.rowcount == 1


def release(conn: Connection, *, key: str, holder: str) -> None:
    """Give the lease up (clean shutdown), so another poller takes over at once."""
    conn.execute(
        update(ImapMailboxRow)
        .where(ImapMailboxRow.key == key, ImapMailboxRow.holder == holder)
        .values(holder=None, lease_until=None)
    )


def progress(conn: Connection, *, key: str) -> Progress:
    """The folder's recorded UIDVALIDITY and last ingested UID."""
    row = conn.execute(
        select(ImapMailboxRow.uidvalidity, ImapMailboxRow.last_uid).where(ImapMailboxRow.key == key)
    ).one()
    return Progress(row[0], int(row[1]))


def advance(
    conn: Connection, *, key: str, holder: str, uidvalidity: int, last_uid: int, stored: int, now: datetime
) -> None:
    """Record progress in the caller's transaction; raises :class:`LeaseLost` (so it rolls back) if
    ``holder`` no longer holds the folder."""
    values: dict[str, object] = {"uidvalidity": uidvalidity, "last_uid": last_uid, "last_error": None}
    if stored:
        values.update(ingested=ImapMailboxRow.ingested + stored, last_ingest_at=now)
    done = conn.execute(
        update(ImapMailboxRow)
        .where(ImapMailboxRow.key == key, ImapMailboxRow.holder == holder)
        .values(values)
    )
    if done.rowcount != 1:
        raise LeaseLost(f"{holder} no longer holds {key}")


def polled(conn: Connection, *, key: str, holder: str, now: datetime, error: str | None = None) -> None:
    """Stamp a finished poll (the folder is caught up), or the error that broke one."""
    values: dict[str, object] = (
        {"last_error": error[:2000]} if error else {"last_poll_at": now, "last_error": None}
    )
    conn.execute(
        update(ImapMailboxRow)
        .where(ImapMailboxRow.key == key, ImapMailboxRow.holder == holder)
        .values(values)
    )


def list_all(session: Session) -> list[ImapMailboxRow]:
    """Every folder qmark polls, for ``qmark status`` and ``/readyz``."""
    return list(session.execute(select(ImapMailboxRow).order_by(ImapMailboxRow.key)).scalars())
