"""What today's digest says: the facts of its period and the honest statistics' lines.

The period runs from the previous digest that went out (when it was claimed, at
most :data:`LOOKBACK` ago), else over the last :data:`DEFAULT_PERIOD`. If the
statistics cannot be computed the digest still goes, saying so, and the error is
logged. The statistics end with the action ledger's honest figure (done by their due
date, open ones past due counted as not done) once there are actions; :func:`overdue_actions`
lists the most overdue ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pipeline import log
from pipeline.model.digest import DigestFacts, root_cause_key
from pipeline.model.ids import action_ref, ref
from pipeline.ops.actions import MAX_OVERDUE, figure_line
from pipeline.outbound.digest import LateAction, OverdueActions
from pipeline.store import actions, digests, reports, stats
from pipeline.store.db import Database
from rules.schema import RcaSection

logger = log.get(__name__)

LOOKBACK = timedelta(days=7)  # the longest period one digest covers
DEFAULT_PERIOD = timedelta(hours=24)
STATS_WINDOW = timedelta(days=30)
NO_STATISTICS = "(the statistics could not be computed; the scheduler's log says why)"


def digest_data(
    db: Database, *, day: str, now: datetime, sections: Sequence[RcaSection]
) -> tuple[DigestFacts, list[str]]:
    """The facts of ``day``'s digest as of ``now``, and the lines of the honest statistics."""
    with db.read() as session:
        previous = digests.last_sent_before(session, day=day)
        since = max(previous, now - LOOKBACK) if previous is not None else now - DEFAULT_PERIOD
        facts = reports.digest_facts(session, now=now, since=since, root_cause_key=root_cause_key(sections))
    return facts, statistics_lines(db, now)


def statistics_lines(db: Database, now: datetime) -> list[str]:
    """The honest statistics over :data:`STATS_WINDOW`, one line each; a line saying why if they fail."""
    try:
        with db.read() as session:
            lines = stats.describe_stats(stats.honest_stats(session, now=now, window=STATS_WINDOW))
            ledger = actions.counts(session, now=now)
            return [*lines, figure_line(ledger)] if any(ledger.by_state.values()) else lines
    except Exception as error:  # the digest still goes; the gap is said and logged
        logger.error("digest_statistics_failed", error=f"{type(error).__name__}: {error}"[:500])
        return [NO_STATISTICS]


def overdue_actions(db: Database, *, now: datetime, limit: int = MAX_OVERDUE) -> OverdueActions:
    """The ``limit`` most overdue actions at ``now``, most overdue first, and how many are overdue."""
    with db.read() as session:
        found = actions.list_all(session, overdue_at=now, limit=limit)
        total = actions.counts(session, now=now).overdue
        items = tuple(
            LateAction(action_ref(row.id), ref(row.escalation_id), row.title, row.owner, row.due_at)
            for row in found
        )
    return OverdueActions(items=items, total=total)
