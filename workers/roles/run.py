"""``qmark run``: every role in one process tree, restarted if one dies, stopped cleanly on SIGTERM.

The children share ``[http] metrics_dir`` for the counters only a process knows (SMTP answers,
Dramatiq's job metrics): it is emptied at start and named to each child in
``PROMETHEUS_MULTIPROC_DIR`` (and ``dramatiq_prom_db``); the ``http`` child merges the files.

SIGHUP is passed on to every child (each reloads its rules, see :mod:`workers.reload`); the
supervisor's pid is in ``[service] pid_file`` while it runs, for ``qmark rules reload``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import log
from pipeline.config.load import load_settings
from workers import reload
from workers.ops.metrics import setup
from workers.roles import pidfile

logger = log.get(__name__)

MAX_RESTARTS_PER_MINUTE = 5
STOP_GRACE_SECONDS = 40.0


@dataclass
class Child:
    """One role's process and its restart history."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    env: dict[str, str] | None = None

    def start(self) -> None:
        # The child starts with SIGHUP blocked (the mask survives exec) until its reloader is
        # installed: a reload forwarded while it starts waits for it instead of killing it.
        with reload.hangups_held():
            self.process = subprocess.Popen(self.argv, env=self.env)
        logger.info("role_started", role=self.name, pid=self.process.pid)


def roles(
    config: str | None, worker_processes: int, smtp_processes: int = 1, imap: bool = False
) -> list[Child]:
    """The children of ``qmark run``: SMTP listeners (sharing the port), the workers, the scheduler,
    the HTTP endpoints and, when ``[imap]`` is configured, the IMAP poller."""
    base = [sys.executable, "-m", "workers.cli"]
    suffix = ["--config", config] if config else []
    children = [Child(f"smtp-{n}", [*base, "smtp", *suffix]) for n in range(1, smtp_processes + 1)]
    children += [Child(f"worker-{n}", [*base, "worker", *suffix]) for n in range(1, worker_processes + 1)]
    children.append(Child("scheduler", [*base, "scheduler", *suffix]))
    children.append(Child("http", [*base, "http", *suffix]))
    if imap:
        children.append(Child("imap", [*base, "imap", *suffix]))
    return children


def run(config: str | None, worker_processes: int, smtp_processes: int = 1, imap: bool = False) -> int:
    """Start every role and watch them until SIGTERM/SIGINT; returns the exit code."""
    stop, hangup = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: hangup.set())
    reload.release_hangups()
    children = roles(config, worker_processes, smtp_processes, imap)
    settings = load_settings(config)
    metrics_dir = Path(settings.http.metrics_dir).resolve()
    pid_file = pidfile.write(Path(settings.service.pid_file))
    setup.clear_metrics_dir(metrics_dir)
    env = {**os.environ, setup.MULTIPROC_ENV: str(metrics_dir), setup.DRAMATIQ_DIR_ENV: str(metrics_dir)}
    for child in children:
        child.env = env
        child.start()
    code = 0
    while not stop.wait(0.5):
        if hangup.is_set():
            hangup.clear()
            forward_hangup(children)
        for child in children:
            assert child.process is not None
            status = child.process.poll()
            if status is None:
                continue
            setup.process_gone(metrics_dir, child.process.pid)
            now = time.monotonic()
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > MAX_RESTARTS_PER_MINUTE:
                logger.error("role_keeps_dying_stopping_all", role=child.name, status=status)
                stop.set()
                code = 1
                break
            logger.error("role_died_restarting", role=child.name, status=status)
            child.start()
    shutdown(children)
    pidfile.remove(pid_file)
    return code


def forward_hangup(children: list[Child]) -> None:
    """SIGHUP to every running child: each reloads its rules, or keeps them and logs why."""
    pids = []
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGHUP)
            pids.append(child.process.pid)
    logger.info("rules_reload_requested", children=len(pids), pids=pids)


def shutdown(children: list[Child]) -> None:
    """SIGTERM every child, wait for graceful exits, SIGKILL what is left after the grace period."""
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.error("role_killed_after_grace", role=child.name)
            child.process.kill()
            child.process.wait()
    logger.info("stopped")
