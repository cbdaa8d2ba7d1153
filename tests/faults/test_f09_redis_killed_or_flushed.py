"""F9: Redis is SIGKILLed and restarted (AOF off and on), or flushed, with queued, in-flight and
delayed jobs.

Injected on a real redis-server: ``restart_wiped`` (SIGKILL, an empty Redis on the same port:
every queued, delayed and in-flight job is gone, as with FLUSHALL or AOF off), both under a
steady two-host run (``qmark run`` trees) and with jobs queued for a worker that is not up yet;
and a SIGKILL + restart of a Redis with AOF on (``appendfsync always``) holding queued
``process`` jobs and delayed ``send`` retries (the relay had deferred them).

Asserts: all work completes once the workers and the scheduler's sweeper run, no escalation
or mail is lost (I1, I2), and no mail goes out twice (I3: one Message-ID, once, at the relay).
"""

from __future__ import annotations

import email
import smtplib

import pytest
import redis

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.faults_queue import build, delayed_relay_sink, relay_env, two_hosts
from tests.support.runners import qmark_env, role_in_thread, smtp_in_thread, wait_until
from tests.support.scenario import run_with_fault, running, wipe_redis
from tests.support.servers import RedisServer

COUNT, RATE = 120, 12.0
FORWARDS = ["gmail-forward.eml", "apple-forward.eml", "thunderbird-forward.eml", "attached-rfc822.eml"]


@pytest.fixture
def env(database_url, redis_url, relay_sink):
    return relay_env(database_url, redis_url, relay_sink)


@pytest.fixture
def durable_redis(tmp_path):
    """A Redis of this test's own with the append-only file on, fsynced at every write."""
    server = RedisServer(tmp_path / "redis-aof", args=["--appendonly", "yes", "--appendfsync", "always"])
    server.start()
    yield server
    server.stop()


def send(app, raw: bytes):
    host, port = app.settings.smtp.host_port
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.sendmail("dana.chief@acme.test", ["escalations@acme.test"], crlf(raw))


def each_mail_once(relay_sink, database_url, count: int) -> None:
    """``count`` mails at the relay, each Message-ID once, all recorded as sent."""
    ids = [email.message_from_bytes(r.data)["Message-ID"] for r in relay_sink.messages]
    assert len(ids) == count == len(set(ids))
    assert scalar(database_url, "select count(*) from outbound_mails where state = 'sent'") == count


@pytest.mark.integration
def test_f9_jobs_lost_with_a_wiped_redis_are_recovered_by_the_sweeper(
    env, relay_sink, database_url, redis_server
):
    from workers.roles import scheduler, worker

    app = build(env)
    fixtures = ["gmail-forward.eml", "apple-forward.eml", "thunderbird-forward.eml", "attached-rfc822.eml"]
    with smtp_in_thread(app):
        for name in fixtures:
            send(app, mail_fixture(name))
    assert redis.Redis.from_url(redis_server.url).llen("qmark:process") == 4
    # Given Redis dies and comes back empty: every queued job is gone
    redis_server.restart_wiped()
    assert redis.Redis.from_url(redis_server.url).llen("qmark:process") == 0
    # When workers and the scheduler run
    app = build(env)
    with role_in_thread(worker.serve, app), role_in_thread(scheduler.serve, app):
        relay_sink.wait_for(8, timeout=30)
    # Then nothing was lost and nothing was sent twice
    assert scalar(database_url, "select count(*) from escalations") == 4
    ids = [email.message_from_bytes(r.data)["Message-ID"] for r in relay_sink.messages]
    assert len(ids) == 8 == len(set(ids))


@pytest.mark.e2e
def test_f9_two_hosts_lose_nothing_when_redis_is_wiped_mid_run(
    empty_postgres, redis_server, redis_url, tmp_path
):
    with delayed_relay_sink() as sink:
        hosts = two_hosts(empty_postgres, redis_url, sink, tmp_path)
        with running(hosts):
            # Given two hosts taking forwards, when Redis is killed and comes back empty halfway
            outcome = run_with_fault(
                hosts, sink, empty_postgres, count=COUNT, rate=RATE, fault=wipe_redis(redis_server)
            )
    history = outcome.history
    print(history.summary())
    # Then the sweepers re-queue the lost jobs: every forward opened once, every mail sent once
    assert history.problems == [], history.summary()
    assert history.stored == history.escalations == history.forwards == history.acks == COUNT
    assert history.lost == history.different_id_duplicates == history.resends == 0


@pytest.mark.integration
@pytest.mark.parametrize("aof", [True, False], ids=["aof-on", "aof-off"])
def test_f9_redis_sigkilled_with_queued_and_delayed_jobs_loses_nothing_and_sends_nothing_twice(
    aof, relay_sink, database_url, durable_redis, redis_server, redis_url
):
    from workers.roles import scheduler, worker

    server = durable_redis if aof else redis_server
    env = qmark_env(
        database_url=database_url,
        redis_url=server.url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_WORKER__THREADS="1",
    )
    client = redis.Redis.from_url(server.url)
    app = build(env)
    # Given the relay defers everything, two forwards are processed and their mails wait as
    # delayed send retries
    relay_sink.reply_with = "451 4.3.0 try again later"
    with smtp_in_thread(app):
        with role_in_thread(worker.serve, app):
            for name in FORWARDS[:2]:
                send(app, mail_fixture(name))
            wait_until(
                lambda: scalar(database_url, "select count(*) from outbound_mails where attempts >= 2") == 4,
                timeout=60,
                what="four mails deferred, retried once",
            )
        # And two more forwards are queued while no worker runs
        for name in FORWARDS[2:]:
            send(app, mail_fixture(name))
    assert client.llen("qmark:process") == 2
    assert client.llen("qmark:send.DQ") > 0  # the worker gave its delayed retries back on stop
    # When Redis is SIGKILLed and started again on the same port and directory
    server.stop()
    server.start()
    if aof:  # the append-only file brought every job back
        assert client.llen("qmark:process") == 2 and client.llen("qmark:send.DQ") > 0
    else:  # nothing survived: only the database knows the work
        assert client.llen("qmark:process") == 0 == client.llen("qmark:send.DQ")
    # And the relay is back, the workers and the scheduler (its sweeper) run
    relay_sink.reply_with = None
    app = build(env)
    with role_in_thread(worker.serve, app), role_in_thread(scheduler.serve, app):
        wait_until(
            lambda: scalar(database_url, "select count(*) from outbound_mails where state = 'sent'") == 8,
            timeout=90,
            what="every mail sent",
        )
    # Then all four escalations are open, every message is done, and each mail went out once
    assert scalar(database_url, "select count(*) from escalations") == 4
    assert {s for (s,) in rows(database_url, "select state from messages")} == {"done"}
    each_mail_once(relay_sink, database_url, 8)
