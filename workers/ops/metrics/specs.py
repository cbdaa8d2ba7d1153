"""The catalogue of every metric family qmark exports, and empty families made from it.

Each :class:`Spec` names a family, its kind, help text and labels; :data:`METRIC_NAMES` lists
every sample name ``/metrics`` can carry (the alert rules are checked against it). Families are
built from prometheus_client only inside functions: it picks multi-process mode when it is
imported (see :func:`workers.ops.metrics.setup.use_metrics_dir`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric


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
    Spec(
        "qmark_recurrences",
        "counter",
        "Escalations that came back after an earlier one's fix: same route and customer or domain, "
        "every action of the earlier one done.",
    ),
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
    Spec("qmark_actions", "gauge", "Corrective and preventive actions by state.", ("state",)),
    Spec("qmark_actions_overdue", "gauge", "Open actions past their due date."),
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
SPEC_BY_NAME: dict[str, Spec] = {spec.name: spec for spec in SPECS}

#: Every sample name /metrics can carry besides prometheus_client's own process metrics.
METRIC_NAMES: frozenset[str] = frozenset(name for spec in SPECS for name in spec.samples)


def family(name: str) -> Any:
    """An empty family of metric ``name``, to add labelled samples to."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    spec = SPEC_BY_NAME[name]
    kind = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    if spec.labels:
        return kind(spec.name, spec.help, labels=list(spec.labels))
    return kind(spec.name, spec.help)


def single(name: str, value: float) -> Metric:
    """Metric ``name`` (without labels) with its one value."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    spec = SPEC_BY_NAME[name]
    kind = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    found: Metric = kind(spec.name, spec.help, value=value)
    return found
