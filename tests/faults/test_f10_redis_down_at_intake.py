"""F10: Redis is down while the SMTP edge commits.

Injected by stopping the real Redis server (the session's ``redis_server``) before a forward
arrives, then starting it again. Asserts I1 (the forward is answered 250 only after its commit,
and stored once, byte for byte) and that the work is not lost with the doorbell: once Redis is
back, the scheduler's sweeper enqueues the stored message and the worker opens its escalation
and sends the owner's forward and the executive's acknowledgement (I2).
"""

from __future__ import annotations

import pytest
import redis

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.faults_intake import deliver, intake_app
from tests.support.runners import role_in_thread, smtp_in_thread, wait_until

pytestmark = pytest.mark.integration


def test_f10_redis_down_still_answers_250_and_stores(database_url, redis_url, redis_server, relay_sink):
    app = intake_app(database_url, redis_url, f"smtp://127.0.0.1:{relay_sink.port}")
    raw = crlf(mail_fixture("thunderbird-forward.eml"))
    redis_server.stop()
    try:
        # Given Redis is down, when a forward arrives, then it is answered 250 and stored
        with smtp_in_thread(app):
            assert deliver(app, raw)[0] == 250
        [(stored, state)] = rows(database_url, "select raw, state from messages")
        assert (stored, state) == (raw, "pending")
    finally:
        redis_server.start()
    # When Redis is back: the doorbell never rang, so nothing waits in the queue
    assert redis.Redis.from_url(redis_url).llen("qmark:process") == 0
    from workers.roles import scheduler, worker

    # Then the sweeper enqueues the stored message and a worker opens its escalation
    with role_in_thread(worker.serve, app), role_in_thread(scheduler.serve, app):
        received = relay_sink.wait_for(2, timeout=60)
        wait_until(
            lambda: scalar(database_url, "select count(*) from messages where state = 'done'") == 1,
            timeout=30,
            what="the message processed",
        )
    [(owner,)] = rows(database_url, "select owner from escalations")
    assert sorted(r.rcpt_tos[0] for r in received) == sorted([owner, "dana.chief@acme.test"])
    assert scalar(database_url, "select count(*) from messages") == 1
