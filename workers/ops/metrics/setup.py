"""qmark's Prometheus metrics, the public face: how a process takes part and what ``/metrics`` serves.

This module sets up multi-process mode (:func:`use_metrics_dir`, the metrics dir's upkeep),
creates the counters only a process knows (:func:`smtp_counters`) and assembles the registry
``/metrics`` exposes (:func:`registry`). Two kinds of numbers, so the answer is right with any
number of processes and after restarts:

* **State, read at scrape time** from the database and Redis by
  :class:`~workers.ops.metrics.collector.QmarkCollector`: mail stored, outcomes, quarantine reasons,
  mail sent and failed, chases, escalations, the oldest unprocessed message, queue depths,
  heartbeats, IMAP lag and the honest statistics. Nothing is counted in memory, so no process
  has to be up to get them right.
* **Counters only a process knows** (SMTP answers before anything is stored, Dramatiq's job
  metrics) use prometheus_client's multi-process mode: every process writes its own file in
  ``[http] metrics_dir`` (``qmark run`` empties it at start and names it to every child in
  ``PROMETHEUS_MULTIPROC_DIR``), and ``/metrics`` merges the files.

prometheus_client picks multi-process mode when it is *imported*, so no metrics module imports
it at the top: a role calls :func:`use_metrics_dir` first, then creates metrics.

The rest lives apart, re-exported here: the catalogue of families (:mod:`workers.ops.metrics.specs`),
the database queries (:mod:`pipeline.store.metricdata`), their families
(:mod:`workers.ops.metrics.families`) and the scrape (:mod:`workers.ops.metrics.collector`).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.store.db import Database
from workers.ops.metrics.collector import QmarkCollector
from workers.ops.metrics.specs import SPEC_BY_NAME

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter


logger = log.get(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DRAMATIQ_DIR_ENV = "dramatiq_prom_db"  # read by dramatiq.middleware.prometheus at import

# SMTP answers counted by code: temporary failure, unknown recipient, too big (and the rarer
# 421 "too many commands" and 554 answers).
REFUSAL_CODES = ("421", "451", "550", "552", "554")


# Multi-process mode ---------------------------------------------------------------------------


def use_metrics_dir(settings: Settings) -> Path | None:
    """Share this process's counters through ``[http] metrics_dir``: call before anything imports
    prometheus_client. Only a role with a process of its own does (in a thread, e.g. in tests,
    the environment is not ours to change: counters then stay in this process's registry).

    ``qmark run`` already sets the variables for its children; a role run alone sets them here.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    path = Path(os.environ.get(MULTIPROC_ENV) or settings.http.metrics_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    if "prometheus_client" in sys.modules and os.environ.get(MULTIPROC_ENV) != str(path):
        logger.warning("metrics_dir_too_late", hint="prometheus_client was imported before the metrics dir")
    os.environ[MULTIPROC_ENV] = str(path)
    os.environ[DRAMATIQ_DIR_ENV] = str(path)
    return path


def clear_metrics_dir(path: Path) -> None:
    """Empty the metrics dir at ``qmark run`` start: only prometheus_client's ``*.db`` files go."""
    path.mkdir(parents=True, exist_ok=True)
    for file in path.glob("*.db"):
        file.unlink(missing_ok=True)


def process_gone(path: Path, pid: int) -> None:
    """A child died: drop its live gauges (``dramatiq_messages_inprogress``); its counters stay."""
    for file in path.glob(f"gauge_live*_{pid}.db"):
        file.unlink(missing_ok=True)


# Counters kept by a process -------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpCounters:
    received: Counter
    refused: Counter

    def answered(self, status: str) -> None:
        """Count one SMTP answer if it refuses mail."""
        code = status[:3]
        if code in REFUSAL_CODES:
            self.refused.labels(code).inc()


@functools.cache
def smtp_counters() -> SmtpCounters:
    """The SMTP edge's counters, created once per process (after :func:`use_metrics_dir`)."""
    from prometheus_client import Counter

    received, refused = SPEC_BY_NAME["qmark_smtp_received"], SPEC_BY_NAME["qmark_smtp_refused"]
    counters = SmtpCounters(
        received=Counter(received.name, received.help),
        refused=Counter(refused.name, refused.help, refused.labels),
    )
    for code in ("451", "550", "552"):  # present from the start, so increase() sees the first one
        counters.refused.labels(code)
    return counters


# What /metrics exposes ------------------------------------------------------------------------


def registry(
    db: Database, redis_client: Any, *, metrics_dir: Path | None, namespace: str = "qmark"
) -> CollectorRegistry:
    """What ``/metrics`` exposes: the database/Redis collector and the processes' counters."""
    from prometheus_client import CollectorRegistry

    found = CollectorRegistry()
    found.register(QmarkCollector(db, redis_client, metrics_dir=metrics_dir, namespace=namespace))
    return found
