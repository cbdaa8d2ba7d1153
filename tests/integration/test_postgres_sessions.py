"""How qmark's processes hold their PostgreSQL sessions: named after the role, pooled, reads without BEGIN."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from pipeline.config.settings import StorageSettings
from pipeline.store.db import Database
from workers.cli.main import name_database_sessions

pytestmark = pytest.mark.integration


def application_name(url: str) -> str:
    db = Database(url)
    with db.read() as session:
        name = str(session.execute(text("SELECT current_setting('application_name')")).scalar_one())
    db.dispose()
    return name


def test_a_roles_postgresql_sessions_carry_the_role_also_under_qmark_run(empty_postgres, monkeypatch):
    monkeypatch.setenv("PGAPPNAME", "qmark-run")  # what a child of `qmark run` inherits
    name_database_sessions("worker")
    assert application_name(empty_postgres) == "qmark-worker"


def test_an_application_name_the_operator_set_is_kept(empty_postgres, monkeypatch):
    monkeypatch.setenv("PGAPPNAME", "billing-box qmark")
    name_database_sessions("smtp")
    assert application_name(empty_postgres) == "billing-box qmark"


def test_every_job_thread_keeps_its_pooled_connection_so_no_transaction_opens_a_new_backend(empty_postgres):
    threads = 8
    db = Database(empty_postgres, tuning=StorageSettings(pool_size=threads))
    together = threading.Barrier(threads)

    def backends() -> set[int]:
        seen: list[int] = []

        def one() -> None:
            with db.transaction() as conn:
                together.wait(timeout=30)  # all eight transactions are open at once
                seen.append(int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()))

        workers = [threading.Thread(target=one) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return set(seen)

    first = backends()
    assert len(first) == threads
    assert backends() == first
    db.dispose()


def test_a_postgresql_read_runs_each_statement_in_its_own_transaction(empty_postgres):
    db = Database(empty_postgres)
    with db.read() as session:
        session.execute(text("SELECT pg_sleep(0.01)"))
        # In a transaction now() stays at its start; each autocommit statement is a new one.
        fresh = session.execute(text("SELECT now() = statement_timestamp()")).scalar_one()
    with db.transaction() as conn:
        conn.execute(text("SELECT pg_sleep(0.01)"))
        held = conn.execute(text("SELECT now() = statement_timestamp()")).scalar_one()
    db.dispose()
    assert (fresh, held) == (True, False)


def test_a_single_write_statement_on_postgresql_is_committed_by_itself_before_the_block_ends(empty_postgres):
    from pipeline.store import escalations
    from pipeline.store.migrate import upgrade

    upgrade(empty_postgres)
    db, other = Database(empty_postgres), Database(empty_postgres)
    query = text("SELECT count(*) FROM escalation_numbers WHERE id = :n")
    with db.statement() as conn:
        number = escalations.reserve_number(conn)
        with other.read() as session:
            seen_at_once = session.execute(query, {"n": number}).scalar_one()
    with db.transaction() as conn:
        held = escalations.reserve_number(conn)
        with other.read() as session:
            seen_in_transaction = session.execute(query, {"n": held}).scalar_one()
    db.dispose()
    other.dispose()
    assert (seen_at_once, seen_in_transaction) == (1, 0)


def test_a_workers_pool_keeps_a_connection_for_each_job_thread_and_the_heartbeat(migrated_postgres):
    from tests.support.runners import qmark_env, settings_from
    from workers.bootstrap import build

    env = qmark_env(
        database_url=migrated_postgres, redis_url="redis://127.0.0.1:1/0", outbound_url="maildir:x"
    )
    env.update(QMARK_WORKER__THREADS="8", QMARK_STORAGE__POOL_SIZE="5")
    app = build(settings=settings_from(env))
    try:
        assert app.services.db.engine.pool.size() == 9  # type: ignore[attr-defined]
    finally:
        app.services.db.dispose()
