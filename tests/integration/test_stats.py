"""The honest statistics from a migrated database (pipeline/store/stats.py).

The rows are the hand-computed example of tests/unit/test_honest.py (its tables
give S(t) step by step), plus two escalations opened before the window; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, text

from pipeline.store.db import Database
from pipeline.store.migrate import upgrade
from pipeline.store.stats import HonestStats, describe_stats, honest_stats
from pipeline.store.types import UTCDateTime
from tests.unit.test_honest import EXPLANATION_BY_HAND, ROOT_CAUSE_BY_HAND

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)

_TIMES = ("opened", "deadline", "closed", "explained", "root_cause", "paused")
_INSERT = text(
    "insert into escalations (id, state, executive, executive_name, owner, owner_name, route,"
    " deadline, opened_at, closed_at, subject, customer, executive_note, source_message_id, dedupe_key,"
    " explained_at, explanation, writeup, root_cause_at, extended, reopened, clock_business, chase_phase,"
    " chase_slot, paused_at, paused_seconds, explained_in_time, root_cause_in_time)"
    " values (:n, :state, 'e', 'E', 'o', 'O', 'r', :deadline, :opened, :closed, 's', 'c', '?', :n, :key,"
    " :explained, '', '{}', :root_cause, false, 0, false, 1, 0, :paused, 0, :explained_in_time,"
    " :root_cause_in_time)"
).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in _TIMES))


def escalation(
    n: int,
    state: str,
    *,
    age: timedelta,
    deadline: datetime,
    explained: timedelta | None = None,
    explained_in_time: bool | None = None,
    root_cause: timedelta | None = None,
    root_cause_in_time: bool | None = None,
    paused: datetime | None = None,
) -> dict[str, object]:
    """A row opened ``age`` before NOW; ``explained``/``root_cause`` are counted from the opening."""
    opened = NOW - age
    return {
        "n": n,
        "key": f"k{n}",
        "state": state,
        "opened": opened,
        "deadline": deadline,
        "closed": opened + root_cause + H if state == "closed" and root_cause else None,
        "explained": opened + explained if explained is not None else None,
        "explained_in_time": explained_in_time,
        "root_cause": opened + root_cause if root_cause is not None else None,
        "root_cause_in_time": root_cause_in_time,
        "paused": paused,
    }


ROWS = [
    # A-H: the hand-computed example. Explanation deadlines were 4h after opening.
    escalation(1, "closed", age=48 * H, deadline=NOW - 24 * H,
               explained=1 * H, explained_in_time=True, root_cause=6 * H, root_cause_in_time=True),
    escalation(2, "awaiting_approval", age=40 * H, deadline=NOW - 32 * H,
               explained=2 * H, explained_in_time=True, root_cause=10 * H, root_cause_in_time=False),
    escalation(3, "awaiting_root_cause", age=30 * H, deadline=NOW - 1 * H,
               explained=2 * H, explained_in_time=True),
    escalation(4, "awaiting_root_cause", age=20 * H, deadline=NOW + 4 * H,
               explained=5 * H, explained_in_time=False),
    escalation(5, "awaiting_root_cause", age=16 * H, deadline=NOW - 1 * H, paused=NOW - 2 * H,
               explained=8 * H, explained_in_time=False),
    escalation(6, "awaiting_explanation", age=3 * H, deadline=NOW + 1 * H),
    escalation(7, "awaiting_explanation", age=10 * H, deadline=NOW - 6 * H),
    escalation(8, "awaiting_explanation", age=12 * H, deadline=NOW - 8 * H),
    # Opened before the 30-day window: closed, it counts nowhere; still open and overdue, it counts
    # in the live backlog ("overdue now") but not in the times of the window.
    escalation(9, "closed", age=timedelta(days=31), deadline=NOW - timedelta(days=30),
               explained=1 * H, explained_in_time=True, root_cause=2 * H, root_cause_in_time=True),
    escalation(10, "awaiting_explanation", age=timedelta(days=40), deadline=NOW - timedelta(days=39)),
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, database_url):
    """The example stored in a migrated database; on PostgreSQL too (the query must be portable)."""
    url = database_url
    if request.param == "postgresql":
        url = request.getfixturevalue("empty_postgres")
        upgrade(url)
    database = Database(url)
    with database.transaction() as conn:
        for row in ROWS:
            conn.execute(_INSERT, row)
    yield database
    database.dispose()


def test_the_statistics_from_the_database_match_the_hand_computation(db):
    with db.read() as session:
        stats = honest_stats(session, now=NOW)
    assert stats == HonestStats(
        window_days=30,
        opened=8,
        explanation=EXPLANATION_BY_HAND,
        root_cause=ROOT_CAUSE_BY_HAND,
        overdue_now=4,  # 3, 7, 8 and the old 10; 5 is paused
        open_now=8,  # 2-8 and the old 10
    )
    assert stats.overdue_share == 0.5


def test_the_status_lines_state_never_answered_and_overdue_now(db):
    with db.read() as session:
        lines = describe_stats(honest_stats(session, now=NOW))
    assert lines == [
        "last 30 days: 8 escalations opened",
        "time to explanation: p50 5h, p90 not reached yet (5 of 8 answered; 3 never answered, "
        "2 of them overdue now); within deadline 3 of 7 decided (42%)",
        "time to root cause: p50 not reached yet, p90 not reached yet (2 of 8 written up; "
        "6 never written up, 1 of them overdue now); within deadline 1 of 3 decided (33%)",
        "overdue now: 4 of 8 open escalations (50%)",
    ]


def test_a_shorter_window_counts_only_the_escalations_opened_in_it(db):
    with db.read() as session:
        stats = honest_stats(session, now=NOW, window=timedelta(hours=12))
    # F (3h), G (10h) and H (12h, on the edge: opened_at >= now - window) — none answered yet.
    assert (stats.window_days, stats.opened) == (0, 3)
    assert (stats.explanation.never, stats.explanation.overdue_now, stats.explanation.p50_seconds) == (
        3,
        2,
        None,
    )
    assert (stats.open_now, stats.overdue_now) == (8, 4)


def test_an_empty_database_says_so(database_url):
    database = Database(database_url)
    with database.read() as session:
        stats = honest_stats(session, now=NOW)
    database.dispose()
    assert (stats.opened, stats.open_now, stats.overdue_share) == (0, 0, None)
    assert describe_stats(stats) == [
        "last 30 days: 0 escalations opened",
        "time to explanation: no escalations opened in the window",
        "time to root cause: no escalations opened in the window",
        "overdue now: nothing open",
    ]
