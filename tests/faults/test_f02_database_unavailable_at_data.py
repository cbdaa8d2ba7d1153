"""F2: the database is unavailable at DATA.

Injected three ways, each on the real store: the ``messages`` table renamed away (any failing
write, on SQLite and PostgreSQL), SQLite locked by another writer holding ``BEGIN EXCLUSIVE``
past ``busy_timeout``, and PostgreSQL refusing the database to every connection (existing
sessions terminated, ``ALLOW_CONNECTIONS false``), as when the server is stopped or unreachable.
While the fault lasts every attempt is answered ``451 4.3.0`` (I6: 4xx, never 250, never 5xx)
and nothing is stored; after recovery the sending MTA's retry is answered 250 and the message
is stored exactly once, byte for byte (I1).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.faults_intake import deliver, intake_app
from tests.support.runners import smtp_in_thread

pytestmark = pytest.mark.integration


def refused_while_broken_then_stored_once(
    database_url: str, redis_url: str, tmp_path, *, break_it: Callable[[], None], mend_it: Callable[[], None]
) -> None:
    """Deliver during the fault (twice, as an MTA retries) and after it; assert the answers and the rows."""
    app = intake_app(database_url, redis_url, f"maildir:{tmp_path}/sent")
    raw = crlf(mail_fixture("apple-forward.eml"))
    with smtp_in_thread(app):
        break_it()
        try:
            answers = [deliver(app, raw) for _ in range(2)]
        finally:
            mend_it()
        # While the database is away: 451 4.3.0 each time (retry later), never 250 or a 5xx
        assert [code for code, _ in answers] == [451, 451], answers
        assert all("4.3.0" in message for _, message in answers), answers
        assert scalar(database_url, "select count(*) from messages") == 0
        # When the database is back and the sending MTA retries, it is accepted
        assert deliver(app, raw)[0] == 250
    # Then the message is stored exactly once, byte for byte
    assert [stored for (stored,) in rows(database_url, "select raw from messages")] == [raw]


def test_f2_a_database_failure_at_data_answers_451_and_the_retry_is_stored_once(
    database_url, redis_url, tmp_path
):
    # Given the messages table is gone (a real database fault, not a mock)
    engine = create_engine(database_url)

    def rename(old: str, new: str) -> Callable[[], None]:
        def run() -> None:
            with engine.begin() as connection:
                connection.execute(text(f"alter table {old} rename to {new}"))

        return run

    try:
        refused_while_broken_then_stored_once(
            database_url,
            redis_url,
            tmp_path,
            break_it=rename("messages", "messages_away"),
            mend_it=rename("messages_away", "messages"),
        )
    finally:
        engine.dispose()


def test_f2_sqlite_locked_by_another_writer_answers_451_and_accepts_once_it_lets_go(
    sqlite_url, redis_url, tmp_path
):
    # Given another program (an operator's sqlite3 shell, a backup) holds SQLite's write lock
    # beyond busy_timeout, outside qmark's own writer queue
    holder = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None, check_same_thread=False)
    refused_while_broken_then_stored_once(
        sqlite_url,
        redis_url,
        tmp_path,
        break_it=lambda: holder.execute("BEGIN EXCLUSIVE"),
        mend_it=lambda: holder.execute("ROLLBACK"),
    )
    holder.close()


def test_f2_postgresql_unreachable_answers_451_and_accepts_once_it_is_back(
    migrated_postgres, postgres, redis_url, tmp_path
):
    # Given PostgreSQL drops qmark's sessions and refuses new ones to its database, as when the
    # server is stopped or cut off (the session's server stays up for the other tests)
    name = make_url(migrated_postgres).database
    admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")

    def refuse() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"alter database {name} allow_connections false"))
            connection.execute(
                text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :name"),
                {"name": name},
            )

    def allow() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"alter database {name} allow_connections true"))

    try:
        refused_while_broken_then_stored_once(
            migrated_postgres, redis_url, tmp_path, break_it=refuse, mend_it=allow
        )
    finally:
        admin.dispose()
