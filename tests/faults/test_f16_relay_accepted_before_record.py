"""F16: the relay answers 250, then qmark dies before it records the mail as sent.

Injected with a real worker process (process, then send to the real relay sink) that is
SIGKILLed as it is about to write ``sent`` for the mails the relay has just accepted: the
relay has them, the database still says ``sending``.

Invariants: the database is the truth, so the mails are sent again once their lease has run
out, with the same Message-ID and the same bytes (the receiving side can de-duplicate); this
is the one exception I3 allows, counted by tests/support/history.py (a resend only for a mail
in flight at the kill, at most once more); after the redo nothing is sent a third time. The
checker's own test of that rule is
tests/integration/test_history_check.py::test_a_resend_is_allowed_only_for_a_mail_in_flight_at_a_kill.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from pipeline.steps.send import deliver_mails
from tests.support.db import rows
from tests.support.faults_store import forward_stored, kill_worker_at, past_the_lease
from tests.support.history import check_history, in_flight, norm

pytestmark = pytest.mark.integration

FORWARD_ID = "<CAHx7kP0q3mV9yJr4fN2wB8Z1aTq0Lr6uXe5s-Q@mail.gmail.com>"  # gmail-forward.eml


def test_f16_mails_the_relay_took_before_the_kill_are_resent_once_with_the_same_message_id(
    sqlite_url, redis_url, relay_sink
):
    from workers.ticks.sweep import sweep

    env, app, message_id = forward_stored(sqlite_url, redis_url, relay_sink.port)
    # Given a worker killed after the relay's 250 for both mails, before it records them as sent
    kill_worker_at(env, message_id, r"^\s*UPDATE outbound_mails SET .*sent_at")
    first = relay_sink.wait_for(2)
    sending = in_flight(sqlite_url)
    assert len(sending) == 2 and [s for (s,) in rows(sqlite_url, "select state from outbound_mails")] == [
        "sending",
        "sending",
    ]
    # When the lease runs out, the sweeper finds them and the send job runs (twice, redelivered)
    later = past_the_lease(app.services)
    assert sweep(later, app.graph, older_than=timedelta(0)) == (0, 2)
    mail_ids = [mail_id for (mail_id,) in rows(sqlite_url, "select id from outbound_mails")]
    for _ in range(2):
        deliver_mails(later, app.transport(), mail_ids)
    # Then each mail reached the relay twice with one Message-ID and the same bytes, never a third time
    sink = relay_sink.wait_for(4)
    assert len(relay_sink.messages) == 4
    by_id = Counter(norm(_message_id(m.data)) for m in sink)
    assert set(by_id) == sending and set(by_id.values()) == {2}
    assert sorted(m.data for m in sink[2:]) == sorted(m.data for m in first)
    assert [s for (s,) in rows(sqlite_url, "select state from outbound_mails")] == ["sent", "sent"]
    # And the history check counts them as the allowed resends of mails in flight at the kill
    history = check_history(sqlite_url, answered=[FORWARD_ID], cut=(), sink=sink, in_flight=sending)
    assert history.problems == [] and history.resends == 2, history.summary()


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID")
