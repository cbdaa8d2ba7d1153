"""`qmark run` on a redis+sentinel:// URL: the master dies, the replica is promoted, nothing is lost.

No config change and no restart of qmark: the broker asks the sentinels for the new master,
and the sweeper re-queues the work whose job could not reach Redis (or died with the master).
"""

from __future__ import annotations

import smtplib
import urllib.request

import pytest

from tests.support.history import check_history, drained
from tests.support.hosts import make_hosts
from tests.support.runners import wait_until
from tests.support.scenario import running
from tests.support.traffic import executive_forwards

pytestmark = pytest.mark.e2e


def send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("dana.chief@acme.test", ["escalations@acme.test"], raw)


def ready(listen: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{listen}/readyz", timeout=5) as answer:
            return answer.status == 200
    except OSError:  # 503 (HTTPError) or not listening yet
        return False


def test_mail_is_processed_before_and_after_a_sentinel_failover_with_no_config_change(
    redis_sentinel, database_url, relay_sink, tmp_path
):
    [host] = make_hosts(
        1, tmp_path, database_url=database_url, redis_url=redis_sentinel.url, relay_port=relay_sink.port
    )
    mails = executive_forwards(3, "sentinel")
    with running([host]):
        # Given qmark on the sentinel URL turns a forward into its two mails
        send(host.smtp_port, mails[0][1])
        relay_sink.wait_for(2, timeout=60)
        # When the Redis master is SIGKILLed, a forward arrives before the failover is done,
        # and another after the sentinels promoted the replica
        redis_sentinel.kill_master()
        send(host.smtp_port, mails[1][1])
        redis_sentinel.wait_for_failover()
        send(host.smtp_port, mails[2][1])
        # Then all three are processed by the same, unchanged qmark run
        wait_until(lambda: drained(database_url, 3), timeout=90, what="three escalations, mails sent")
        relay_sink.wait_for(6, timeout=30)
        assert host.starts == 1 and host.running
        # And /readyz, on the same URL, finds Redis (the new master) and everything else ready
        assert wait_until(lambda: ready(host.env["QMARK_HTTP__LISTEN"]), timeout=30, what="/readyz 200")
    history = check_history(
        database_url, answered=[mid for mid, _ in mails], cut=[], sink=relay_sink.messages, in_flight=[]
    )
    assert history.problems == [], history.summary()
    assert history.escalations == history.forwards == history.acks == 3
    assert history.resends == history.different_id_duplicates == 0
