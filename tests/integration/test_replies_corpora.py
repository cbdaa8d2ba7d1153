"""Every real bounce and auto-reply, replayed as a reply to a live escalation, sends and changes nothing.

The sisimai and flufl-bounce corpora are delivered to the owner's signed reply
address of a live Q-1 (the address qmark's mail carries as envelope sender, where
bounces arrive), with an empty envelope sender where the original had one. A
second pass rewrites From to the owner, as an owner's own auto-responder would
send it: still machine mail, still never answered.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.conftest import mail_fixture
from tests.integration.test_replies import PAT, make_life
from tests.support.corpora import corpus_files, envelope_sender
from tests.support.db import rows, scalar
from tests.support.replies import reply_address

pytestmark = pytest.mark.integration

_FROM = re.compile(rb"^From:[^\n]*\n(?:[ \t][^\n]*\n)*", re.M | re.I)


def as_owner(raw: bytes) -> bytes:
    """The message with its From header replaced by the owner's (in the header block only)."""
    head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    head += b"\n"
    if _FROM.search(head):
        head = _FROM.sub(b"From: Pat Owner <pat.owner@acme.test>\n", head, count=1)
    else:
        head += b"From: Pat Owner <pat.owner@acme.test>\n"
    return head.rstrip(b"\n") + b"\n" + sep + body


@pytest.mark.parametrize("sender", ["original", "owner"])
def test_every_bounce_and_auto_reply_replayed_to_a_live_escalation_sends_nothing_and_changes_nothing(
    sender, corpora, database_url, redis_url, relay_sink, tmp_path
):
    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    life.deliver(mail_fixture("gmail-forward.eml"))
    forward = next(m.data for m in life.new_mail(2) if m.rcpt_tos == (PAT,))
    token_address = reply_address(forward)
    state = "select state, owner, deadline, explanation, writeup from escalations"
    before = rows(database_url, state)
    files = [p for name in ("sisimai-set-of-emails", "flufl-bounce") for p in corpus_files(corpora / name)]
    assert len(files) > 800
    outcomes: Counter[str] = Counter()
    for path in files:
        raw = path.read_bytes()
        mail_from = envelope_sender(raw)
        if sender == "owner":
            raw = as_owner(raw)
            mail_from = mail_from and PAT
        message_id = life.deliver(raw, mail_from=mail_from, rcpts=(token_address,))
        outcomes[life.outcome(message_id)[0]] += 1
    print(f"\n{sender}: {len(files)} replayed -> {dict(outcomes)}")
    assert life.new_mail() == [], "qmark answered machine mail"
    assert rows(database_url, state) == before
    assert scalar(database_url, "select count(*) from outbound_mails") == 2
    assert sum(outcomes.values()) == len(files)
    assert "reply" not in outcomes, "machine mail was taken for a person's reply"
