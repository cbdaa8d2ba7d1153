"""The action ledger through the real steps, a real relay sink and the test database, on a moved clock.

Q-1 is opened from a real forward (Tue 24 Nov 2026, 09:00 UTC) and closed with a
writeup planning two actions: A-1 for Pat (due Fri 4 Dec), A-2 for Lee (due Thu 10 Dec).
Then the clock moves and the scheduler's tick runs by hand, as in production.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.test_replies import DANA, EXPLANATION, LEE, PAT, SAM, make_life, open_q1
from tests.support.db import rows, scalar
from tests.support.life import Life
from tests.support.replies import WRITEUP, body_of, parsed, reply_to

pytestmark = pytest.mark.integration

ALEX = "alex.vp@acme.test"
ACTIONS = """\
Corrective actions:
- Add an idempotency key to every capture call, owner: me, due: 2026-12-04

Preventive actions:
- Contract test simulating gateway timeouts during capture, owner: lee.logistics@acme.test, due: 2026-12-10
"""
PLANNED = WRITEUP.split("Corrective actions:")[0] + ACTIONS


@pytest.fixture
def life(database_url, redis_url, relay_sink, tmp_path) -> Life:
    return make_life(database_url, redis_url, relay_sink, tmp_path)


def closed_with_actions(life: Life, writeup: str = PLANNED) -> bytes:
    forward, _ = open_q1(life)
    life.deliver(reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION))
    life.one_to(DANA)
    life.deliver(reply_to(forward, sender=PAT, text=writeup))
    life.new_mail(2)  # the closing summary and the confirmation
    return forward


def reminded(life: Life) -> tuple[bytes, bytes]:
    """Q-1 closed with its actions, Pat reminded of A-1 on Wed 2 Dec: (Pat's forward, the reminder)."""
    forward = closed_with_actions(life)
    at(life, datetime(2026, 12, 2, 8, 30, tzinfo=UTC))
    life.chase_actions()
    return forward, life.one_to(PAT)


def ledger(life: Life) -> list[tuple[int, str, str, str, str]]:
    return [
        (int(n), str(owner), str(due)[:10], str(state), str(evidence))
        for n, owner, due, state, evidence in rows(
            life.url, "select id, owner, due, state, evidence from actions order by id"
        )
    ]


def at(life: Life, moment: datetime) -> None:
    life.now = moment


def test_a_writeup_with_an_action_lacking_its_due_date_is_refused_naming_the_line(life):
    forward, _ = open_q1(life)
    life.deliver(reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION))
    life.one_to(DANA)
    undated = PLANNED.replace(", due: 2026-12-04", "")
    life.deliver(reply_to(forward, sender=PAT, text=undated))
    refused = body_of(life.one_to(PAT))
    assert "Add an idempotency key to every capture call, owner: me" in refused
    assert "due" in refused.lower()
    assert life.state() == "awaiting_root_cause" and ledger(life) == []


def test_a_complete_writeup_closes_with_two_actions_in_the_ledger(life):
    closed_with_actions(life)
    assert life.state() == "closed"
    assert [(n, owner, due, state) for n, owner, due, state, _ in ledger(life)] == [
        (1, PAT, "2026-12-04", "open"),
        (2, LEE, "2026-12-10", "open"),
    ]
    assert "actions_opened" in life.events()


