"""The history check of the fault runs (tests/support/history.py) catches each broken rule.

A real escalation is opened through the process and send steps into the relay sink; then
the sink's record is altered the way a fault would alter it, and the check must say so.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.conftest import mail_fixture
from tests.integration.test_replies import make_life
from tests.support.history import check_history, norm

pytestmark = pytest.mark.integration

FORWARD_ID = "<CAHx7kP0q3mV9yJr4fN2wB8Z1aTq0Lr6uXe5s-Q@mail.gmail.com>"


@pytest.fixture
def opened(database_url, redis_url, relay_sink, tmp_path):
    """One forward answered, stored, opened, its owner forward and acknowledgement at the sink."""
    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    life.deliver(mail_fixture("gmail-forward.eml"))
    return relay_sink.wait_for(2)


def check(database_url, sink, *, answered=(FORWARD_ID,), in_flight=()):
    return check_history(database_url, answered=answered, cut=[], sink=sink, in_flight=in_flight)


def test_a_clean_run_holds_every_rule(database_url, opened):
    history = check(database_url, opened)
    assert history.problems == [], history.summary()
    assert (history.stored, history.escalations, history.forwards, history.acks) == (1, 1, 1, 1)


def test_a_resend_is_allowed_only_for_a_mail_in_flight_at_a_kill(database_url, opened):
    twice = [*opened, opened[0]]
    mid = norm(re.search(rb"(?mi)^Message-ID: *(<[^>]+>)", opened[0].data).group(1).decode())
    assert check(database_url, twice, in_flight={mid}).problems == []
    assert check(database_url, twice, in_flight={mid}).resends == 1
    assert "in flight at a kill: False" in check(database_url, twice).problems[0]


def test_a_second_message_id_for_the_same_mail_is_a_different_id_duplicate(database_url, opened):
    renamed = re.sub(rb"(?m)^(Message-ID: *<qmark\.q\d+\.[a-z_]+\.)", rb"\1ff", opened[0].data)
    copy = replace(opened[0], data=renamed)
    history = check(database_url, [*opened, copy])
    assert history.different_id_duplicates == 1
    assert any("not in outbound_mails" in problem for problem in history.problems)


def test_a_forward_answered_but_never_stored_and_an_undelivered_ack_are_lost(database_url, opened):
    owner_forward_only = [r for r in opened if r.rcpt_tos == ("pat.owner@acme.test",)]
    history = check(database_url, owner_forward_only, answered=(FORWARD_ID, "<never-stored@example>"))
    assert history.lost == 2
    assert any("answered 250 but not stored" in p for p in history.problems)
    assert any("no executive_ack at the sink" in p for p in history.problems)
