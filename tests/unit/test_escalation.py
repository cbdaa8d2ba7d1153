"""The escalation state machine."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.model.action_items import ActionItem, ActionProblem, ActionReading
from pipeline.model.escalation import Escalation, InvalidTransition, RootCauseMissing, State
from pipeline.model.ids import parse_ref, ref
from rules.loader import load_rules

ROOT = Path(__file__).resolve().parents[2]

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RCA = load_rules(ROOT / "rules" / "examples" / "acme").rca
COMPLETE = {
    "what_happened": "The gateway retried a capture after a timeout and charged forty cards twice.",
    "impact": "Forty customers paid twice for one invoice.",
    "root_cause": "No idempotency key on captures, because the client library predates them entirely.",
    "detection": "No test simulated a gateway timeout during a capture.",
    "corrective_actions": "- Refund every second charge, owner: me, due: 2026-11-25",
    "preventive_actions": "- Idempotency keys on every capture, owner: me, due: 2026-12-04",
}
# What reading COMPLETE's action sections gives (the reading itself is pipeline.inbound.actions').
PLANNED = ActionReading(
    (
        ActionItem(
            "corrective_actions",
            COMPLETE["corrective_actions"],
            "Refund every second charge",
            "pat.owner@acme.test",
            date(2026, 11, 25),
        ),
        ActionItem(
            "preventive_actions",
            COMPLETE["preventive_actions"],
            "Idempotency keys on every capture",
            "pat.owner@acme.test",
            date(2026, 12, 4),
        ),
    )
)


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


def explained() -> Escalation:
    escalation = opened()
    escalation.explain(
        now=NOW, actor="pat.owner@acme.test", text="A retry.", root_cause_deadline=NOW + timedelta(days=5)
    )
    return escalation


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
    escalation = explained()
    escalation.new_events.clear()
    with pytest.raises(RootCauseMissing, match="What happened"):
        escalation.close(now=NOW, actor="pat.owner@acme.test", rca=RCA)
    assert escalation.state is State.AWAITING_ROOT_CAUSE
    assert escalation.new_events == []


def test_closing_with_a_complete_writeup_closes_once():
    escalation = explained()
    escalation.add_writeup(now=NOW, actor="pat.owner@acme.test", sections=COMPLETE, rca=RCA, actions=PLANNED)
    escalation.close(now=NOW, actor="pat.owner@acme.test", rca=RCA)
    assert escalation.state is State.CLOSED
    assert escalation.closed_at == NOW and escalation.root_cause_at == NOW
    with pytest.raises(InvalidTransition):
        escalation.close(now=NOW, actor="pat.owner@acme.test", rca=RCA)


def test_the_gate_rechecks_the_writeup_it_holds_so_a_tampered_one_cannot_close():
    escalation = explained()
    escalation.add_writeup(now=NOW, actor="pat.owner@acme.test", sections=COMPLETE, rca=RCA, actions=PLANNED)
    escalation.writeup["impact"] = "TBD"  # whatever a caller does to the object, the gate re-checks
    with pytest.raises(RootCauseMissing, match="Impact"):
        escalation.submit(now=NOW, actor="pat.owner@acme.test", rca=RCA)
    assert escalation.state is State.AWAITING_ROOT_CAUSE


def test_a_complete_writeup_plans_its_actions_and_the_gate_wants_one_per_action_section():
    escalation = explained()
    escalation.add_writeup(now=NOW, actor="pat.owner@acme.test", sections=COMPLETE, rca=RCA, actions=PLANNED)
    assert escalation.planned_actions == list(PLANNED.items)
    escalation.planned_actions = escalation.planned_actions[:1]  # the preventive action lost
    with pytest.raises(RootCauseMissing, match="Preventive actions"):
        escalation.submit(now=NOW, actor="pat.owner@acme.test", rca=RCA)
    assert escalation.state is State.AWAITING_ROOT_CAUSE


def test_an_action_line_refused_keeps_the_writeup_incomplete_and_plans_nothing():
    escalation = explained()
    problem = ActionProblem("preventive_actions", "- Keys everywhere", "no owner")
    reading = ActionReading(PLANNED.items[:1], (problem,))
    verdict = escalation.add_writeup(
        now=NOW, actor="pat.owner@acme.test", sections=COMPLETE, rca=RCA, actions=reading
    )
    assert not verdict.complete and verdict.action_problems == (problem,)
    assert escalation.planned_actions == [] and escalation.root_cause_at is None


def test_the_explanation_stops_the_explanation_clock_and_starts_the_root_cause_clock():
    escalation = opened()
    escalation.acknowledge(now=NOW, actor="pat.owner@acme.test", words="on it")
    assert escalation.state is State.AWAITING_EXPLANATION
    due = NOW + timedelta(days=5)
    escalation.explain(
        now=NOW + timedelta(hours=1), actor="pat.owner@acme.test", text="Because.", root_cause_deadline=due
    )
    assert escalation.state is State.AWAITING_ROOT_CAUSE
    assert escalation.deadline == due and escalation.explained_at == NOW + timedelta(hours=1)
    assert [e.kind for e in escalation.new_events] == ["opened", "acknowledged", "explained"]
    with pytest.raises(InvalidTransition):
        escalation.explain(now=NOW, actor="pat.owner@acme.test", text="again", root_cause_deadline=due)


def test_a_writeup_completed_over_several_mails_is_merged():
    escalation = explained()
    partial = {k: v for k, v in COMPLETE.items() if k != "impact"}
    verdict = escalation.add_writeup(
        now=NOW, actor="pat.owner@acme.test", sections=partial, rca=RCA, actions=PLANNED
    )
    assert not verdict.complete and [f.key for f in verdict.findings] == ["impact"]
    verdict = escalation.add_writeup(
        now=NOW,
        actor="pat.owner@acme.test",
        sections={"impact": COMPLETE["impact"]},
        rca=RCA,
        actions=PLANNED,
    )
    assert verdict.complete and escalation.root_cause_at == NOW


def test_under_executive_approves_a_complete_writeup_waits_for_approval_and_can_be_sent_back():
    rca = replace(RCA, policy="executive_approves")
    escalation = explained()
    escalation.add_writeup(now=NOW, actor="pat.owner@acme.test", sections=COMPLETE, rca=rca, actions=PLANNED)
    escalation.submit(now=NOW, actor="pat.owner@acme.test", rca=rca)
    assert escalation.state is State.AWAITING_APPROVAL
    escalation.send_back(now=NOW, actor="dana.chief@acme.test", note="why?")
    assert escalation.state is State.AWAITING_ROOT_CAUSE
    escalation.submit(now=NOW, actor="pat.owner@acme.test", rca=rca)
    escalation.approve(now=NOW, actor="dana.chief@acme.test", rca=rca)
    assert escalation.state is State.CLOSED


def test_reopening_a_closed_escalation_asks_for_a_new_explanation_and_writeup():
    escalation = explained()
    escalation.add_writeup(now=NOW, actor="pat.owner@acme.test", sections=COMPLETE, rca=RCA, actions=PLANNED)
    escalation.submit(now=NOW, actor="pat.owner@acme.test", rca=RCA)
    later = NOW + timedelta(days=3)
    escalation.reopen(
        now=later, actor="dana.chief@acme.test", note="again", deadline=later + timedelta(hours=4)
    )
    assert escalation.state is State.AWAITING_EXPLANATION
    assert escalation.writeup == {} and escalation.root_cause_at is None and escalation.closed_at is None
    assert escalation.reopened == 1
    with pytest.raises(InvalidTransition):
        escalation.reopen(
            now=later, actor="dana.chief@acme.test", note="", deadline=later + timedelta(hours=4)
        )


def test_more_time_is_granted_once_and_needs_a_reason():
    escalation = opened()
    with pytest.raises(InvalidTransition, match="reason"):
        escalation.extend(now=NOW, actor="p", new_deadline=NOW + timedelta(hours=6), reason=" ")
    escalation.extend(now=NOW, actor="p", new_deadline=NOW + timedelta(hours=6), reason="vendor")
    assert escalation.deadline == NOW + timedelta(hours=6)
    with pytest.raises(InvalidTransition, match="once"):
        escalation.extend(now=NOW, actor="p", new_deadline=NOW + timedelta(hours=8), reason="vendor")


def test_reassigning_changes_the_owner_but_not_to_the_same_person():
    escalation = opened()
    escalation.reassign(now=NOW, actor="p", new_owner="lee@acme.test", deadline=NOW + timedelta(hours=2))
    assert escalation.owner == "lee@acme.test" and escalation.deadline == NOW + timedelta(hours=2)
    with pytest.raises(InvalidTransition):
        escalation.reassign(now=NOW, actor="p", new_owner="lee@acme.test", deadline=None)


def test_refs_round_trip():
    assert ref(12) == "Q-12"
    assert parse_ref("Q-12") == 12
    assert parse_ref("[q-7]") == 7
    assert parse_ref("Q-") is None
    assert parse_ref("12") is None
