"""qmark's Prometheus metrics: what ``/metrics`` says and where each number comes from.

Two kinds of numbers, so the answer is right with any number of processes and after restarts:

* **State, read at scrape time** from the database and Redis by :class:`QmarkCollector`:
  mail stored, outcomes, quarantine reasons, mail sent and failed, chases, escalations, the
  oldest unprocessed message, queue depths, heartbeats, IMAP lag and the honest statistics.
  Nothing is counted in memory, so no process has to be up to get them right.
* **Counters only a process knows** (SMTP answers before anything is stored, Dramatiq's job
  metrics) use prometheus_client's multi-process mode: every process writes its own file in
  ``[http] metrics_dir`` (``qmark run`` empties it at start and names it to every child in
  ``PROMETHEUS_MULTIPROC_DIR``), and ``/metrics`` merges the files.

prometheus_client picks multi-process mode when it is *imported*, so this module imports it
only inside functions: a role calls :func:`use_metrics_dir` first, then creates metrics.

A source that cannot be read (Redis down, a database error) leaves its metrics out of that
scrape and adds one to ``qmark_scrape_errors_total{source}``; the scrape itself never fails.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from pipeline import log
from pipeline.config import Settings
from pipeline.escalation import State
from pipeline.store import escalations, heartbeats, stats
from pipeline.store.db import Database
from pipeline.store.models import Event, ImapMailbox, Message, OutboundMail
from workers.queues import queue_depths

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter
    from prometheus_client.metrics_core import Metric

logger = log.get(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DRAMATIQ_DIR_ENV = "dramatiq_prom_db"  # read by dramatiq.middleware.prometheus at import

# SMTP answers counted by code: temporary failure, unknown recipient, too big (and the rarer
# 421 "too many commands" and 554 answers).
REFUSAL_CODES = ("421", "451", "550", "552", "554")

# Quarantine reasons, grouped into a fixed set (a bounded label) by how the reason text starts.
QUARANTINE_CLASSES: tuple[tuple[str, str], ...] = (
    ("unparseable", "unparseable:%"),
    ("possible_spoof", "possible spoof:%"),
    ("reply_forged_token", "the reply token is not genuine%"),
    ("reply_stranger", "% takes no part in %"),
    ("processing_failed", "processing failed %"),
)
OTHER = "other"

# Dramatiq's gauge of delayed messages is wrong (+1 on q.DQ, -1 on q; dramatiq issue #672) and
# carries a pid label that grows with every restart: qmark_queue_messages{state="delayed"} says it.
DROPPED = frozenset({"dramatiq_delayed_messages_inprogress"})

STATS_EVERY = 60.0  # seconds: the honest statistics look back 30 days, no need to redo them per scrape


@dataclass(frozen=True)
class Spec:
    """One metric family qmark exports."""

    name: str  # the family name; a counter's samples end in _total
    kind: str  # counter | gauge | histogram
    help: str
    labels: tuple[str, ...] = ()

    @property
    def samples(self) -> tuple[str, ...]:
        if self.kind == "counter":
            return (f"{self.name}_total",)
        if self.kind == "histogram":
            return tuple(f"{self.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        return (self.name,)


SPECS: tuple[Spec, ...] = (
    # From the database
    Spec("qmark_messages_stored", "counter", "Messages accepted and stored, by channel.", ("channel",)),
    Spec(
        "qmark_message_outcomes",
        "counter",
        "Messages processed, by outcome (escalation, reply, machine, ignored, duplicate, quarantined).",
        ("outcome",),
    ),
    Spec("qmark_quarantined", "counter", "Messages quarantined, by class of reason.", ("reason",)),
    Spec("qmark_mails_sent", "counter", "Mails qmark sent (the relay accepted them), by kind.", ("kind",)),
    Spec(
        "qmark_mails_failed",
        "counter",
        "Mails that did not reach their recipient: dead (qmark gave up) or bounced.",
        ("state",),
    ),
    Spec("qmark_reminders_sent", "counter", "Reminders to owners before a deadline."),
    Spec("qmark_breaches", "counter", "Deadline breaches and chases up the ladder."),
    Spec("qmark_escalations", "gauge", "Escalations by state.", ("state",)),
    Spec("qmark_escalations_overdue", "gauge", "Escalations past their deadline, clock running."),
    Spec(
        "qmark_escalation_oldest_overdue_seconds",
        "gauge",
        "How long the most overdue escalation is past its deadline (0 when none is).",
    ),
    Spec(
        "qmark_oldest_unprocessed_message_seconds",
        "gauge",
        "Age of the oldest stored message not processed yet (0 when none waits).",
    ),
    Spec("qmark_outbound_pending", "gauge", "Mails waiting to be sent (pending or being sent)."),
    Spec(
        "qmark_heartbeat_age_seconds",
        "gauge",
        "Seconds since the freshest heartbeat of any process of the role (the scheduler: its last tick).",
        ("role",),
    ),
    Spec("qmark_imap_lag_seconds", "gauge", "Seconds since the IMAP folder was last polled.", ("mailbox",)),
    # From Redis
    Spec(
        "qmark_queue_messages",
        "gauge",
        "Jobs per Dramatiq queue: ready, delayed (retry back-off) and dead (dead letters).",
        ("queue", "state"),
    ),
    # The honest statistics (pipeline.store.stats), last 30 days, open items counted at their age
    Spec(
        "qmark_time_to_explanation_seconds",
        "gauge",
        "Time from opening to the owner's explanation (open ones at their current age), by quantile.",
        ("quantile",),
    ),
    Spec(
        "qmark_time_to_root_cause_seconds",
        "gauge",
        "Time from opening to a complete root cause (open ones at their current age), by quantile.",
        ("quantile",),
    ),
    Spec(
        "qmark_explanation_within_deadline_ratio",
        "gauge",
        "Share of escalations explained by their deadline (a missing one past it counts as missed).",
    ),
    Spec(
        "qmark_never_answered",
        "gauge",
        "Escalations opened in the last 30 days still without the owner's explanation.",
    ),
    Spec("qmark_overdue_ratio", "gauge", "Share of open escalations overdue now."),
    # About the scrape itself
    Spec(
        "qmark_scrape_errors",
        "counter",
        "Sources /metrics could not read (their metrics were left out of that scrape).",
        ("source",),
    ),
    # Kept by the processes themselves (multi-process files)
    Spec("qmark_smtp_received", "counter", "Messages received over SMTP (DATA complete)."),
    Spec("qmark_smtp_refused", "counter", "SMTP answers refusing mail, by code.", ("code",)),
    # Dramatiq's Prometheus middleware, in every worker process
    Spec("dramatiq_messages", "counter", "Jobs processed.", ("queue_name", "actor_name")),
    Spec("dramatiq_message_errors", "counter", "Jobs that raised.", ("queue_name", "actor_name")),
    Spec("dramatiq_message_retries", "counter", "Jobs retried.", ("queue_name", "actor_name")),
    Spec("dramatiq_message_rejects", "counter", "Jobs dead-lettered.", ("queue_name", "actor_name")),
    Spec("dramatiq_messages_inprogress", "gauge", "Jobs running now.", ("queue_name", "actor_name")),
    Spec(
        "dramatiq_message_duration_milliseconds",
        "histogram",
        "Time spent per job.",
        ("queue_name", "actor_name"),
    ),
)
_SPEC = {spec.name: spec for spec in SPECS}

#: Every sample name /metrics can carry besides prometheus_client's own process metrics.
METRIC_NAMES: frozenset[str] = frozenset(name for spec in SPECS for name in spec.samples)

SOURCES = ("database", "redis", "stats", "processes")


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


def multiprocess_mode() -> bool:
    """Whether this process's metrics go to files in the metrics dir."""
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


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

    received, refused = _SPEC["qmark_smtp_received"], _SPEC["qmark_smtp_refused"]
    counters = SmtpCounters(
        received=Counter(received.name, received.help),
        refused=Counter(refused.name, refused.help, refused.labels),
    )
    for code in ("451", "550", "552"):  # present from the start, so increase() sees the first one
        counters.refused.labels(code)
    return counters


