"""PostgreSQL's connections under trouble: timeouts end stuck work, a lost connection redoes the job.

Each test runs on the session's real PostgreSQL, in a database of its own.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError

from pipeline.config.settings import StorageSettings
from pipeline.model.mail import Envelope
from pipeline.steps.services import utcnow
from pipeline.store.db import Database
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.runners import qmark_env, role_in_thread, settings_from, wait_until

pytestmark = pytest.mark.integration

NUMBERS = "insert into escalation_numbers default values"


def terminate(url: str, pid: int) -> None:
    """End backend ``pid`` from another connection, as a crashed network or a restarted pooler would."""
    admin = create_engine(url)
    try:
        with admin.connect() as connection:
            assert connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()


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


def test_a_connection_lost_in_the_middle_of_opening_an_escalation_is_redone_whole_and_once(
    migrated_postgres, redis_url, relay_sink
):
    from workers.bootstrap import build
    from workers.roles import worker
    from workers.roles.group_commit import store_one

    env = qmark_env(
        database_url=migrated_postgres,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
    )
    app = build(settings=settings_from(env))
    cut: list[int] = []

    def cut_the_line(conn, cursor, statement, parameters, context, executemany):
        # The first time a step writes the escalation row, after the earlier writes of its
        # transaction, the connection is lost.
        if not cut and statement.lstrip().upper().startswith("INSERT INTO ESCALATIONS "):
            cut.append(conn.connection.dbapi_connection.info.backend_pid)
            terminate(migrated_postgres, cut[0])

    event.listen(app.services.db.engine, "before_cursor_execute", cut_the_line)
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    message_id = store_one(app.services.db, mail_fixture("gmail-forward.eml"), envelope)
    app.graph.enqueue_process([message_id])
    with role_in_thread(worker.serve, app):
        wait_until(
            lambda: len(relay_sink.messages) >= 2, timeout=30, what="the forward and the acknowledgement"
        )
    # Then the line was cut once, and the redo opened one escalation whole. Of the first try only
    # its reserved number remains (reserved in a transaction of its own: the numbers skip one)
    assert len(cut) == 1
    [(number, state)] = rows(migrated_postgres, "select id, state from escalations")
    assert state == "awaiting_explanation"
    assert rows(migrated_postgres, "select id from escalation_numbers order by id") == [
        (number - 1,),
        (number,),
    ]
    assert scalar(migrated_postgres, "select attempts from messages where id = :id", id=message_id) == 2
    recipients = sorted(m.rcpt_tos[0] for m in relay_sink.messages)
    assert recipients == ["dana.chief@acme.test", "pat.owner@acme.test"]
    assert scalar(migrated_postgres, "select count(*) from outbound_mails") == 2
