"""Two `qmark run` trees on one PostgreSQL and one Redis: a host dies mid-traffic.

Forwards go round-robin to both SMTP ports at a steady rate; halfway one fault strikes.
Afterwards the history check (tests/support/history.py) must hold: every forward answered
250 stored once and opened once, every owner forward and acknowledgement at the relay sink,
no two Message-IDs for one mail, a resend only for a mail in flight at the kill.
The other multi-host claims are proven where they live: two schedulers' chase claims on
PostgreSQL (tests/integration/test_postgres.py, SKIP LOCKED), the digest claimed once
(test_postgres.py, test_digest.py) and one IMAP poller per folder (tests/integration/test_imap.py).
Redis wiped mid-run is fault F9 (tests/faults/test_f09_redis_killed_or_flushed.py).
The 2,000-forward run with figures is bench/two_hosts.py.
"""

from __future__ import annotations

import pytest

from tests.support.faults_queue import delayed_relay_sink, two_hosts
from tests.support.scenario import kill_and_restart, run_with_fault, running

pytestmark = pytest.mark.e2e

COUNT, RATE = 120, 12.0


@pytest.fixture
def relay_sink():
    with delayed_relay_sink() as sink:
        yield sink


@pytest.fixture
def hosts(empty_postgres, redis_url, relay_sink, tmp_path):
    return two_hosts(empty_postgres, redis_url, relay_sink, tmp_path)


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