# The scrape -----------------------------------------------------------------------------------


def classify_reason(reason: str | None) -> str:
    """The quarantine class of a reason text (the same rule the SQL below applies)."""
    from fnmatch import fnmatchcase

    for name, pattern in QUARANTINE_CLASSES:
        if reason is not None and fnmatchcase(reason, pattern.replace("%", "*")):
            return name
    return OTHER


def _text(value: str) -> Any:
    # A literal, not a bound parameter: the CASE must read the same in SELECT and GROUP BY
    # (PostgreSQL compares the expressions, and $1 is not $7). Only our own constants go here.
    assert "'" not in value
    return literal_column(f"'{value}'")


_REASON_CLASS = case(
    *((Message.reason.like(_text(pattern)), _text(name)) for name, pattern in QUARANTINE_CLASSES),
    else_=_text(OTHER),
)
_CHASE_EVENTS = ("reminded", "breached", "chased_up")
_UNPROCESSED = ("pending", "processing")
_SENT = ("sent", "bounced")  # a bounced mail was sent first
_FAILED = ("dead", "bounced")


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


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
        errors = _family("qmark_scrape_errors")
        with self._lock:
            for source, number in self.errors.items():
                errors.add_metric([source], number)
        yield errors

    # -- sources ----------------------------------------------------------------------------------

    def _database(self, now: datetime) -> list[Metric]:
        with self.db.read() as session:
            return database_families(session, now)

    def _redis(self, now: datetime) -> list[Metric]:
        depths = queue_depths(self.redis, self.namespace)
        family = _family("qmark_queue_messages")
        for queue, states in depths.items():
            for state, number in states.items():
                family.add_metric([queue, state], number)
        return [family]

    def _honest(self, now: datetime) -> list[Metric]:
        cached, moment = self._stats, time.monotonic()
        if cached is not None and moment - cached[0] < STATS_EVERY:
            return cached[1]
        with self.db.read() as session:
            families = honest_families(session, now)
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
            for family in source:
                if family.name not in DROPPED:
                    yield family


