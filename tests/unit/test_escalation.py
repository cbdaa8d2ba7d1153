"""The escalation state machine."""

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.escalation import Escalation, InvalidTransition, RootCauseMissing, State, parse_ref, ref

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def opened() -> Escalation:
    return Escalation.open(
        executive="dana.chief@acme.test",
        owner="pat.owner@acme.test",
        deadline=NOW + timedelta(hours=4),
        now=NOW,
        route="billing",
        reasons=("text matched",),
        comment="third time",
    )


def test_opening_awaits_the_explanation_and_records_who_why_and_when():
    escalation = opened()
    assert escalation.state is State.AWAITING_EXPLANATION
    [event] = escalation.new_events
    assert event.kind == "opened"
    assert event.actor == "dana.chief@acme.test"
    assert event.detail["route"] == "billing"
    assert event.detail["comment"] == "third time"
    assert event.detail["deadline"] == (NOW + timedelta(hours=4)).isoformat()


def test_a_deadline_in_the_past_is_refused():
    with pytest.raises(InvalidTransition):
        Escalation.open(
            executive="a@x", owner="b@x", deadline=NOW, now=NOW, route="r", reasons=(), comment=""
        )


def test_closing_without_a_complete_writeup_is_refused_and_changes_nothing():
    escalation = opened()
    with pytest.raises(RootCauseMissing):
        escalation.close(now=NOW, actor="pat.owner@acme.test", writeup_complete=False)
    assert escalation.state is State.AWAITING_EXPLANATION
    assert [e.kind for e in escalation.new_events] == ["opened"]


def test_closing_with_a_complete_writeup_closes_once():
    escalation = opened()
    escalation.close(now=NOW, actor="pat.owner@acme.test", writeup_complete=True)
    assert escalation.state is State.CLOSED
    assert escalation.closed_at == NOW
    with pytest.raises(InvalidTransition):
        escalation.close(now=NOW, actor="pat.owner@acme.test", writeup_complete=True)


def test_refs_round_trip():
    assert ref(12) == "Q-12"
    assert parse_ref("Q-12") == 12
    assert parse_ref("[q-7]") == 7
    assert parse_ref("Q-") is None
    assert parse_ref("12") is None
