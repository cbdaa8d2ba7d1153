"""A whole escalation life through `qmark run`, real SMTP in and a real relay sink out.

Executive "?" → owner's forward → "looking into it" (nothing changes, the clock
runs) → explanation (the executive receives it) → "#close" without a writeup (the
owner gets the missing sections) → a writeup with one thin section (named) → the
complete writeup → closed and summarised; then the executive's "?" reopens it.
Once under close_when_complete, once under executive_approves.
"""

from __future__ import annotations

import smtplib
from email.utils import parseaddr

import pytest

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.db import scalar
from tests.support.replies import THIN_IMPACT, WRITEUP, body_of, parsed, reply_to
from tests.support.rules import acme_rules
from tests.support.runners import qmark_env, spawn, stop, wait_until
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.e2e

PAT, DANA = "pat.owner@acme.test", "dana.chief@acme.test"
EXPLANATION = (
    "A retry in the payment gateway after a timeout charged the card a second time. "
    "We refunded the second charge and are adding an idempotency key to every capture."
)


class Run:
    """`qmark run` in a subprocess, a way to mail it, and what reached the relay sink."""

    def __init__(self, env, sink, url):
        self.env, self.sink, self.url = env, sink, url
        self.port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
        self.seen = 0
        self.sent = 0

    def send(self, raw: bytes) -> None:
        message = parsed(raw)
        sender = parseaddr(str(message["From"]))[1]
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.sendmail(sender, [parseaddr(str(message["To"]))[1]], crlf(raw))
        self.sent += 1
        wait_until(
            lambda: scalar(self.url, "select count(*) from messages where state = 'done'") == self.sent,
            timeout=20,
            what=f"message {self.sent} processed",
        )

    def expect(self, *rcpts: str) -> dict[str, bytes]:
        """The next mails, exactly one to each of ``rcpts``."""
        received = self.sink.wait_for(self.seen + len(rcpts), timeout=20)[self.seen :]
        self.seen += len(received)
        by_rcpt = {r.rcpt_tos[0]: r.data for r in received}
        assert sorted(by_rcpt) == sorted(rcpts), [r.rcpt_tos for r in received]
        return by_rcpt

    def nothing_new(self) -> None:
        assert len(self.sink.messages) == self.seen, [r.rcpt_tos for r in self.sink.messages[self.seen :]]

    def state(self) -> str:
        return str(scalar(self.url, "select state from escalations where id = 1"))


@pytest.fixture(params=["close_when_complete", "executive_approves"])
def run(request, database_url, redis_url, relay_sink, tmp_path):
    rules = acme_rules(tmp_path / "rules", policy=request.param)
    env = qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_RULES__PATH=str(rules),
        QMARK_WORKER__PROCESSES="1",
    )
    process = spawn("run", env, tmp_path / "run.log")
    try:
        wait_for_port(int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1]), timeout=30)
        yield request.param, Run(env, relay_sink, database_url)
    finally:
        log, lines = stop(process, tmp_path / "run.log")
    assert any(line["event"] == "reply_processed" and line.get("escalation_id") == "Q-1" for line in lines)
    assert "idempotency key" not in log  # no mail bodies in the logs


def test_a_whole_life_through_smtp(run):
    policy, life = run
    life.send(mail_fixture("gmail-forward.eml"))
    forward = life.expect(PAT, DANA)[PAT]
    deadline = scalar(life.url, "select deadline from escalations where id = 1")

    life.send(reply_to(forward, sender=PAT, text="Looking into it."))
    life.nothing_new()
    assert life.state() == "awaiting_explanation"
    assert scalar(life.url, "select deadline from escalations where id = 1") == deadline

    life.send(reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION))
    assert "idempotency key to every capture" in body_of(life.expect(DANA)[DANA])
    assert life.state() == "awaiting_root_cause"

    life.send(reply_to(forward, sender=PAT, text="#close"))
    lacking = body_of(life.expect(PAT)[PAT])
    assert lacking.count(": missing") == 6  # the five defaults and the example's detection section
    assert life.state() == "awaiting_root_cause"

    life.send(reply_to(forward, sender=PAT, text=THIN_IMPACT))
    thin = body_of(life.expect(PAT)[PAT])
    assert "- Impact: too thin" in thin and ": missing" not in thin
    assert life.state() == "awaiting_root_cause"

    life.send(reply_to(forward, sender=PAT, text=WRITEUP))
    if policy == "executive_approves":
        request = life.expect(DANA)[DANA]
        assert life.state() == "awaiting_approval"
        life.send(reply_to(request, sender=DANA, text="approve"))
    closing = life.expect(DANA, PAT)
    summary = body_of(closing[DANA])
    assert "Captures carried no idempotency key" in summary
    assert life.state() == "closed"

    life.send(reply_to(closing[DANA], sender=DANA, text="?"))
    assert "Q-1" in body_of(life.expect(PAT)[PAT])
    assert life.state() == "awaiting_explanation"
