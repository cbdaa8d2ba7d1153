"""The scrape: :class:`QmarkCollector` reads every source when Prometheus asks, and never fails.

Sources, in order: the database (:mod:`workers.ops.metrics.families`), Redis's queue depths, the
honest statistics (recomputed at most every :data:`STATS_EVERY` seconds) and the counters the
processes keep, merged over their files in the metrics dir. A source that cannot be read leaves
its metrics out of that scrape and adds one to ``qmark_scrape_errors_total{source}``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import log
from pipeline.store.db import Database
from pipeline.store.metricdata import metric_data
from pipeline.store.stats import honest_stats
from workers.ops.metrics.families import database_families, honest_families
from workers.ops.metrics.specs import family
from workers.ops.queues import queue_depths

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

logger = log.get(__name__)

# Dramatiq's gauge of delayed messages is wrong (+1 on q.DQ, -1 on q; dramatiq issue #672) and
# carries a pid label that grows with every restart: qmark_queue_messages{state="delayed"} says it.
DROPPED = frozenset({"dramatiq_delayed_messages_inprogress"})

STATS_EVERY = 60.0  # seconds: the honest statistics look back 30 days, no need to redo them per scrape

SOURCES = ("database", "redis", "stats", "processes")


def multiprocess_mode() -> bool:
    """Whether this process's metrics go to files in the metrics dir."""
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


class QmarkCollector:
    """A prometheus_client collector: every ``qmark_*`` number, read when Prometheus scrapes."""

    def __init__(
        self,
        db: Database,
        redis_client: Any,
        *,
        metrics_dir: Path | None = None,
        namespace: str = "qmark",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.redis = redis_client
        self.metrics_dir = metrics_dir
        self.namespace = namespace
        self.clock = clock
        self.errors = dict.fromkeys(SOURCES, 0)
        self._lock = threading.Lock()
        self._stats: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        readers: tuple[tuple[str, Callable[[datetime], Iterable[Metric]]], ...] = (
            ("database", self._database),
            ("redis", self._redis),
            ("stats", self._honest),
            ("processes", self._processes),
        )
        for source, read in readers:
            try:
                families = list(read(now))
            except Exception as error:
                with self._lock:
                    self.errors[source] += 1
                problem = f"{type(error).__name__}: {error}"
                logger.warning("metrics_source_failed", source=source, error=problem)
                continue
            yield from families
        errors = family("qmark_scrape_errors")
        with self._lock:
            for source, number in self.errors.items():
                errors.add_metric([source], number)
        yield errors

    # -- sources ----------------------------------------------------------------------------------

    def _database(self, now: datetime) -> list[Metric]:
        with self.db.read() as session:
            data = metric_data(session, now=now)
        return database_families(data, now)

    def _redis(self, now: datetime) -> list[Metric]:
        depths = queue_depths(self.redis, self.namespace)
        queues = family("qmark_queue_messages")
        for queue, states in depths.items():
            for state, number in states.items():
                queues.add_metric([queue, state], number)
        return [queues]

    def _honest(self, now: datetime) -> list[Metric]:
        cached, moment = self._stats, time.monotonic()
        if cached is not None and moment - cached[0] < STATS_EVERY:
            return cached[1]
        with self.db.read() as session:
            found = honest_stats(session, now=now)
        families = honest_families(found)
        self._stats = (moment, families)
        return families

    def _processes(self, now: datetime) -> Iterator[Metric]:
        """Counters the processes keep (SMTP answers, Dramatiq's), merged over their files."""
        from prometheus_client import REGISTRY
        from prometheus_client.multiprocess import MultiProcessCollector

        sources: list[Iterable[Metric]] = []
        if self.metrics_dir is not None and self.metrics_dir.is_dir():
            merged = MultiProcessCollector(None, path=str(self.metrics_dir))  # type: ignore[no-untyped-call]
            sources.append(merged.collect())  # type: ignore[no-untyped-call]
        if not multiprocess_mode():  # roles in threads of this process (tests): their counters
            sources.append(REGISTRY.collect())
        for source in sources:
            for found in source:
                if found.name not in DROPPED:
                    yield found
