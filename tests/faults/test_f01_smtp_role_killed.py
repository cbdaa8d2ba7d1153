"""F1: ``kill -9`` of the SMTP role at random points while forwards arrive.

One ``qmark run`` tree (tests/support/hosts.py) on the store under test; only its SMTP child is
SIGKILLed, three times at random moments over 150 forwards, each time once a session is open if
one opens within two seconds — during DATA, between the commit and
the 250, after the 250, or between sessions, wherever the moment falls — and ``qmark run``
restarts it each time. The senders (tests/support/traffic.py) behave like MTAs: a refused
connection, a cut session or a 4xx is retried. Afterwards the history check
(tests/support/history.py) asserts I1: every forward answered 250 is stored and opens one
escalation, whose owner forward and acknowledgement reach the relay; a second stored copy only
for a forward whose session was cut (its 250 may have been lost after the commit), and never a
second escalation for it. And I6: no sender ever got a 5xx.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.support.history import check_history, drained
from tests.support.hosts import Host, make_hosts
from tests.support.runners import wait_until
from tests.support.servers import wait_for_port
from tests.support.traffic import Traffic, executive_forwards

pytestmark = pytest.mark.e2e

COUNT, RATE, KILLS = 150, 10.0, 3


def children(pid: int, role: str) -> list[int]:
    """Pids of the direct children of ``pid`` that run ``qmark <role>`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == pid and b"workers.cli" in argv and role.encode() in argv:
            found.append(int(entry.name))
    return found


def session_open(port: int) -> bool:
    """True while some client holds an established connection to 127.0.0.1:``port``."""
    local = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(line.split()[1] == local and line.split()[3] == "01" for line in lines)


def kill_smtp_role(host: Host) -> int:
    """SIGKILL the host's SMTP child; wait until ``qmark run`` has started a new one that listens."""
    assert host.process is not None
    [old] = children(host.process.pid, "smtp")
    os.kill(old, signal.SIGKILL)
    wait_until(
        lambda: [pid for pid in children(host.process.pid, "smtp") if pid != old],  # type: ignore[union-attr]
        timeout=30,
        what="qmark run to restart the SMTP role; log: " + host.log_tail(1500),
    )
    wait_for_port(host.smtp_port, timeout=60)
    return old


@pytest.fixture
def host(database_url, redis_url, relay_sink, tmp_path):
    [host] = make_hosts(
        1, tmp_path, database_url=database_url, redis_url=redis_url, relay_port=relay_sink.port
    )
    host.start()
    try:
        yield host
    finally:
        host.stop()


def test_f1_smtp_role_sigkilled_three_times_under_traffic_loses_nothing_and_opens_each_forward_once(
    host, relay_sink, database_url
):
    seed = time.time_ns()
    print(f"seed={seed}")
    moments = sorted(random.Random(seed).sample(range(10, COUNT - 10), KILLS))
    traffic = Traffic([host.smtp_port], executive_forwards(COUNT, f"f1.{seed}"), RATE)
    # Given a steady stream of forwards, when the SMTP role is SIGKILLed at random moments
    traffic.start()
    killed = []
    for moment in moments:
        traffic.wait_sent(moment)
        time.sleep(random.Random(seed + moment).uniform(0, 1 / RATE))
        with contextlib.suppress(AssertionError):  # most often inside a session; else between two
            wait_until(lambda: session_open(host.smtp_port), timeout=2, what="a session")
        killed.append(kill_smtp_role(host))
    traffic.join()
    with contextlib.suppress(AssertionError):  # a forward lost never drains: the check below names it
        wait_until(lambda: drained(database_url, len(traffic.answered)), timeout=60, what="the drain")
    history = check_history(
        database_url, answered=traffic.answered, cut=traffic.cut, sink=relay_sink.messages, in_flight=()
    )
    print(history.summary(), f"cut={len(traffic.cut)} refusals={dict(traffic.refusals)}")
    # Then every forward was answered 250 in the end, none lost, none opened twice
    assert len(set(killed)) == KILLS and host.running
    assert traffic.failed == set()
    assert history.problems == [], history.summary()
    assert history.answered == history.stored == history.escalations == COUNT
    assert history.forwards == history.acks == COUNT
    assert history.lost == history.different_id_duplicates == history.resends == 0
    # And nobody was ever told to give up: a refusal is a 4xx, never a 5xx
    assert all(400 <= code < 500 for code in traffic.refusals), traffic.refusals
