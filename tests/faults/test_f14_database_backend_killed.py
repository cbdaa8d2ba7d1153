"""F14: the database connection or the writing process dies in the middle of a step.

Injected two ways while a worker opens an escalation: on PostgreSQL the backend is ended with
``pg_terminate_backend`` as the transaction inserts the escalation row; on SQLite and
PostgreSQL a worker process is SIGKILLed while its write transaction is open, the escalation
row written and its mails about to be queued.

Invariants: no partial state (the transaction is rolled back whole: no escalation, no queued
mail, the message not done), the step is redone once, and I2/I3 hold after the redo: one
escalation, its forward and acknowledgement each sent once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from pipeline.model.mail import Envelope
from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.faults_store import forward_stored, kill_worker_at, past_the_lease, terminate
from tests.support.runners import qmark_env, role_in_thread, settings_from, wait_until

pytestmark = pytest.mark.integration

ESCALATION_INSERT = "INSERT INTO ESCALATIONS "


def test_f14_a_connection_lost_in_the_middle_of_opening_an_escalation_is_redone_whole_and_once(
    migrated_postgres, redis_url, relay_sink
):
    from workers.bootstrap import build
    from workers.roles import worker
    from workers.roles.group_commit import store_one

    env = qmark_env(
        database_url=migrated_postgres,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
    )
    app = build(settings=settings_from(env))
    cut: list[int] = []

    def cut_the_line(conn, cursor, statement, parameters, context, executemany):
        # The first time a step writes the escalation row, after the earlier writes of its
        # transaction, the connection is lost.
        if not cut and statement.lstrip().upper().startswith(ESCALATION_INSERT):
            cut.append(conn.connection.dbapi_connection.info.backend_pid)
            terminate(migrated_postgres, cut[0])

    event.listen(app.services.db.engine, "before_cursor_execute", cut_the_line)
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    message_id = store_one(app.services.db, mail_fixture("gmail-forward.eml"), envelope)
    app.graph.enqueue_process([message_id])
    with role_in_thread(worker.serve, app):
        wait_until(
            lambda: len(relay_sink.messages) >= 2, timeout=30, what="the forward and the acknowledgement"
        )
    # Then the line was cut once, and the redo opened one escalation whole. Of the first try only
    # its reserved number remains (reserved in a transaction of its own: the numbers skip one)
    assert len(cut) == 1
    [(number, state)] = rows(migrated_postgres, "select id, state from escalations")
    assert state == "awaiting_explanation"
    assert rows(migrated_postgres, "select id from escalation_numbers order by id") == [
        (number - 1,),
        (number,),
    ]
    assert scalar(migrated_postgres, "select attempts from messages where id = :id", id=message_id) == 2
    recipients = sorted(m.rcpt_tos[0] for m in relay_sink.messages)
    assert recipients == ["dana.chief@acme.test", "pat.owner@acme.test"]
    assert scalar(migrated_postgres, "select count(*) from outbound_mails") == 2


def test_f14_a_worker_killed_inside_its_write_transaction_leaves_nothing_half_done_and_is_redone_once(
    database_url, redis_url, relay_sink
):
    from pipeline.steps.process import process_message
    from pipeline.steps.send import send_claimed
    from workers.ticks.sweep import sweep

    env, app, message_id = forward_stored(database_url, redis_url, relay_sink.port)
    # Given a worker process inside its transaction, the escalation written, before its mails
    # When it is SIGKILLed there
    kill_worker_at(env, message_id, r"^\s*INSERT INTO OUTBOUND_MAILS ")
    # Then nothing of its transaction is left: no escalation, no event, no mail; the message not done
    assert scalar(database_url, "select count(*) from escalations") == 0
    assert scalar(database_url, "select count(*) from outbound_mails") == 0
    assert scalar(database_url, "select count(*) from events where escalation_id is not null") == 0
    assert scalar(database_url, "select state from messages where id = :id", id=message_id) != "done"
    # And once its lease has run out the sweeper finds the message, and the step is redone once
    later = past_the_lease(app.services)
    assert sweep(later, app.graph, older_than=timedelta(0)) == (1, 0)
    for _ in range(2):  # the redone job delivered twice: the second finds the work done
        send_claimed(later, app.transport(), process_message(later, message_id))
    [(state,)] = rows(database_url, "select state from escalations")
    assert state == "awaiting_explanation"
    assert scalar(database_url, "select attempts from messages where id = :id", id=message_id) == 2
    assert scalar(database_url, "select state from messages where id = :id", id=message_id) == "done"
    recipients = sorted(m.rcpt_tos[0] for m in relay_sink.wait_for(2))
    assert recipients == ["dana.chief@acme.test", "pat.owner@acme.test"]
    assert scalar(database_url, "select count(*) from outbound_mails") == 2
