"""An action's chase: a reminder before the due date, the breach at the end of the owner's day, the climb."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.decide import action_plan
from pipeline.model.action import Action
from pipeline.model.due_dates import local_date, overdue_at, working_days_before
from rules.loader import load_rules

RULES = load_rules(Path(__file__).resolve().parents[2] / "rules" / "examples" / "acme")
PAT = "pat.owner@acme.test"
CLOSED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday


def action(owner: str = PAT, due: date = date(2026, 12, 4)) -> Action:
    due_at = overdue_at(RULES.person(owner), due, service_timezone="UTC")
    return Action(
        1,
        1,
        "corrective_actions",
        "Add a key",
        owner,
        due,
        due_at,
        created_at=CLOSED,
        clock_started_at=CLOSED,
    )


def test_an_action_is_overdue_at_the_end_of_its_owners_working_day() -> None:
    # Pat works Mon-Fri 09:00-18:00 in Berlin: Fri 4 Dec 18:00 CET is 17:00 UTC
    assert overdue_at(RULES.person(PAT), date(2026, 12, 4), service_timezone="UTC") == datetime(
        2026, 12, 4, 17, 0, tzinfo=UTC
    )
    # On a Saturday nobody works: 17:00 local
    assert overdue_at(RULES.person(PAT), date(2026, 12, 5), service_timezone="UTC") == datetime(
        2026, 12, 5, 16, 0, tzinfo=UTC
    )


def test_two_working_days_before_skips_the_weekend() -> None:
    # Two working days before Mon 7 Dec are Thu 3 Dec, from 09:00 Berlin
    assert working_days_before(RULES.person(PAT), date(2026, 12, 7), 2, service_timezone="UTC") == datetime(
        2026, 12, 3, 8, 0, tzinfo=UTC
    )


def test_the_plan_reminds_then_chases_the_manager_then_climbs_then_tells_ops() -> None:
    slots = action_plan.plan(action(), RULES, service_timezone="UTC")
    assert [(s.kind, s.level, s.tell_ops) for s in slots] == [
        ("remind", 0, False),
        ("breach", 1, False),  # Sam
        ("climb", 2, False),  # Alex
        ("top", 0, True),
    ]
    assert slots[0].at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert slots[1].at == datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
    assert slots[1].at < slots[2].at < slots[3].at


def test_no_reminder_when_the_due_date_is_too_close_to_the_close() -> None:
    slots = action_plan.plan(action(due=date(2026, 11, 25)), RULES, service_timezone="UTC")
    assert slots[0].kind == "breach"


def test_a_done_action_has_nothing_left_to_chase() -> None:
    done = action()
    done.done(now=CLOSED, actor=PAT, evidence="every capture call sends a key")
    assert action_plan.plan(done, RULES, service_timezone="UTC") == []
    action_plan.reschedule(done, RULES, service_timezone="UTC")
    assert done.chase_at is None


def test_a_persons_local_date_follows_their_timezone() -> None:
    late = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    assert local_date(RULES.person(PAT), late, service_timezone="UTC") == date(2026, 12, 5)
    assert local_date(None, late, service_timezone="America/New_York") == date(2026, 12, 4)
