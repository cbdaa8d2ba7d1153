"""Deadlines that chase, through the real process, chase and send steps with a clock the test moves.

Q-1 is Dana's billing complaint, owned by Pat (Europe/Berlin, Mon-Fri 09:00-18:00),
whose ladder is Sam, then Alex. Billing's deadline is 4 hours; reminders at 50% and
90%; the ladder is climbed every 2 hours. The clock starts Tuesday 24 Nov 2026
09:00 UTC (10:00 in Berlin).
"""

from __future__ import annotations

import pytest

from tests.conftest import mail_fixture
from tests.integration.test_replies import DANA, EXPLANATION, PAT, SAM, make_life
from tests.support.db import rows, scalar
from tests.support.replies import body_of, parsed, reply_to

pytestmark = pytest.mark.integration

ALEX = "alex.vp@acme.test"


@pytest.fixture
def life(database_url, redis_url, relay_sink, tmp_path):
    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    life.deliver(mail_fixture("gmail-forward.eml"))
    life.forward = next(m.data for m in life.new_mail(2) if m.rcpt_tos == (PAT,))
    return life


def billing(n: int) -> bytes:
    """Dana's billing forward again, as a new mail (its own Message-ID): a new escalation for Pat."""
    return mail_fixture("gmail-forward.eml").replace(b"Message-ID: <", f"Message-ID: <copy{n}.".encode(), 1)


def subjects(mails) -> list[tuple[str, str]]:
    return [(m.rcpt_tos[0], str(parsed(m.data)["Subject"])) for m in mails]


def test_reminders_at_half_and_ninety_percent_then_the_breach_climbs_the_ladder_to_the_top(life):
    life.tick(minutes=119)
    assert life.chase() == [] and life.new_mail() == []  # nothing due before 50%
    life.tick(minutes=1)  # 2h of 4h: 50%
    life.chase()
    [(to, subject)] = subjects(life.new_mail(1))
    assert to == PAT and subject.startswith("[Q-1] Reminder")
    life.tick(minutes=96)  # 3h36m: 90%
    life.chase()
    assert [to for to, _ in subjects(life.new_mail(1))] == [PAT]
    life.tick(minutes=24)  # 4h: the deadline; Sam is chased with the history, Dana told
    life.chase()
    breach = life.by_recipient(2)
    assert set(breach) == {SAM, DANA}
    assert "Overdue" in str(parsed(breach[SAM])["Subject"])
    assert "opened" in body_of(breach[SAM]) and "reminded" in body_of(breach[SAM])
    life.tick(hours=2)  # one rung up
    life.chase()
    assert [to for to, _ in subjects(life.new_mail(1))] == [ALEX]
    life.tick(hours=2)  # the top: ops told, nothing mailed, the chase ends
    life.chase()
    assert life.new_mail() == []
    assert "ladder_top_reached" in life.events()
    assert scalar(life.url, "select chase_at from escalations where id = 1") is None
    kinds = [k for k in life.events() if k in {"reminded", "breached", "chased_up", "ladder_top_reached"}]
    assert kinds == ["reminded", "reminded", "breached", "chased_up", "ladder_top_reached"]
    life.tick(hours=10)
    assert life.chase() == []


def test_an_acknowledgement_does_not_stop_the_clock_but_the_explanation_does(life):
    life.tick(minutes=30)
    life.deliver(reply_to(life.forward, sender=PAT, text="Looking into it."))
    life.tick(minutes=90)
    life.chase()
    assert [to for to, _ in subjects(life.new_mail(1))] == [PAT]  # the 50% reminder still comes
    life.deliver(reply_to(life.forward, sender=PAT, text=EXPLANATION))
    life.new_mail(1)
    life.tick(hours=3)  # past the old deadline: nothing, the root-cause clock runs (5 business days)
    assert life.chase() == [] and life.new_mail() == []
    [(deadline,)] = rows(life.url, "select deadline from escalations")
    assert "2026-12-01" in str(deadline)  # Tue 10:00 + 5 business days (9h/day) in Berlin


def test_waiting_on_customer_pauses_the_clock_and_the_next_owner_mail_resumes_it(life):
    life.tick(hours=1)
    life.deliver(reply_to(life.forward, sender=PAT, text="#waiting-on-customer they are checking their bank"))
    [(to, _)] = subjects(life.new_mail(1))
    assert to == DANA and "they are checking" in body_of(life.sink.messages[-1].data)
    life.tick(hours=6)  # long past the deadline: paused, nothing chases
    assert life.chase() == [] and life.new_mail() == []
    life.deliver(reply_to(life.forward, sender=PAT, text="The customer answered; still looking into it."))
    [(to, _)] = subjects(life.new_mail(1))
    assert to == DANA  # told the clock runs again
    assert scalar(life.url, "select paused_seconds from escalations") == 6 * 3600
    assert life.state() == "awaiting_explanation"
    assert "resumed" in life.events() and "paused" in life.events()
    # 3 hours were left at the pause: the breach comes 3 hours after resuming, not before
    life.tick(hours=2, minutes=59)
    life.chase()
    assert all(to == PAT for to, _ in subjects(life.new_mail()))
    life.tick(minutes=2)
    life.chase()
    assert sorted(to for to, _ in subjects(life.new_mail(2))) == sorted([SAM, DANA])


def test_resume_by_command_and_a_pause_needs_a_reason(life):
    life.deliver(reply_to(life.forward, sender=PAT, text="#waiting-on-customer"))
    assert "why" in body_of(life.new_mail(1)[0].data)
    assert "paused" not in life.events()
    life.deliver(reply_to(life.forward, sender=PAT, text="#waiting-on-customer bank holiday there"))
    life.new_mail(1)
    life.tick(hours=1)
    life.deliver(reply_to(life.forward, sender=PAT, text="#resume"))
    [(to, _)] = subjects(life.new_mail(1))
    assert to == DANA and life.events().count("resumed") == 1


def test_overdue_escalations_are_listed_most_overdue_first_and_counted_in_status(
    database_url, redis_url, relay_sink, tmp_path
):
    import json
    from datetime import UTC, datetime, timedelta

    from tests.integration.test_replies import cli

    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    life.now = datetime.now(UTC) - timedelta(hours=10)  # the CLI reads the real clock
    life.deliver(mail_fixture("gmail-forward.eml"))  # due 6 hours ago
    life.tick(hours=3)
    life.deliver(billing(2))  # due 3 hours ago
    life.tick(hours=5)
    life.deliver(billing(3))  # due in 2 hours
    overdue = json.loads(cli(life, "escalations", "list", "--overdue", "--json").stdout)
    assert [item["id"] for item in overdue] == ["Q-1", "Q-2"]
    assert all(item["overdue"] for item in overdue)
    status = json.loads(cli(life, "status", "--json").stdout)["escalations"]
    assert (status["open"], status["overdue"]) == (3, 2)
    assert 6 * 3600 - 60 < status["oldest_overdue_seconds"] < 6 * 3600 + 600
    text = cli(life, "escalations", "list").stdout
    assert text.count(" overdue ") == 2
