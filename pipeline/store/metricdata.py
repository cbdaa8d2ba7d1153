"""The database's numbers behind qmark's metrics, read in a handful of aggregate queries.

Mail stored and its outcomes, quarantine reasons grouped into a fixed set of classes, mail
sent, failed and waiting, chases, escalations by state and overdue, the oldest unprocessed
message, heartbeats, IMAP polls, the action ledger and complaints that came back after a fix.
Plain numbers and moments only: turning them into Prometheus metric families is
:mod:`workers.ops.metrics.families`' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from pipeline.model.outcomes import OTHER, QUARANTINE_CLASSES
from pipeline.store import actions, escalations, heartbeats, related
from pipeline.store.models import EventRow, ImapMailboxRow, MessageRow, OutboundMailRow

CHASE_EVENTS = ("reminded", "breached", "chased_up")
UNPROCESSED = ("pending", "processing")
SENT = ("sent", "bounced")  # a bounced mail was sent first
FAILED = ("dead", "bounced")
WAITING = ("pending", "sending")


def _text(value: str) -> Any:
    # A literal, not a bound parameter: the CASE must read the same in SELECT and GROUP BY
    # (PostgreSQL compares the expressions, and $1 is not $7). Only our own constants go here.
    assert "'" not in value
    return literal_column(f"'{value}'")


_REASON_CLASS = case(
    *((MessageRow.reason.like(_text(pattern)), _text(name)) for name, pattern in QUARANTINE_CLASSES),
    else_=_text(OTHER),
)


@dataclass(frozen=True)
class MetricData:
    """What the database says at one moment, as the metrics need it."""

    stored_by_channel: dict[str, int]
    outcomes: dict[str, int]  # messages processed, by outcome
    quarantined: dict[str, int]  # by class of reason; every class present
    oldest_unprocessed: datetime | None  # received_at of the oldest message not processed yet
    sent_by_kind: dict[str, int]
    failed: dict[str, int]  # dead and bounced mails; both present
    outbound_pending: int  # mails pending or being sent
    chases: dict[str, int]  # reminded, breached, chased_up events; all present
    escalations_by_state: dict[str, int]
    overdue: int  # escalations past their deadline, clock running
    oldest_overdue_deadline: datetime | None
    heartbeats: dict[str, list[tuple[str, datetime]]]  # per role, (holder, last beat), freshest first
    imap_polls: list[tuple[str, datetime | None]]  # per mailbox key, when it was last polled
    actions_by_state: dict[str, int]  # open, done, dropped; all present
    actions_overdue: int  # open actions past their due time
    recurrences: int = 0  # escalations that came back after an earlier one's fix, ever


def metric_data(session: Session, *, now: datetime) -> MetricData:
    """Every database-backed number the metrics show, in a handful of aggregate queries."""
    by_channel, by_outcome = _messages(session)
    sent_by_kind, failures, pending = _mails(session)
    found = escalations.counts(session, now=now)
    polls = select(ImapMailboxRow.key, ImapMailboxRow.last_poll_at)
    ledger = actions.counts(session, now=now)
    return MetricData(
        stored_by_channel=by_channel,
        outcomes=by_outcome,
        quarantined=_quarantined(session),
        oldest_unprocessed=session.execute(
            select(func.min(MessageRow.received_at)).where(MessageRow.state.in_(UNPROCESSED))
        ).scalar(),
        sent_by_kind=sent_by_kind,
        failed=failures,
        outbound_pending=pending,
        chases=_chases(session),
        escalations_by_state=found["by_state"],
        overdue=found["overdue"],
        oldest_overdue_deadline=found["oldest_overdue_deadline"],
        heartbeats=heartbeats.latest(session),
        imap_polls=[(key, at) for key, at in session.execute(polls)],
        actions_by_state=ledger.by_state,
        actions_overdue=ledger.overdue,
        recurrences=related.recurrence_count(session),
    )


def _messages(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """Messages stored by channel, and processed ones by outcome."""
    by_channel: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    query = select(MessageRow.channel, MessageRow.outcome, func.count()).group_by(
        MessageRow.channel, MessageRow.outcome
    )
    for channel, outcome, number in session.execute(query):
        by_channel[channel] = by_channel.get(channel, 0) + int(number)
        if outcome is not None:
            by_outcome[outcome] = by_outcome.get(outcome, 0) + int(number)
    return by_channel, by_outcome


def _quarantined(session: Session) -> dict[str, int]:
    """Quarantined messages by class of reason; every class present."""
    classes = dict.fromkeys([name for name, _ in QUARANTINE_CLASSES] + [OTHER], 0)
    query = (
        select(_REASON_CLASS, func.count()).where(MessageRow.outcome == "quarantined").group_by(_REASON_CLASS)
    )
    for name, number in session.execute(query):
        classes[name] = classes.get(name, 0) + int(number)
    return classes


def _mails(session: Session) -> tuple[dict[str, int], dict[str, int], int]:
    """Mail sent by kind, failed (dead, bounced) and waiting to be sent."""
    failures = dict.fromkeys(FAILED, 0)
    sent_by_kind: dict[str, int] = {}
    pending = 0
    query = select(OutboundMailRow.kind, OutboundMailRow.state, func.count()).group_by(
        OutboundMailRow.kind, OutboundMailRow.state
    )
    for kind, state, number in session.execute(query):
        if state in SENT:
            sent_by_kind[kind] = sent_by_kind.get(kind, 0) + int(number)
        if state in FAILED:
            failures[state] += int(number)
        if state in WAITING:
            pending += int(number)
    return sent_by_kind, failures, pending


def _chases(session: Session) -> dict[str, int]:
    """Reminders, breaches and climbs up the ladder, as events recorded."""
    chases = dict.fromkeys(CHASE_EVENTS, 0)
    query = select(EventRow.kind, func.count()).where(EventRow.kind.in_(CHASE_EVENTS)).group_by(EventRow.kind)
    for kind, number in session.execute(query):
        chases[kind] = int(number)
    return chases
