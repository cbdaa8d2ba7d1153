"""Reload the rules of a running role on SIGHUP: validate the whole directory, then swap, or keep the old.

The directory is loaded anew into a new :class:`~rules.schema.Rules`; only when all of it loads is
it made live (:meth:`workers.bootstrap.App.use_rules`), so nothing is ever half-applied. A job
takes ``app.services`` once when it starts: it finishes with the rules it began with. The log
says ``rules_reloaded`` with the new version, or ``rules_reload_failed`` with file, line and fix.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pipeline import log
from rules.errors import RulesError
from rules.loader import load_rules
from workers.bootstrap import App

logger = log.get(__name__)


class Reloader:
    """Reloads one process's rules; reloads never overlap."""

    def __init__(self, app: App, role: str) -> None:
        self.app = app
        self.role = role
        self._lock = threading.Lock()

    def reload(self) -> bool:
        """Load the configured rules directory; True when the new rules are live, False (old kept) if not."""
        with self._lock:
            path = self.app.settings.rules.path
            old = self.app.services.rules.version
            try:
                rules = load_rules(path)
            except Exception as error:  # a bad file, or an unreadable directory: the role lives on
                problem = (
                    error
                    if isinstance(error, RulesError)
                    else RulesError(
                        str(path), None, f"{type(error).__name__}: {error}", "run qmark rules check"
                    )
                )
                logger.error(
                    "rules_reload_failed",
                    role=self.role,
                    file=problem.file,
                    line=problem.line,
                    problem=problem.message,
                    fix=problem.fix,
                    kept_version=old,
                )
                return False
            self.app.use_rules(rules)
            logger.info("rules_reloaded", role=self.role, version=rules.version, previous_version=old)
            return True

    def install(self) -> None:
        """Reload on SIGHUP, in a thread of its own (a signal handler must not do file I/O or log),
        then take the SIGHUP held since start-up, if one came."""
        if threading.current_thread() is not threading.main_thread():
            return  # a role running in a test's thread: the test calls reload() itself
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload, daemon=True).start())
        release_hangups()


def hold_hangups() -> None:
    """Block SIGHUP in this thread: one that comes before the reloader is installed waits (its default
    would end the process). Children started meanwhile inherit the block."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})


def release_hangups() -> None:
    """Unblock SIGHUP: a held one is delivered now, to the handler just installed."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})


@contextmanager
def hangups_held() -> Iterator[None]:
    """SIGHUP blocked for the duration (e.g. while starting a child, which keeps the block)."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
