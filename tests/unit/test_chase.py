"""The chase plan: which slots a running clock has, and which one is due now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.decide.chase import plan, slots_due
from pipeline.model.escalation import Escalation
from rules.loader import load_rules

RULES = load_rules(Path(__file__).resolve().parents[2] / "rules" / "examples" / "acme")
TUESDAY = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


def opened(owner: str, *, at: datetime = TUESDAY, hours: float = 4) -> Escalation:
    return Escalation.open(
        executive="dana.chief@acme.test",
        owner=owner,
        deadline=at + timedelta(hours=hours),
        now=at,
        route="billing",
        reasons=(),
        comment="",
    )


def test_a_four_hour_deadline_has_two_reminders_the_breach_a_climb_and_the_top():
    slots = plan(opened("pat.owner@acme.test"), RULES)
    assert [(s.kind, s.level) for s in slots] == [
        ("remind", 0),
        ("remind", 0),
        ("breach", 1),
        ("climb", 2),
        ("top", 0),
    ]
    assert [s.at - TUESDAY for s in slots] == [
        timedelta(hours=2),
        timedelta(hours=3, minutes=36),
        timedelta(hours=4),
        timedelta(hours=6),
        timedelta(hours=8),
    ]
    assert [s.index for s in slots] == list(range(5)) and slots[-1].tell_ops


def test_an_owner_without_a_manager_breaches_straight_to_ops():
    slots = plan(opened("alex.vp@acme.test"), RULES)
    assert [s.kind for s in slots][-1] == "breach" and slots[-1].tell_ops and slots[-1].level == 0


def test_a_reminder_outside_working_hours_waits_for_the_morning_or_is_dropped():
    # Opened Friday 16:00 in Berlin with a 4-hour wall-clock deadline (20:00): both reminders fall
    # after 18:00 and would only be sent Monday 09:00, after the deadline, so there are none.
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert plan(opened("pat.owner@acme.test", at=friday), RULES)[0].kind == "breach"
    # Opened 06:00 in Berlin with a 12-hour deadline: the 50% reminder (12:00) is in hours, kept.
    early = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    first = plan(opened("pat.owner@acme.test", at=early, hours=12), RULES)[0]
    assert first.kind == "remind" and first.at == early + timedelta(hours=6)


def test_catching_up_mails_only_the_latest_due_slot_and_counts_the_rest_as_missed():
    slots = plan(opened("pat.owner@acme.test"), RULES)
    late = slots_due(slots, 0, TUESDAY + timedelta(hours=4, minutes=1))
    assert late.current is not None and late.current.kind == "breach"
    assert [s.kind for s in late.missed] == ["remind", "remind"]
    assert late.done == 3 and late.breach_now and late.next_at == TUESDAY + timedelta(hours=6)
    again = slots_due(slots, late.done, TUESDAY + timedelta(hours=4, minutes=2))
    assert again.current is None and again.missed == () and again.done == 3


def test_nothing_is_due_before_the_first_slot():
    slots = plan(opened("pat.owner@acme.test"), RULES)
    early = slots_due(slots, 0, TUESDAY + timedelta(hours=1))
    assert early.current is None and early.next_at == TUESDAY + timedelta(hours=2) and not early.breach_now
