"""F18: a mail loop — qmark, an auto-responder and a second qmark instance answering each other.

Injected by delivering, through the real process and send steps and real relay sinks: an
out-of-office responder that answers every mail qmark sends (marked ``Auto-Submitted``); a
broken responder without any marker that answers every mail with a command; and a second
qmark instance that gets every mail the first one sends while the responder answers both.

Invariants: I4 (qmark never answers machine mail and never mails itself); the total number of
mails is bounded (an unmarked responder gets at most ``FEEDBACK_PER_DAY`` answers a day) and
the system is quiet after the first round.
"""

from __future__ import annotations

import pytest

from pipeline.store.migrate import upgrade
from tests.conftest import mail_fixture
from tests.integration.test_replies import PAT, explained, make_life, open_q1
from tests.support.db import scalar
from tests.support.life import Life
from tests.support.replies import parsed, reply_address, reply_to
from tests.support.sink import Received, RelaySink

pytestmark = pytest.mark.integration


@pytest.fixture
def life(database_url, redis_url, relay_sink, tmp_path) -> Life:
    return make_life(database_url, redis_url, relay_sink, tmp_path)


OOO = """\
From: Pat Owner <pat.owner@acme.test>
To: {to}
Subject: Automatic reply: {subject}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Authentication-Results: mx.acme.test; dmarc=pass header.from=acme.test
Message-ID: <ooo-{n}@acme.test>
In-Reply-To: {mid}
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday with limited access to email.
"""


def test_f18_an_out_of_office_loop_is_bounded_and_the_responder_gets_no_mail(life):
    forward, _ = open_q1(life)
    message = parsed(forward)
    # The responder answers everything qmark sends it, twenty times over
    for n in range(20):
        raw = OOO.format(
            to=reply_address(forward), subject=message["Subject"], mid=message["Message-ID"], n=n
        ).encode()
        life.deliver(raw, mail_from="", rcpts=(parsed(forward)["Return-Path"] or reply_address(forward),))
        life.tick(minutes=1)
    assert life.new_mail() == []
    assert life.events().count("out_of_office") == 20
    assert life.state() == "awaiting_explanation"


def test_f18_an_unmarked_responder_repeating_itself_is_capped_per_day(life):
    from pipeline.decide.context import FEEDBACK_PER_DAY

    forward = explained(life)
    # A broken responder without any auto-reply marker answers every qmark mail with "#close"
    last = forward
    sent = 0
    for _ in range(3 * FEEDBACK_PER_DAY):
        life.deliver(reply_to(last, sender=PAT, text="#close", quote=False))
        new = life.new_mail()
        sent += len(new)
        last = new[0].data if new else last
    assert sent == FEEDBACK_PER_DAY
    assert life.events().count("feedback_suppressed") == 2 * FEEDBACK_PER_DAY


def out_of_office(mail: Received, n: int) -> bytes:
    """The recipient's auto-responder answering ``mail``, from the recipient, to its reply address."""
    message = parsed(mail.data)
    return (
        OOO.replace("Pat Owner <pat.owner@acme.test>", mail.rcpt_tos[0])
        .format(
            to=reply_address(mail.data) or mail.mail_from,
            subject=message["Subject"],
            mid=message["Message-ID"],
            n=n,
        )
        .encode()
    )


def test_f18_two_instances_and_an_auto_responder_answering_everything_fall_quiet_after_one_round(
    redis_url, tmp_path
):
    # Given two qmark instances, each on its own database and relay, the second one receiving
    # every mail the first sends and the other way round, and a responder answering every mail
    lives: list[Life] = []
    with RelaySink() as sink_a, RelaySink() as sink_b:
        for name, sink in (("a", sink_a), ("b", sink_b)):
            (tmp_path / name).mkdir()
            url = f"sqlite:///{tmp_path / name / 'qmark.db'}"
            upgrade(url)
            lives.append(make_life(url, redis_url, sink, tmp_path / name))
        first, second = lives
        first.deliver(mail_fixture("gmail-forward.eml"))
        rounds, total = 0, 0
        fresh = {id(first): first.new_mail(2), id(second): []}
        while any(fresh.values()) and rounds < 10:
            rounds += 1
            total += sum(len(mails) for mails in fresh.values())
            for sender, other in ((first, second), (second, first)):
                for n, mail in enumerate(fresh[id(sender)]):
                    other.deliver(mail.data, mail_from=mail.mail_from, rcpts=("escalations@acme.test",))
                    sender.deliver(out_of_office(mail, 100 * rounds + n), mail_from=mail.rcpt_tos[0])
            fresh = {id(life): life.new_mail() for life in lives}
    # Then the only mails are the first instance's forward and acknowledgement: one round, quiet
    assert (rounds, total) == (1, 2)
    assert first.state() == "awaiting_explanation"
    assert {"out_of_office", "auto_reply"} <= set(first.events())
    assert scalar(second.url, "select count(*) from escalations") == 0
