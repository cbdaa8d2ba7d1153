"""The engine and the session scope: one place that knows each store's quirks.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed message survives
power loss) and every transaction begins ``IMMEDIATE``, so a read that later
writes waits on ``busy_timeout`` instead of failing with "database is locked".

PostgreSQL gets a bounded pool per process (``[storage] pool_*``), a ping before a
pooled connection is reused (a server restart or a dropped connection costs one
reconnect, not a failed step), and server-side limits on every session: a statement,
a lock wait or an idle open transaction that runs over is ended by the server and its
transaction rolled back. A connection lost mid-transaction likewise rolls back on the
server; the caller sees an error, the job is retried or swept and redone, and
since every step is safe twice nothing is half-applied or applied twice.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from pipeline.config.settings import StorageSettings


def _sqlite_pragmas(dbapi_connection: Any, synchronous: str) -> None:
    # Take transaction control from pysqlite so BEGIN IMMEDIATE can be emitted below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _server_engine(url: str, tuning: StorageSettings) -> Engine:
    """A PostgreSQL engine: the pool and the per-session timeouts of ``[storage]``."""

    def ms(seconds: float) -> int:
        return max(1, round(seconds * 1000))

    options = (
        f"-c statement_timeout={ms(tuning.statement_timeout)} -c lock_timeout={ms(tuning.lock_timeout)}"
        f" -c idle_in_transaction_session_timeout={ms(tuning.idle_in_transaction_timeout)}"
    )
    engine = create_engine(
        url,
        # A round trip before each checkout, but a connection the server closed a moment ago
        # (a restart, pg_terminate_backend) is caught for certain; a look at the socket was
        # tried and raced the server's goodbye, and gained nothing measurable (bench/README).
        pool_pre_ping=True,
        pool_size=tuning.pool_size,
        max_overflow=tuning.pool_overflow,
        pool_timeout=tuning.pool_timeout,
        connect_args={
            "connect_timeout": max(1, round(tuning.connect_timeout)),
            "options": options,
            # A peer that vanished without closing (a host or network gone) is noticed in a minute.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )
    return engine


def make_engine(
    url: str, *, immediate: bool = True, durable: bool = True, tuning: StorageSettings | None = None
) -> Engine:
    """An engine for ``url``; for SQLite also creates the database's folder.

    ``immediate=False`` gives SQLite readers a plain deferred BEGIN: in WAL mode
    they neither wait for nor block the single writer. ``durable=False`` commits
    with ``synchronous=NORMAL``: a power loss may roll back the newest commits
    (never corrupt), which is fine for steps that are simply redone, but not for
    accepting mail. ``tuning`` sets PostgreSQL's pool and timeouts (defaults when None).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _server_engine(url, tuning or StorageSettings())
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False})
    synchronous = "FULL" if durable else "NORMAL"
    event.listen(engine, "connect", lambda connection, _: _sqlite_pragmas(connection, synchronous))
    event.listen(engine, "begin", _sqlite_begin if immediate else _sqlite_begin_deferred)
    return engine


class WriterQueue:
    """Queue SQLite writers of every qmark process on one file lock.

    SQLite lets one writer in at a time and makes the others poll with sleeps of
    up to 100 ms; under load that leaves the CPU idle and the tail slow. A
    blocking ``flock`` hands the lock over the moment it is released. Threads of
    one process queue on a mutex first, so each process holds one flock at most.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mutex = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._mutex.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


class Database:
    """An engine; ``transaction()`` is the only way to write, ``read()`` gives ORM sessions to read.

    ``durable`` (the default) makes every commit survive power loss: the SMTP
    edge and ``qmark inject`` need it before they answer. Workers use
    ``durable=False`` on SQLite: their steps are idempotent and are redone if a
    power loss takes back a commit. ``tuning``: see :func:`make_engine`.
    """

    def __init__(self, url: str, *, durable: bool = True, tuning: StorageSettings | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, durable=durable, tuning=tuning)
        is_sqlite = self.engine.dialect.name == "sqlite"
        # PostgreSQL reads in autocommit: under its READ COMMITTED every statement takes its own
        # snapshot inside a transaction too, so a read-only BEGIN ... COMMIT would only add two
        # round trips.
        autocommit = None if is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._autocommit = autocommit
        self._reader = autocommit or make_engine(url, immediate=False)
        self._read_sessions = sessionmaker(self._reader, expire_on_commit=False)
        database = make_url(url).database
        on_disk = is_sqlite and database not in (None, "", ":memory:")
        self._writers = WriterQueue(Path(f"{database}.writelock")) if on_disk else None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (SQLAlchemy Core): committed on success, rolled back on error."""
        with self._writers or nullcontext(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def statement(self) -> Iterator[Connection]:
        """For exactly one write statement (a claim, a number): committed on its own.

        On PostgreSQL it runs in autocommit, a transaction by itself: one round trip instead of
        BEGIN, the statement and COMMIT, with the same durability. On SQLite it is a
        :meth:`transaction`. A second statement would not be atomic with the first: use
        :meth:`transaction` for that.
        """
        if self._autocommit is None:
            with self.transaction() as connection:
                yield connection
        else:
            with self._autocommit.connect() as connection:
                yield connection

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only; on SQLite it does not take the write lock, on PostgreSQL it
        sends no BEGIN and COMMIT (each statement sees what was committed when it started)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self._reader.dispose()


def open_database(storage: StorageSettings, *, durable: bool = True) -> Database:
    """The database of ``[storage]``, with its pool and timeouts."""
    return Database(storage.database_url, durable=durable, tuning=storage)


def ping(db: Database) -> None:
    """Run ``SELECT 1``: raises when the database cannot be read."""
    with db.read() as session:
        session.execute(text("SELECT 1"))