def _family(name: str) -> Any:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    spec = _SPEC[name]
    kind = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    if spec.labels:
        return kind(spec.name, spec.help, labels=list(spec.labels))
    return kind(spec.name, spec.help)


def _single(name: str, value: float) -> Metric:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    spec = _SPEC[name]
    kind = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    family: Metric = kind(spec.name, spec.help, value=value)
    return family


def database_families(session: Session, now: datetime) -> list[Metric]:
    """Every database-backed metric, in a handful of aggregate queries."""
    stored, outcomes = _family("qmark_messages_stored"), _family("qmark_message_outcomes")
    by_channel: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    messages = select(Message.channel, Message.outcome, func.count()).group_by(
        Message.channel, Message.outcome
    )
    for channel, outcome, number in session.execute(messages):
        by_channel[channel] = by_channel.get(channel, 0) + int(number)
        if outcome is not None:
            by_outcome[outcome] = by_outcome.get(outcome, 0) + int(number)
    for channel, number in sorted(by_channel.items()):
        stored.add_metric([channel], number)
    for outcome, number in sorted(by_outcome.items()):
        outcomes.add_metric([outcome], number)

    quarantined = _family("qmark_quarantined")
    classes = dict.fromkeys([name for name, _ in QUARANTINE_CLASSES] + [OTHER], 0)
    reasons = (
        select(_REASON_CLASS, func.count()).where(Message.outcome == "quarantined").group_by(_REASON_CLASS)
    )
    for name, number in session.execute(reasons):
        classes[name] = classes.get(name, 0) + int(number)
    for name, number in classes.items():
        quarantined.add_metric([name], number)

    oldest_unprocessed = session.execute(
        select(func.min(Message.received_at)).where(Message.state.in_(_UNPROCESSED))
    ).scalar()

    sent, failed = _family("qmark_mails_sent"), _family("qmark_mails_failed")
    failures = dict.fromkeys(_FAILED, 0)
    sent_by_kind: dict[str, int] = {}
    pending = 0
    mails = select(OutboundMail.kind, OutboundMail.state, func.count()).group_by(
        OutboundMail.kind, OutboundMail.state
    )
    for kind, state, number in session.execute(mails):
        if state in _SENT:
            sent_by_kind[kind] = sent_by_kind.get(kind, 0) + int(number)
        if state in _FAILED:
            failures[state] += int(number)
        if state in ("pending", "sending"):
            pending += int(number)
    for kind, number in sorted(sent_by_kind.items()):
        sent.add_metric([kind], number)
    for state, number in failures.items():
        failed.add_metric([state], number)

    chases = dict.fromkeys(_CHASE_EVENTS, 0)
    events = select(Event.kind, func.count()).where(Event.kind.in_(_CHASE_EVENTS)).group_by(Event.kind)
    for kind, number in session.execute(events):
        chases[kind] = int(number)

    found = escalations.counts(session, now=now)
    by_state = _family("qmark_escalations")
    for state in State:
        by_state.add_metric([state.value], int(found["by_state"].get(state.value, 0)))

    beats = _family("qmark_heartbeat_age_seconds")
    for role, holders in sorted(heartbeats.latest(session).items()):
        beats.add_metric([role], _seconds_since(holders[0][1], now))

    lag = _family("qmark_imap_lag_seconds")
    for key, last_poll_at in session.execute(select(ImapMailbox.key, ImapMailbox.last_poll_at)):
        if last_poll_at is not None:
            lag.add_metric([key], _seconds_since(last_poll_at, now))

    return [
        stored,
        outcomes,
        quarantined,
        sent,
        failed,
        _single("qmark_reminders_sent", chases["reminded"]),
        _single("qmark_breaches", chases["breached"] + chases["chased_up"]),
        by_state,
        _single("qmark_escalations_overdue", found["overdue"]),
        _single(
            "qmark_escalation_oldest_overdue_seconds", _seconds_since(found["oldest_overdue_deadline"], now)
        ),
        _single("qmark_oldest_unprocessed_message_seconds", _seconds_since(oldest_unprocessed, now)),
        _single("qmark_outbound_pending", pending),
        beats,
        lag,
    ]


