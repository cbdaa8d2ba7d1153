"""Fault injection for the store's fault tests (F14 and the PostgreSQL connection tests)."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def terminate(url: str, pid: int) -> None:
    """End backend ``pid`` from another connection, as a crashed network or a restarted pooler would."""
    admin = create_engine(url)
    try:
        with admin.connect() as connection:
            assert connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()
