"""The engine and the session scope: one place that knows SQLite's quirks.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed message survives
power loss) and every transaction begins ``IMMEDIATE``, so a read that later
writes waits on ``busy_timeout`` instead of failing with "database is locked".
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


def make_engine(url: str, *, immediate: bool = True, durable: bool = True, connections: int = 5) -> Engine:
    """An engine for ``url``; for SQLite also creates the database's folder.

    ``immediate=False`` gives SQLite readers a plain deferred BEGIN: in WAL mode
    they neither wait for nor block the single writer. ``durable=False`` commits
    with ``synchronous=NORMAL``: a power loss may roll back the newest commits
    (never corrupt), which is fine for steps that are simply redone, but not for
    accepting mail.

    ``connections`` is how many connections the pool keeps open (a server database): a
    process with more threads using the database at once should keep one for each, else
    every transaction beyond them opens a new connection (a new PostgreSQL backend
    process) and closes it afterwards. They are opened on first use.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=connections)
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
    power loss takes back a commit. ``connections``: see :func:`make_engine`.
    """

    def __init__(self, url: str, *, durable: bool = True, connections: int = 5) -> None:
        self.url = url
        self.engine = make_engine(url, durable=durable, connections=connections)
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


def ping(db: Database) -> None:
    """Run ``SELECT 1``: raises when the database cannot be read."""
    with db.read() as session:
        session.execute(text("SELECT 1"))
