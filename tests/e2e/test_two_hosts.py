"""Two `qmark run` trees on one PostgreSQL and one Redis: a host dies, or Redis is wiped, mid-traffic.

Forwards go round-robin to both SMTP ports at a steady rate; halfway one fault strikes.
Afterwards the history check (tests/support/history.py) must hold: every forward answered
250 stored once and opened once, every owner forward and acknowledgement at the relay sink,
no two Message-IDs for one mail, a resend only for a mail in flight at the kill.
The other multi-host claims are proven where they live: two schedulers' chase claims on
PostgreSQL (tests/integration/test_postgres.py, SKIP LOCKED), the digest claimed once
(test_postgres.py, test_digest.py) and one IMAP poller per folder (tests/integration/test_imap.py).
The 2,000-forward run with figures is bench/two_hosts.py.
"""

from __future__ import annotations

import pytest

from tests.support.hosts import make_hosts, migrate
from tests.support.scenario import kill_and_restart, run_with_fault, running, wipe_redis
from tests.support.sink import RelaySink

pytestmark = pytest.mark.e2e

COUNT, RATE = 120, 12.0


@pytest.fixture
def relay_sink():
    """The relay records each mail 0.2 s before its 250: a kill then strands mail it already has."""
    with RelaySink(answer_delay=0.2) as sink:
        yield sink


@pytest.fixture
def hosts(empty_postgres, redis_url, relay_sink, tmp_path):
    migrate(empty_postgres)
    return make_hosts(
        2, tmp_path, database_url=empty_postgres, redis_url=redis_url, relay_port=relay_sink.port
    )


def test_two_hosts_deliver_every_forward_once_when_one_is_sigkilled_and_restarted(
    hosts, relay_sink, empty_postgres
):
    with running(hosts):
        # Given two hosts taking forwards round-robin, when host B's whole tree is SIGKILLed
        # halfway, while mail is being sent, and comes back three seconds later
        outcome = run_with_fault(
            hosts,
            relay_sink,
            empty_postgres,
            count=COUNT,
            rate=RATE,
            fault=kill_and_restart(hosts[1], empty_postgres, down_for=3, mid_send=True),
        )
    history = outcome.history
    print(history.summary())
    # Then nothing answered 250 is lost, nothing is opened twice, every mail arrived
    assert history.problems == [], history.summary()
    assert history.answered == COUNT and history.lost == 0
    assert history.stored == history.escalations == history.forwards == history.acks == COUNT
    assert history.different_id_duplicates == 0
    assert history.in_flight > 0 and history.resends <= history.in_flight
    assert hosts[1].starts == 2


def test_two_hosts_lose_nothing_when_redis_is_wiped_mid_run(hosts, relay_sink, empty_postgres, redis_server):
    with running(hosts):
        # Given two hosts taking forwards, when Redis is killed and comes back empty halfway
        outcome = run_with_fault(
            hosts, relay_sink, empty_postgres, count=COUNT, rate=RATE, fault=wipe_redis(redis_server)
        )
    history = outcome.history
    print(history.summary())
    # Then the sweepers re-queue the lost jobs: every forward opened once, every mail sent once
    assert history.problems == [], history.summary()
    assert history.stored == history.escalations == history.forwards == history.acks == COUNT
    assert history.lost == history.different_id_duplicates == history.resends == 0
