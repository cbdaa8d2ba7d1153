"""The database's numbers as Prometheus metric families: what one scrape says about stored state.

:func:`database_families` shapes :func:`pipeline.store.metricdata.metric_data` (mail, outcomes,
quarantine, outbound mail, chases, recurrences, escalations, heartbeats, IMAP lag, actions);
:func:`honest_families` shapes the honest statistics (:func:`pipeline.store.stats.honest_stats`).
Reading Redis and the processes' files, and surviving a source that fails, is
:mod:`workers.ops.metrics.collector`'s job.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.model.escalation import State
from pipeline.store import stats
from pipeline.store.metricdata import MetricData
from workers.ops.metrics.specs import family, single

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


def database_families(data: MetricData, now: datetime) -> list[Metric]:
    """Every database-backed metric, from what :func:`~pipeline.store.metricdata.metric_data` read."""

    stored, outcomes = family("qmark_messages_stored"), family("qmark_message_outcomes")
    for channel, number in sorted(data.stored_by_channel.items()):
        stored.add_metric([channel], number)
    for outcome, number in sorted(data.outcomes.items()):
        outcomes.add_metric([outcome], number)

    quarantined = family("qmark_quarantined")
    for name, number in data.quarantined.items():
        quarantined.add_metric([name], number)

    sent, failed = family("qmark_mails_sent"), family("qmark_mails_failed")
    for kind, number in sorted(data.sent_by_kind.items()):
        sent.add_metric([kind], number)
    for state, number in data.failed.items():
        failed.add_metric([state], number)

    by_state = family("qmark_escalations")
    for escalation_state in State:
        by_state.add_metric(
            [escalation_state.value], int(data.escalations_by_state.get(escalation_state.value, 0))
        )

    beats = family("qmark_heartbeat_age_seconds")
    for role, holders in sorted(data.heartbeats.items()):
        beats.add_metric([role], _seconds_since(holders[0][1], now))

    lag = family("qmark_imap_lag_seconds")
    for key, last_poll_at in data.imap_polls:
        if last_poll_at is not None:
            lag.add_metric([key], _seconds_since(last_poll_at, now))

    ledger = family("qmark_actions")
    for state, number in sorted(data.actions_by_state.items()):
        ledger.add_metric([state], number)

    chases = data.chases
    return [
        stored,
        outcomes,
        quarantined,
        sent,
        failed,
        single("qmark_reminders_sent", chases["reminded"]),
        single("qmark_breaches", chases["breached"] + chases["chased_up"]),
        single("qmark_recurrences", data.recurrences),
        by_state,
        single("qmark_escalations_overdue", data.overdue),
        single("qmark_escalation_oldest_overdue_seconds", _seconds_since(data.oldest_overdue_deadline, now)),
        single("qmark_oldest_unprocessed_message_seconds", _seconds_since(data.oldest_unprocessed, now)),
        single("qmark_outbound_pending", data.outbound_pending),
        beats,
        lag,
        ledger,
        single("qmark_actions_overdue", data.actions_overdue),
    ]


def honest_families(found: stats.HonestStats) -> list[Metric]:
    """The honest statistics (``pipeline.store.stats``, last 30 days) as gauges; a quantile not
    reached yet (most still open) and a share with nothing to divide are left out."""
    families: list[Metric] = []
    for name, measure in (
        ("qmark_time_to_explanation_seconds", found.explanation),
        ("qmark_time_to_root_cause_seconds", found.root_cause),
    ):
        gauge = family(name)
        for quantile, value in (("0.5", measure.p50_seconds), ("0.9", measure.p90_seconds)):
            if value is not None:
                gauge.add_metric([quantile], float(value))
        families.append(gauge)
    share = found.explanation.share_within_deadline
    if share is not None:
        families.append(single("qmark_explanation_within_deadline_ratio", float(share)))
    families.append(single("qmark_never_answered", float(found.explanation.never)))
    if found.overdue_share is not None:
        families.append(single("qmark_overdue_ratio", float(found.overdue_share)))
    return families
