"""A worker process (``qmark worker``): runs the graph's actors until SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading

from dramatiq import Worker

from pipeline import log
from workers.bootstrap import App
from workers.broker import QUEUES
from workers.heartbeat import Heart
from workers.ops.metrics import setup

logger = log.get(__name__)


def serve(app: App, *, stop: threading.Event | None = None) -> None:
    """Consume the process, send and chase queues; on SIGTERM finish running jobs, then exit."""
    settings = app.settings.worker
    if threading.current_thread() is threading.main_thread():  # a worker process of its own
        # A thread holding the database's write lock must not wait 5 ms for the GIL
        # while other job threads compute: switch more often.
        sys.setswitchinterval(0.001)
        # Accepting mail comes first: under a burst the SMTP edge keeps answering
        # quickly and the workers drain the stored backlog right after.
        os.nice(settings.nice)
        add_prometheus(app)
    worker = Worker(
        app.broker,
        queues=set(QUEUES),
        worker_threads=settings.threads,
        # Idle consumers poll Redis with back-off up to this: it bounds pick-up latency.
        worker_timeout=max(10, int(settings.poll_timeout * 1000)),
    )
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    Heart(app.services.db, "worker").start(stop)
    logger.info("worker_started", threads=settings.threads, queues=sorted(QUEUES))
    stop.wait()
    logger.info("worker_stopping")
    worker.stop(timeout=30_000)
    app.broker.close()
    logger.info("worker_stopped")


def add_prometheus(app: App) -> None:
    """Dramatiq's Prometheus middleware, writing to the shared metrics dir so ``qmark http`` serves
    its ``dramatiq_*`` metrics. Without the dramatiq CLI nobody emits ``process_boot``, where the
    middleware creates its metrics (and TimeLimit starts its watchdog): emit it here, once."""
    if getattr(app.broker, "_qmark_booted", False):
        return
    setup.use_metrics_dir(app.settings)  # sets dramatiq_prom_db, read when the module is imported
    from dramatiq.middleware.prometheus import Prometheus

    app.broker.add_middleware(Prometheus())
    app.broker.emit_after("process_boot")
    app.broker._qmark_booted = True  # type: ignore[attr-defined]
