"""Readiness: whether this qmark can do its work now, one line per problem naming what to do.

The same checks answer ``GET /readyz`` and make ``qmark status`` say ``failing``: the
database answers, Redis answers PING, the scheduler ticked lately and (when
``[imap] url`` is set) the IMAP folder was polled lately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.store import heartbeats, mailboxes
from pipeline.store.db import ping
from workers.bootstrap import App
from workers.imap_folder import Folder

IMAP_MIN_LAG = 180.0  # seconds: IDLE re-polls every 60 s, so less would flap


def _first_line(error: BaseException, limit: int = 200) -> str:
    words = str(getattr(error, "orig", None) or error).strip().splitlines()
    line = words[0] if words else ""
    line = f"{type(error).__name__}: {line}" if line else type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _ago(seconds: float) -> str:
    return f"{round(seconds)} s ago"


@dataclass
class Health:
    """The readiness checks of one qmark: its app and a Redis client with short timeouts."""

    app: App
    redis_client: Any
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def problems(self) -> list[str]:
        """One line per failing readiness check; empty when ready."""
        now = self.clock()
        found: list[str] = []
        database_ok = True
        try:
            ping(self.app.services.db)
        except Exception as error:
            database_ok = False
            found.append(
                f"database: cannot read it ({_first_line(error)}): is the database up, "
                "and is [storage] database_url right?"
            )
        try:
            self.redis_client.ping()
        except Exception as error:
            found.append(
                f"redis: no answer to PING ({_first_line(error)}): start Redis or fix [storage] redis_url; "
                "mail is still stored, and the sweeper queues it once Redis is back"
            )
        if database_ok:
            try:
                found += self._scheduler(now) + self._imap(now)
            except Exception as error:
                found.append(f"database: cannot read heartbeats ({_first_line(error)}): is it migrated?")
        return found

    def _scheduler(self, now: datetime) -> list[str]:
        tick = self.app.settings.scheduler.tick
        with self.app.services.db.read() as session:
            beats = heartbeats.latest(session).get("scheduler", [])
        if not beats:
            return ["scheduler stalled: no tick recorded; is `qmark scheduler` (or `qmark run`) running?"]
        age = (now - beats[0][1]).total_seconds()
        if age <= 3 * tick:
            return []
        return [
            f"scheduler stalled: last tick {_ago(age)} (ticks every {tick:g} s); "
            "is `qmark scheduler` (or `qmark run`) running? Its log says why a tick fails"
        ]

    def _imap(self, now: datetime) -> list[str]:
        settings = self.app.settings.imap
        if settings.url is None:
            return []
        key = Folder.from_settings(self.app.settings).key
        limit = max(3 * settings.poll_interval, IMAP_MIN_LAG)
        with self.app.services.db.read() as session:
            box = next((b for b in mailboxes.list_all(session) if b.key == key), None)
        if box is None or box.last_poll_at is None:
            error = f" (last error: {box.last_error})" if box is not None and box.last_error else ""
            return [f"imap {key}: never polled{error}; is `qmark imap` (or `qmark run`) running?"]
        age = (now - box.last_poll_at).total_seconds()
        if age <= limit:
            return []
        error = f"last error: {box.last_error}" if box.last_error else "no error recorded"
        return [
            f"imap {key}: last polled {_ago(age)} (limit {limit:g} s), {error}; "
            "is `qmark imap` (or `qmark run`) running, and can it log in with [imap] url/username/password?"
        ]
