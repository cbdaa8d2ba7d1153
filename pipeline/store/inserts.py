"""An INSERT that skips rows whose unique key is taken, on SQLite and PostgreSQL alike.

Two processes (or hosts) racing to create the same row must not fail the loser's
transaction with a unique-key error: on PostgreSQL that error aborts everything
else the transaction did. ``ON CONFLICT DO NOTHING`` makes the race a no-op.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_unless_taken(conn: Connection, model: Any, **values: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` of ``values`` into ``model``'s table, in ``conn``'s dialect."""
    insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    return insert(model).values(**values).on_conflict_do_nothing()
