"""Shared fixtures: real Redis, Dovecot and PostgreSQL, a migrated database on each store, the relay sink."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from tests.support.dovecot import DovecotServer, ImapMailbox
from tests.support.runners import qmark_env
from tests.support.sentinel import SentinelSetup
from tests.support.servers import PostgresServer, RedisServer

if TYPE_CHECKING:  # a plugin (below): importing it at run time would skip its assert rewriting
    from tests.support.sink import RelaySink

ROOT = Path(__file__).resolve().parent.parent
MAIL = ROOT / "tests" / "mail"
CORPORA = ROOT.parent / "shared" / "corpora"
ACME = ROOT / "rules" / "examples" / "acme"

pytest_plugins = ["tests.support.sink"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A running, empty Redis (restarted if a previous test stopped it)."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def redis_sentinel(tmp_path: Path) -> Iterator[SentinelSetup]:
    """A Redis master, its replica and two sentinels watching service "qmark"; ``.url`` for qmark."""
    setup = SentinelSetup(tmp_path / "sentinel")
    try:
        setup.start()
        yield setup
    finally:
        setup.stop()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the session (users alice/bob, password "secret"); see tests/support/dovecot.py."""
    # Not under pytest's tmp_path: that is private to root, and dovecot's processes run unprivileged.
    directory = Path(tempfile.mkdtemp(prefix="qmark-dovecot-"))
    try:
        server = DovecotServer(directory)
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def imap_mailbox(dovecot: DovecotServer) -> ImapMailbox:
    """A user of its own for this test, never used before: an empty INBOX with a new UIDVALIDITY."""
    if not dovecot.running:  # a previous test stopped it
        dovecot.start()
    return ImapMailbox.fresh(dovecot)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL for the session; a test takes it through :func:`empty_postgres`."""
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def empty_postgres(postgres: PostgresServer) -> str:
    """The session's PostgreSQL with an empty ``public`` schema (no tables, no migrations): its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres.url)
    with engine.begin() as connection:
        connection.execute(text("drop schema public cascade; create schema public"))
    engine.dispose()
    return postgres.url


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresServer) -> str:
    """A database migrated to head once per session, which each test's database is copied from."""
    from pipeline.store.migrate import upgrade

    _admin(postgres, "create database qmark_template")
    url = postgres.database_url("qmark_template")
    upgrade(url)
    return "qmark_template"


def _admin(postgres: PostgresServer, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE refuse to run inside one)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


_copies = itertools.count(1)


@pytest.fixture
def migrated_postgres(postgres: PostgresServer, postgres_template: str) -> Iterator[str]:
    """A database of its own for this test, migrated to head (a copy of the session's template)."""
    name = f"qmark_test_{next(_copies)}"
    _admin(postgres, f"create database {name} template {postgres_template}")
    yield postgres.database_url(name)
    _admin(postgres, f"drop database {name} with (force)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database in the test's directory: for tests of SQLite's own behaviour."""
    from pipeline.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'qmark.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of record: every test that takes it runs once on each store."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("migrated_postgres"))


@pytest.fixture
def run_env(database_url: str, redis_url: str, relay_sink: RelaySink) -> dict[str, str]:
    """QMARK_* variables for one `qmark run` (one worker process) on ``database_url``, sending to the sink."""
    return qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_WORKER__PROCESSES="1",
    )


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.is_dir():
        if os.environ.get("CI"):
            raise AssertionError(f"the shared corpora are missing at {CORPORA}")
        pytest.skip("shared corpora not present beside the checkout")
    return CORPORA


def mail_fixture(name: str) -> bytes:
    """The bytes of tests/mail/<name>."""
    return (MAIL / name).read_bytes()