def honest_families(session: Session, now: datetime) -> list[Metric]:
    """The honest statistics (``pipeline.store.stats``, last 30 days) as gauges; a quantile not
    reached yet (most still open) and a share with nothing to divide are left out."""
    found = stats.honest_stats(session, now=now)
    families: list[Metric] = []
    for name, measure in (
        ("qmark_time_to_explanation_seconds", found.explanation),
        ("qmark_time_to_root_cause_seconds", found.root_cause),
    ):
        family = _family(name)
        for quantile, value in (("0.5", measure.p50_seconds), ("0.9", measure.p90_seconds)):
            if value is not None:
                family.add_metric([quantile], float(value))
        families.append(family)
    share = found.explanation.share_within_deadline
    if share is not None:
        families.append(_single("qmark_explanation_within_deadline_ratio", float(share)))
    families.append(_single("qmark_never_answered", float(found.explanation.never)))
    if found.overdue_share is not None:
        families.append(_single("qmark_overdue_ratio", float(found.overdue_share)))
    return families


def registry(
    db: Database, redis_client: Any, *, metrics_dir: Path | None, namespace: str = "qmark"
) -> CollectorRegistry:
    """What ``/metrics`` exposes: the database/Redis collector and the processes' counters."""
    from prometheus_client import CollectorRegistry

    found = CollectorRegistry()
    found.register(QmarkCollector(db, redis_client, metrics_dir=metrics_dir, namespace=namespace))
    return found
