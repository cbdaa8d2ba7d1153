"""F11: a Dramatiq job delivered twice, one after the other or at the same moment.

Injected by calling the actors as a Dramatiq worker calls them, against a real database and a
real relay sink: each step run a second time after the first finished; the
``process_messages`` actor run by two threads at once on the same message id; the
``send_mails`` actor run by two threads at once on the same deferred mails.

Asserts the rows guard the work: a single state transition (one escalation, one ``opened``
event, the message done once) and a single outbound mail per (escalation, step, recipient)
at the relay (I3).
"""

from __future__ import annotations

import email
import threading

import pytest

from pipeline.model.mail import Envelope
from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.faults_queue import build, relay_env

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url, redis_url, relay_sink):
    return relay_env(database_url, redis_url, relay_sink)


def stored(app, name: str) -> int:
    """One forward stored as the SMTP edge stores it; its message id."""
    from workers.roles.group_commit import store_one

    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    return store_one(app.services.db, mail_fixture(name), envelope)


def twice_at_once(job, *args) -> list[BaseException]:
    """Run ``job(*args)`` in two threads released together; the errors they raised."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            job(*args)
        except BaseException as error:  # a deferred send raises so Dramatiq retries: reported
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a job hung"
    return errors


def sent_once_each(relay_sink, database_url, count: int) -> None:
    """``count`` mails at the sink, each Message-ID once, and the database agrees."""
    ids = [email.message_from_bytes(r.data)["Message-ID"] for r in relay_sink.messages]
    assert len(ids) == count == len(set(ids))
    assert scalar(database_url, "select count(*) from outbound_mails where state = 'sent'") == count
    kinds = [k for (k,) in rows(database_url, "select kind from events order by id")]
    assert kinds.count("mail_sent") == count


def test_f11_every_job_run_twice_changes_nothing_and_sends_nothing_twice(env, relay_sink, database_url):
    from pipeline.model.mail import Envelope
    from pipeline.steps import process
    from pipeline.steps.send import deliver_mails, send_claimed
    from workers.roles.group_commit import store_one

    app = build(env)
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    message_id = store_one(app.services.db, mail_fixture("outlook-forward.eml"), envelope)
    claimed = process.process_message(app.services, message_id)
    assert len(claimed) == 2
    assert process.process_message(app.services, message_id) == []  # second run: nothing to claim
    mail_ids = [item.id for item in claimed]
    deliver_mails(app.services, app.transport(), mail_ids)  # held by the first run's lease: skipped
    assert send_claimed(app.services, app.transport(), claimed) == []
    deliver_mails(app.services, app.transport(), mail_ids)  # already sent: nothing to claim
    assert len(relay_sink.wait_for(2)) == 2
    assert scalar(database_url, "select count(*) from escalations") == 1
    assert scalar(database_url, "select count(*) from outbound_mails where state = 'sent'") == 2
    assert len(relay_sink.messages) == 2


def test_f11_the_process_actor_run_twice_at_once_on_one_message_opens_one_escalation_and_sends_once(
    env, relay_sink, database_url
):
    app = build(env)
    message_id = stored(app, "gmail-forward.eml")
    # When Dramatiq delivers the same process job to two workers at the same moment
    errors = twice_at_once(app.graph.process, [message_id])
    assert errors == []
    relay_sink.wait_for(2)
    # Then one transition: one escalation, opened once, the message done once
    assert scalar(database_url, "select count(*) from escalations") == 1
    kinds = [k for (k,) in rows(database_url, "select kind from events order by id")]
    assert kinds.count("opened") == 1
    assert rows(database_url, "select state, outcome from messages") == [("done", "escalation")]
    # And the owner's forward and the executive's ack went out once each
    sent_once_each(relay_sink, database_url, 2)
    assert sorted(r.rcpt_tos[0] for r in relay_sink.messages) == [
        "dana.chief@acme.test",
        "pat.owner@acme.test",
    ]


def test_f11_the_send_actor_run_twice_at_once_on_the_same_deferred_mails_sends_each_once(
    env, relay_sink, database_url
):
    app = build(env)
    message_id = stored(app, "apple-forward.eml")
    # Given the relay deferred both mails of the escalation (they wait, pending, for the send job)
    relay_sink.reply_with = "451 4.3.0 try again later"
    app.graph.process([message_id])
    mail_ids = [i for (i,) in rows(database_url, "select id from outbound_mails where state = 'pending'")]
    assert len(mail_ids) == 2 and relay_sink.messages == []
    # When the relay is back and two workers run the same send job at the same moment
    relay_sink.reply_with = None
    errors = twice_at_once(app.graph.send, mail_ids)
    assert errors == []
    # Then each mail reached the relay once
    relay_sink.wait_for(2)
    sent_once_each(relay_sink, database_url, 2)
