"""PostgreSQL's connections under trouble: timeouts end stuck work, dropped pooled connections are replaced.

Each test runs on the session's real PostgreSQL, in a database of its own. A connection lost in the
middle of a step (F14) is in tests/faults/test_f14_database_backend_killed.py.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from pipeline.config.settings import StorageSettings
from pipeline.store.db import Database
from tests.support.db import scalar
from tests.support.faults_store import terminate

pytestmark = pytest.mark.integration

NUMBERS = "insert into escalation_numbers default values"


def test_a_statement_running_past_statement_timeout_is_cancelled_and_its_transaction_rolled_back(
    migrated_postgres,
):
    db = Database(migrated_postgres, tuning=StorageSettings(statement_timeout=0.3))
    try:
        with pytest.raises(DBAPIError, match="statement timeout"), db.transaction() as conn:
            conn.execute(text(NUMBERS))
            conn.execute(text("select pg_sleep(30)"))
        assert scalar(migrated_postgres, "select count(*) from escalation_numbers") == 0
    finally:
        db.dispose()


def test_a_step_waiting_past_lock_timeout_for_a_locked_row_fails_instead_of_hanging(migrated_postgres):
    db = Database(migrated_postgres, tuning=StorageSettings(lock_timeout=0.3))
    holder = create_engine(migrated_postgres)
    try:
        with db.transaction() as conn:
            conn.execute(text(NUMBERS))
        with holder.begin() as held:
            held.execute(text("select id from escalation_numbers for update"))
            with pytest.raises(DBAPIError, match="lock timeout"), db.transaction() as conn:
                conn.execute(text("delete from escalation_numbers"))
        assert scalar(migrated_postgres, "select count(*) from escalation_numbers") == 1
    finally:
        db.dispose()
        holder.dispose()


def test_a_transaction_left_open_and_idle_is_ended_by_the_server_and_frees_its_locks(migrated_postgres):
    db = Database(migrated_postgres, tuning=StorageSettings(idle_in_transaction_timeout=0.3))
    try:
        with db.transaction() as conn:
            conn.execute(text(NUMBERS))
        ended = threading.Event()
        with pytest.raises(DBAPIError), db.transaction() as conn:
            conn.execute(text("select id from escalation_numbers for update"))
            # A process frozen here (SIGSTOP, a debugger, a hung call) would hold the row forever
            ended.wait(2)
            conn.execute(text("delete from escalation_numbers"))
        with db.transaction() as conn:  # the lock is free again and the pool hands out a live connection
            conn.execute(text("delete from escalation_numbers"))
        assert scalar(migrated_postgres, "select count(*) from escalation_numbers") == 0
    finally:
        db.dispose()


def test_pooled_connections_the_server_dropped_are_replaced_without_failing_a_step(migrated_postgres):
    db = Database(migrated_postgres)
    try:
        with db.transaction() as conn:
            pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        terminate(migrated_postgres, pid)  # the pooled connection is dead now
        with db.transaction() as conn:
            conn.execute(text(NUMBERS))
            assert conn.connection.dbapi_connection.info.backend_pid != pid  # type: ignore[union-attr]
        assert scalar(migrated_postgres, "select count(*) from escalation_numbers") == 1
    finally:
        db.dispose()