def test_the_owner_is_reminded_before_due_and_the_manager_told_on_the_due_date(life):
    closed_with_actions(life)
    # Wed 2 Dec, 09:00 Berlin: two of Pat's working days before Fri 4 Dec
    at(life, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    life.chase_actions()
    assert life.new_mail() == []
    at(life, datetime(2026, 12, 2, 8, 30, tzinfo=UTC))
    assert life.chase_actions() == [1]
    reminder = life.one_to(PAT)
    assert parsed(reminder)["Subject"].startswith("[Q-1] [A-1] Reminder: due Fri 04 Dec 2026")
    assert "#done" in body_of(reminder)
    # Fri 4 Dec, 18:00 Berlin: the end of Pat's working day; Sam (Pat's manager) and Dana hear it
    at(life, datetime(2026, 12, 4, 17, 1, tzinfo=UTC))
    life.chase_actions()
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {SAM, DANA}
    assert "[A-1] Overdue" in str(parsed(by_rcpt[SAM])["Subject"])
    assert "A-1 of Q-1 is overdue" in body_of(by_rcpt[DANA])
    # Five business days later A-1 climbs one rung (Alex) and the executive is not told of it again;
    # Lee's A-2 (due Thu 10 Dec) is overdue by then: Alex is Lee's manager, and Dana hears of A-2
    at(life, datetime(2026, 12, 11, 23, 0, tzinfo=UTC))
    life.chase_actions()
    sent = sorted((m.rcpt_tos[0], str(parsed(m.data)["Subject"])[:22]) for m in life.new_mail(3))
    assert sent == [
        (ALEX, "[Q-1] [A-1] Overdue: P"),
        (ALEX, "[Q-1] [A-2] Overdue: L"),
        (DANA, "[Q-1] [A-2] Overdue: C"),
    ]
    kinds = [k for (k,) in rows(life.url, "select kind from events where kind like 'action\\_%' escape '\\'")]
    # A-2's reminder fell between two ticks: recorded as missed, never mailed late
    assert sorted(kinds) == [
        "action_chase_missed",
        "action_chased_up",
        "action_overdue",
        "action_overdue",
        "action_reminded",
    ]


def test_done_with_evidence_closes_the_action_and_the_executive_hears_when_the_last_is_done(life):
    forward, reminder = reminded(life)

    # Too little evidence: refused, the action stays open
    life.deliver(reply_to(reminder, sender=PAT, text="#done fixed it"))
    assert "at least 5 words" in body_of(life.one_to(PAT))
    assert ledger(life)[0][3] == "open"

    life.deliver(reply_to(reminder, sender=PAT, text="#done every capture call now sends an idempotency key"))
    assert "A-1 is done" in body_of(life.one_to(PAT))
    assert ledger(life)[0][3:] == ("done", "every capture call now sends an idempotency key")

    # Lee answers from a mail of the thread naming the action; that was the last: Dana hears it
    life.deliver(
        reply_to(
            forward,
            sender=LEE,
            text="#done A-2 the contract test now runs a gateway timeout on every build",
        )
    )
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {LEE, DANA}
    assert str(parsed(by_rcpt[DANA])["Subject"]).startswith("[Q-1] All actions done (2 of 2)")
    assert "gateway timeout on every build" in body_of(by_rcpt[DANA])
    assert [state for *_, state, _ in ledger(life)] == ["done", "done"]
    assert scalar(life.url, "select chase_at from actions where id = 2") is None


def test_drop_tells_the_executive_why(life):
    _, reminder = reminded(life)
    dropped = "#drop the payment provider adds idempotency keys itself"
    life.deliver(reply_to(reminder, sender=PAT, text=dropped))
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {PAT, DANA}
    assert "[A-1] Dropped" in str(parsed(by_rcpt[DANA])["Subject"])
    assert "adds idempotency keys itself" in body_of(by_rcpt[DANA])
    assert ledger(life)[0][3] == "dropped"


def test_due_moves_once_and_a_second_move_goes_to_the_manager_who_may_move_it(life):
    _, reminder = reminded(life)

    life.deliver(reply_to(reminder, sender=PAT, text="#due 2026-12-11"))
    assert "now due on 2026-12-11" in body_of(life.one_to(PAT))
    assert ledger(life)[0][2] == "2026-12-11"

    life.deliver(reply_to(reminder, sender=PAT, text="#due 2026-12-18"))
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {PAT, SAM}
    request = by_rcpt[SAM]
    assert "#due A-1 2026-12-18" in body_of(request)
    assert ledger(life)[0][2] == "2026-12-11"  # not moved

    life.deliver(reply_to(request, sender=SAM, text="#due A-1 2026-12-18"))
    assert "now due on 2026-12-18" in body_of(life.one_to(SAM))
    assert ledger(life)[0][2] == "2026-12-18"
    # the chase starts again from the new date: nothing is due on the old one
    at(life, datetime(2026, 12, 4, 17, 1, tzinfo=UTC))
    life.chase_actions()
    assert life.new_mail() == []


def test_a_forged_token_or_a_stranger_changes_no_action(life):
    _, reminder = reminded(life)
    before = ledger(life)
    fake = "escalations+q1-aaaaaaaaaaaaaaaabbbbbbbb@acme.test"
    forged = reply_to(reminder, sender=PAT, text="#done every capture sends an idempotency key now", to=fake)
    outcome, _ = life.outcome(life.deliver(forged, rcpts=(fake,)))
    assert outcome == "quarantined"
    stranger = reply_to(reminder, sender="eve@acme.test", text="#drop nobody needs this action any more")
    outcome, _ = life.outcome(life.deliver(stranger))
    assert outcome == "quarantined"
    assert life.new_mail() == [] and ledger(life) == before
