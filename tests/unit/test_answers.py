"""What qmark does with a participant's reply, decided without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.decide.answer import answer
from pipeline.decide.context import FEEDBACK_PER_DAY, Context, Reply
from pipeline.inbound.matching import Role
from pipeline.model.escalation import Escalation, State
from pipeline.model.mail import Address, Original
from pipeline.outbound.compose import Identity
from pipeline.outbound.thread import Thread
from rules.loader import load_rules
from tests.support.replies import WRITEUP

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "rules" / "examples" / "acme")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PAT = Address("pat.owner@acme.test", "Pat Owner")
DANA = Address("dana.chief@acme.test", "Dana Chief")
IDENTITY = Identity(Address("escalations@acme.test", "qmark"), "escalations", "acme.test", b"secret")
EXPLANATION = (
    "A gateway retry after a timeout charged the card twice; we refunded it and add idempotency keys."
)


def escalation() -> Escalation:
    opened = Escalation.open(
        executive=DANA.email,
        owner=PAT.email,
        deadline=NOW + timedelta(hours=4),
        now=NOW,
        route="billing",
        reasons=(),
        comment="",
    )
    opened.number = 1
    opened.new_events.clear()
    return opened


def context(feedback_today: int = 0) -> Context:
    thread = Thread(
        number=1, subject="Charged twice", executive=DANA, owner=PAT, owner_timezone="Europe/Berlin"
    )
    return Context(
        rules=RULES,
        identity=IDENTITY,
        now=NOW + timedelta(minutes=5),
        thread=thread,
        route="billing",
        feedback_today=feedback_today,
        complaint=lambda: Original("gmail", None, "", "Charged twice", "body"),
    )


def owner_says(text: str, sender: Address = PAT, role: Role = Role.OWNER) -> Reply:
    return Reply(sender=sender, role=role, body=text, words=text)


def test_an_acknowledgement_sends_nothing_and_keeps_the_explanation_deadline():
    esc = escalation()
    outcome = answer(esc, owner_says("On it, looking into it now."), context())
    assert outcome.mails == [] and esc.state is State.AWAITING_EXPLANATION
    assert esc.deadline == NOW + timedelta(hours=4)
    assert [e.kind for e in esc.new_events] == ["acknowledged"]


def test_an_explanation_with_one_summary_line_is_an_explanation_not_a_thin_writeup():
    esc = escalation()
    outcome = answer(esc, owner_says("Summary: " + EXPLANATION), context())
    assert [m.kind for m in outcome.mails] == ["explanation"]
    assert esc.state is State.AWAITING_ROOT_CAUSE


def test_a_complete_writeup_as_the_first_reply_explains_and_closes_at_once():
    esc = escalation()
    outcome = answer(esc, owner_says(WRITEUP), context())
    assert [m.kind for m in outcome.mails] == ["explanation", "closing_summary", "closed_confirmation"]
    assert esc.state is State.CLOSED


def test_feedback_to_the_owner_stops_at_the_daily_cap_but_is_recorded():
    esc = escalation()
    answer(esc, owner_says(EXPLANATION), context())
    esc.new_events.clear()
    outcome = answer(esc, owner_says("#close"), context(feedback_today=FEEDBACK_PER_DAY))
    assert outcome.mails == [] and "cap" in outcome.reason
    assert [e.kind for e in esc.new_events][-1] == "feedback_suppressed"
    assert esc.state is State.AWAITING_ROOT_CAUSE


def test_a_former_recipient_is_recorded_and_changes_nothing():
    esc = escalation()
    outcome = answer(esc, owner_says(EXPLANATION, Address("old@acme.test"), Role.RECIPIENT), context())
    assert outcome.mails == [] and esc.state is State.AWAITING_EXPLANATION
    assert [e.kind for e in esc.new_events] == ["note"]


def test_the_executives_ok_on_an_open_escalation_is_recorded_not_relayed():
    esc = escalation()
    outcome = answer(esc, owner_says("ok", DANA, Role.EXECUTIVE), context())
    assert outcome.mails == [] and [e.kind for e in esc.new_events] == ["executive_note"]


def test_the_executives_question_on_an_open_escalation_chases_the_owner():
    esc = escalation()
    outcome = answer(esc, owner_says("? Any news?", DANA, Role.EXECUTIVE), context())
    assert [(m.kind, m.recipient) for m in outcome.mails] == [("executive_note", PAT.email)]
    assert b"Any news?" in outcome.mails[0].raw
