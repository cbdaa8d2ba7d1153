"""The nemesis of a soak: at random moments it breaks one thing, then lets it mend.

Kinds (:data:`KINDS`): SIGKILL a worker, the SMTP edge or the scheduler (``qmark run``
starts the role again); SIGKILL Redis and start it with its data (append-only file) or
empty; make the relay sink answer 4xx, 5xx or not at all for a while; hold the database's
write lock for a while. It goes through the kinds in a shuffled order, again and again, so
a short run still meets every kind. Where a process is killed, :meth:`Nemesis.strike` snapshots
what it left half done (:class:`tests.support.history.Stranded`): only those mails may reach
the relay twice. Of a role with several processes it kills the newest (a restarted one gets a
higher pid), so the oldest lives the whole run and shows whether memory grows.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy

from tests.support import procs
from tests.support.history import Stranded
from tests.support.hosts import Host
from tests.support.servers import RedisServer
from tests.support.sink import RelaySink

KINDS = (
    "kill_worker",
    "kill_smtp",
    "kill_scheduler",
    "redis_restart",
    "redis_wipe",
    "relay_4xx",
    "relay_5xx",
    "relay_hang",
    "database_lock",
)


@dataclass
class Nemesis:
    """Breaks ``host``'s run every ``gap`` seconds (a random pause in that range) until stopped."""

    host: Host
    redis: RedisServer
    sink: RelaySink
    database_url: str
    rng: random.Random
    gap: tuple[float, float] = (15.0, 30.0)
    outage: tuple[float, float] = (2.0, 6.0)  # how long a relay or database fault lasts
    injected: Counter[str] = field(default_factory=Counter)
    stranded: list[Stranded] = field(default_factory=list)
    log: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop striking; a fault under way is finished and mended first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)

    def in_flight(self) -> set[str]:
        """Message-IDs of mails being sent at some kill: the only ones allowed at the relay twice."""
        return {mid for snapshot in self.stranded for mid in snapshot.mails}

    def _run(self) -> None:
        order: list[str] = []
        while not self._stop.wait(self.rng.uniform(*self.gap)):
            if not order:
                order = list(KINDS)
                self.rng.shuffle(order)
            self.strike(order.pop())

    def strike(self, kind: str) -> None:
        """Inject one fault of ``kind`` and mend it."""
        self.log.append((time.time(), kind))
        self.injected[kind] += 1
        if kind.startswith("kill_"):
            self._kill(kind.removeprefix("kill_"))
        elif kind.startswith("redis_"):
            self._restart_redis(wiped=kind == "redis_wipe")
        elif kind.startswith("relay_"):
            self._break_relay(kind.removeprefix("relay_"))
        else:
            self._lock_database(self.rng.uniform(*self.outage))

    def _kill(self, role: str) -> None:
        assert self.host.process is not None
        pids = procs.roles(self.host.process.pid).get(role, [])
        if not pids:
            return  # the role is being restarted right now
        with contextlib.suppress(ProcessLookupError):
            os.kill(pids[-1], signal.SIGKILL)  # the newest: the oldest is spared
        self.stranded.append(Stranded.now(self.database_url))

    def _restart_redis(self, *, wiped: bool) -> None:
        self.redis.stop()  # SIGKILL; with appendfsync always, the append-only file has every write
        if wiped:
            shutil.rmtree(self.redis.workdir / "appendonlydir", ignore_errors=True)
            (self.redis.workdir / "dump.rdb").unlink(missing_ok=True)
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.redis.start()

    def _break_relay(self, how: str) -> None:
        if how == "hang":
            self.sink.hang = 40.0  # longer than qmark's SMTP timeout (30 s)
        else:
            self.sink.reply_with = "451 4.3.0 relay busy" if how == "4xx" else "554 5.7.1 relay refuses"
        time.sleep(self.rng.uniform(*self.outage))
        self.sink.reply_with = None
        self.sink.hang = 0.0

    def _lock_database(self, seconds: float) -> None:
        """Hold the write lock ``seconds`` (below SQLite's busy timeout of 10 s and lock_timeout)."""
        if self.database_url.startswith("sqlite"):
            path = self.database_url.split("///", 1)[1]
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                conn.execute("BEGIN EXCLUSIVE")
                time.sleep(seconds)
                conn.execute("ROLLBACK")
            finally:
                conn.close()
            return
        engine = sqlalchemy.create_engine(self.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sqlalchemy.text("LOCK TABLE messages, outbound_mails, escalations IN EXCLUSIVE MODE")
                )
                time.sleep(seconds)
        finally:
            engine.dispose()


def redis_keeping_data(workdir: os.PathLike[str]) -> RedisServer:
    """A Redis whose every write is in its append-only file: a SIGKILL and restart keep the queues."""
    return RedisServer(Path(workdir), args=["--appendonly", "yes", "--appendfsync", "always"])
