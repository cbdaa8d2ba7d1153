"""The scheduler process (``qmark scheduler``): every tick, claim due chase timers and run the sweeper."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

from pipeline import log
from workers.bootstrap import App
from workers.heartbeat import Heart
from workers.ticks import chase as chaser
from workers.ticks import digest
from workers.ticks.sweep import sweep

logger = log.get(__name__)


def serve(app: App, *, stop: threading.Event | None = None) -> None:
    """Tick every ``[scheduler] tick`` until SIGTERM; a failing tick is logged and retried next time."""
    settings = app.settings.scheduler
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    older_than = timedelta(seconds=settings.sweep_after)
    heart = Heart(app.services.db, "scheduler")  # beats once per tick: /readyz checks the tick ran
    logger.info("scheduler_started", tick=settings.tick, sweep_after=settings.sweep_after)
    while not stop.is_set():
        try:
            tick = app.pinned()  # one version of the rules for the whole tick, even across a reload
            chaser.tick(tick.services, tick.graph)
            sweep(tick.services, tick.graph, older_than=older_than)
            heart.beat()
            digest.tick(tick)
        except Exception as error:
            logger.error("tick_failed", error=f"{type(error).__name__}: {error}")
        stop.wait(settings.tick)
    logger.info("scheduler_stopped")
