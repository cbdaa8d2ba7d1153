"""A repeat complaint meets its earlier root cause, through `qmark run`, real SMTP in and the relay sink out.

Jordan's billing complaint opens Q-1; Pat explains and sends the writeup, which closes it. Jordan
complains again: the new forward to Pat shows "Seen before" with Q-1 and its root cause. A
different customer with an unrelated complaint gets no such block.
"""

from __future__ import annotations

import pytest

from tests.conftest import mail_fixture
from tests.e2e.test_life import DANA, EXPLANATION, PAT, Run
from tests.support.replies import WRITEUP, body_of, parsed, reply_to
from tests.support.rules import acme_rules
from tests.support.runners import qmark_env, spawn, stop
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.e2e

ROBIN = "robin.support@acme.test"


def again() -> bytes:
    """Jordan's billing complaint forwarded again by Dana: a new mail (its own Message-ID)."""
    return mail_fixture("gmail-forward.eml").replace(b"Message-ID: <", b"Message-ID: <again.", 1)


def unrelated() -> bytes:
    """Another customer, another domain, about something else entirely."""
    raw = mail_fixture("gmail-forward.eml").replace(b"Message-ID: <", b"Message-ID: <other.", 1)
    for old, new in (
        (b"Jordan Buyer <jordan@shop.example>", b"Morgan Lee <morgan@elsewhere.example>"),
        (b"Charged twice for invoice 4411", b"Rude staff at the Hamburg store"),
        (b"I was charged twice for invoice 4411. Both charges of EUR 249.00 appear on", b"Your staff"),
        (b"my card statement from 19 November. Please refund the duplicate charge and", b"were rude."),
        (b"confirm by email.", b"I want an apology from the manager."),
        (b"Jordan Buyer\n", b"Morgan Lee\n"),
    ):  # fmt: skip
        assert old in raw, old
        raw = raw.replace(old, new)
    return raw


@pytest.fixture
def run(database_url, redis_url, relay_sink, tmp_path):
    env = qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_RULES__PATH=str(acme_rules(tmp_path / "rules")),
        QMARK_WORKER__PROCESSES="1",
    )
    process = spawn("run", env, tmp_path / "run.log")
    try:
        wait_for_port(int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1]), timeout=30)
        yield Run(env, relay_sink, database_url)
    finally:
        log, _ = stop(process, tmp_path / "run.log")
    assert "Seen before" not in log and "charged twice" not in log.lower()  # no mail bodies in the logs


def test_a_repeat_complaint_meets_its_earlier_root_cause_and_an_unrelated_one_does_not(run):
    # Given Q-1, Jordan's complaint, explained and closed with its writeup
    run.send(mail_fixture("gmail-forward.eml"))
    forward = run.expect(PAT, DANA)[PAT]
    assert "Seen before" not in body_of(forward)
    run.send(reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION))
    run.expect(DANA)
    run.send(reply_to(forward, sender=PAT, text=WRITEUP))
    run.expect(DANA, PAT)
    assert run.state() == "closed"

    # When Jordan complains again, the new forward and the acknowledgement name Q-1 and its root cause
    run.send(again())
    second = run.expect(PAT, DANA)
    body = body_of(second[PAT])
    assert str(parsed(second[PAT])["Subject"]).startswith("[Q-2]")
    assert "Seen before:\n- Q-1 (closed " in body
    assert 'root cause "Why charged twice? The capture was retried."' in body
    assert "same customer" in body
    assert "Seen before:\n- Q-1 (closed " in body_of(second[DANA])

    # And a different customer with an unrelated complaint gets no such block
    run.send(unrelated())
    third = run.expect(ROBIN, DANA)
    assert str(parsed(third[ROBIN])["Subject"]).startswith("[Q-3]")
    assert "Seen before" not in body_of(third[ROBIN]) and "Q-1" not in body_of(third[ROBIN])
    assert "Seen before" not in body_of(third[DANA])
