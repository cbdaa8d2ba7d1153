"""Every qmark process says it is alive: a row per process in ``heartbeats``, renewed every 10 s.

``/readyz``, ``/metrics`` (``qmark_heartbeat_age_seconds``) and ``qmark status`` read them.
The scheduler does not use the thread: it beats once per tick (:meth:`Heart.beat`), so its
beat says the tick ran, not merely that the process exists.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from pipeline import log
from pipeline.store import heartbeats
from pipeline.store.db import Database

logger = log.get(__name__)

INTERVAL = 10.0


def holder_name() -> str:
    """This process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heart:
    """Beats for one role of this process; a failed beat is logged, never raised."""

    def __init__(
        self,
        db: Database,
        role: str,
        *,
        holder: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.role = role
        self.holder = holder or holder_name()
        self.clock = clock
        self.started_at = clock()
        self._failing = False

    def beat(self) -> bool:
        """One beat now; False (and one log line per outage) when the database did not take it."""
        try:
            with self.db.transaction() as conn:
                heartbeats.beat(conn, self.role, self.holder, self.clock(), self.started_at)
        except Exception as error:
            if not self._failing:
                logger.warning("heartbeat_failed", role=self.role, error=f"{type(error).__name__}: {error}")
            self._failing = True
            return False
        self._failing = False
        return True

    def start(self, stop: threading.Event, interval: float = INTERVAL) -> threading.Thread:
        """Beat now and every ``interval`` seconds in a daemon thread until ``stop`` is set."""

        def run() -> None:
            while True:
                self.beat()
                if stop.wait(interval):
                    return

        thread = threading.Thread(target=run, name=f"heartbeat-{self.role}", daemon=True)
        thread.start()
        return thread
