"""The action ledger's lines for ops: the honest figure, lateness, and the digest's capped section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.model.digest import DigestFacts
from pipeline.model.mail import Address
from pipeline.ops.actions import figure_line, late, progress_line
from pipeline.outbound.compose import Identity
from pipeline.outbound.digest import LateAction, OverdueActions, render_digest
from pipeline.store.actions import Counts
from tests.support.mailcheck import body_text

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
IDENTITY = Identity(
    from_address=Address("escalations@acme.test", "qmark"),
    reply_local="escalations",
    domain="acme.test",
    secret=b"unit-test-secret-0123456789abcdef",
)


def counts(*, overdue: int, due_so_far: int, done_in_time: int) -> Counts:
    return Counts({"open": overdue, "done": done_in_time, "dropped": 0}, overdue, due_so_far, done_in_time)


def test_the_figure_counts_open_actions_past_due_as_not_done_and_rounds_down():
    assert figure_line(counts(overdue=2, due_so_far=5, done_in_time=3)) == (
        "actions done by their due date: 3 of 5 (60%); 2 overdue now"
    )
    assert figure_line(counts(overdue=1, due_so_far=3, done_in_time=2)).startswith(
        "actions done by their due date: 2 of 3 (66%)"  # not 67: never shown better than it is
    )


def test_the_figure_says_when_nothing_was_due_yet():
    assert figure_line(counts(overdue=0, due_so_far=0, done_in_time=0)) == (
        "actions done by their due date: none due yet; 0 overdue now"
    )


def test_lateness_is_rounded_up_to_the_hour_and_shown_in_days_from_two_days():
    assert late(timedelta(minutes=1)) == "1h late"
    assert late(timedelta(hours=47, minutes=1)) == "2d late"
    assert late(timedelta(hours=30)) == "30h late"
    assert late(timedelta(days=5, hours=15, minutes=10)) == "5d 16h late"


def test_progress_does_not_count_dropped_actions():
    assert progress_line(1, 2) == "1 of 2 done"


def test_the_digest_s_action_section_is_capped_with_how_many_more_and_absent_when_not_given():
    facts = DigestFacts(now=NOW, since=NOW - timedelta(hours=24))
    items = tuple(
        LateAction(
            f"A-{n}", "Q-1", f"Action {n}\nwith a second line", "pat@acme.test", NOW - timedelta(hours=n)
        )
        for n in (3, 2)
    )
    args = {
        "stats_lines": [],
        "identity": IDENTITY,
        "recipient": Address("ops@acme.test"),
        "day": "2026-12-08",
    }
    body = body_text(render_digest(facts, actions=OverdueActions(items, total=12), **args))  # type: ignore[arg-type]
    section = body.split("Actions overdue: 12\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        "- A-3  3h late  pat@acme.test (Q-1): Action 3 with a second line",
        "- A-2  2h late  pat@acme.test (Q-1): Action 2 with a second line",
        "- and 10 more",
    ]
    assert "Actions overdue: 0\n- none" in body_text(render_digest(facts, actions=OverdueActions(), **args))  # type: ignore[arg-type]
    assert "Actions overdue" not in body_text(render_digest(facts, **args))  # type: ignore[arg-type]
