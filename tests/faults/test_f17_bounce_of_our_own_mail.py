"""F17: a bounce (DSN) arrives for a mail qmark sent: the owner's forward, or a chase reminder.

Injected by delivering a real-shaped multipart/report DSN from MAILER-DAEMON, with the empty
envelope sender, to the VERP envelope sender the bounced mail carried, through the real
process and send steps (SQLite and PostgreSQL, real relay sink).

Invariants: the bounce is matched to its (escalation, mail): that mail is marked bounced and
the escalation's history says so; I4: nothing is sent in answer, and no new escalation is
opened; the message's outcome is ``machine`` (I2).
"""

from __future__ import annotations

import pytest

from tests.conftest import mail_fixture
from tests.integration.test_replies import PAT, make_life
from tests.support.db import decoded, rows, scalar
from tests.support.life import Life
from tests.support.replies import parsed

pytestmark = pytest.mark.integration

EMPTY_SENDER = "the envelope sender is empty (<>), as for bounces and auto-replies"
DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.acme.test>
To: {to}
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"
Message-ID: <dsn-{n}@mx.acme.test>

--b1
Content-Type: text/plain

This is the mail system at host mx.acme.test. Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.test

Final-Recipient: rfc822; pat.owner@acme.test
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b1
Content-Type: text/rfc822-headers

From: qmark <escalations@acme.test>
To: Pat Owner <pat.owner@acme.test>
Subject: {subject}
Message-ID: {mid}

--b1--
"""


@pytest.fixture
def life(database_url, redis_url, relay_sink, tmp_path) -> Life:
    return make_life(database_url, redis_url, relay_sink, tmp_path)


def bounce(life: Life, envelope_from: str, data: bytes, n: int = 1) -> int:
    """MAILER-DAEMON returns the mail ``data`` sent with ``envelope_from``; returns the DSN's message id."""
    message = parsed(data)
    raw = DSN.format(to=envelope_from, subject=message["Subject"], mid=message["Message-ID"], n=n).encode()
    return life.deliver(raw, mail_from="", rcpts=(envelope_from,))


def test_f17_a_bounce_of_the_owners_forward_marks_the_delivery_failed_and_answers_nothing(life):
    life.deliver(mail_fixture("gmail-forward.eml"))
    forward = next(m for m in life.new_mail(2) if m.rcpt_tos == (PAT,))
    message_id = bounce(life, forward.mail_from, forward.data)
    assert life.new_mail() == [] and life.state() == "awaiting_explanation"
    assert life.outcome(message_id)[0] == "machine"
    [(state, kind)] = rows(life.url, f"select state, kind from outbound_mails where recipient = '{PAT}'")
    assert (state, kind) == ("bounced", "owner_forward")
    [(detail,)] = rows(life.url, "select detail from events where kind = 'delivery_bounced'")
    assert decoded(detail) == {"mail": "owner_forward", "to": PAT, "reason": EMPTY_SENDER}
    assert scalar(life.url, "select count(*) from escalations") == 1


def test_f17_a_bounce_of_a_chase_reminder_marks_that_reminder_bounced_and_answers_nothing(life):
    life.deliver(mail_fixture("gmail-forward.eml"))
    life.new_mail(2)
    life.tick(hours=2)  # 50% of billing's 4 hours: Pat is reminded
    life.chase()
    [reminder] = life.new_mail(1)
    assert reminder.rcpt_tos == (PAT,) and "Reminder" in str(parsed(reminder.data)["Subject"])
    # When the reminder bounces (twice: the remote MTA retried its DSN)
    life.tick(minutes=5)
    message_ids = [bounce(life, reminder.mail_from, reminder.data, n) for n in (1, 2)]
    # Then only the reminder is marked bounced, nothing is sent, no escalation is opened
    assert life.new_mail() == []
    assert [life.outcome(message_id)[0] for message_id in message_ids] == ["machine", "machine"]
    states = rows(life.url, "select kind, state from outbound_mails order by id")
    assert [state for kind, state in states if kind != "owner_forward"] == ["sent", "bounced"]
    assert dict(states)["owner_forward"] == "sent"
    bounced = [
        decoded(d) for (d,) in rows(life.url, "select detail from events where kind = 'delivery_bounced'")
    ]
    assert [(b["mail"], b["to"]) for b in bounced] == [(states[-1][0], PAT)] * 2  # each DSN noted
    assert scalar(life.url, "select count(*) from escalations") == 1
    assert life.state() == "awaiting_explanation"
