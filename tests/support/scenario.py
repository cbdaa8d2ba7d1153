"""One fault run on several hosts: steady traffic, a fault halfway, drain, then the history check.

Shared by tests/e2e/test_two_hosts.py (small N) and bench/two_hosts.py (N=2000, with figures).
The fault is a callable run when half the forwards had their turn; it returns what it left
half done (:class:`tests.support.history.Stranded`): the history check allows a resend only
for those mails, and the run measures how long until the last of that work was finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.history import History, Stranded, check_history, drained, in_flight
from tests.support.hosts import Host
from tests.support.runners import wait_until
from tests.support.servers import RedisServer
from tests.support.sink import RelaySink
from tests.support.traffic import Traffic, executive_forwards

Fault = Callable[[], Stranded]


@dataclass
class Outcome:
    """The history check and the timings of one run (seconds, from the first forward's turn)."""

    history: History
    sent: int
    cut_sessions: int  # forwards whose SMTP session was cut (not refused) at least once
    fault_at: float
    fault_done_at: float  # the killed host is back (its SMTP port answers), or Redis is
    traffic_done_at: float
    drained_at: float
    stranded_done_after: float | None  # seconds from the kill to the last stranded job's completion
    stranded_jobs: int = 0  # messages being processed and mails being sent at the kill


@contextmanager
def running(hosts: list[Host]) -> Iterator[list[Host]]:
    """Start every host, stop them all afterwards (also when the run fails)."""
    try:
        for host in hosts:
            host.start()
        yield hosts
    finally:
        for host in hosts:
            host.stop()


def kill_and_restart(host: Host, database_url: str, *, down_for: float, mid_send: bool = False) -> Fault:
    """SIGKILL ``host``'s whole tree, note what was being sent, start it again ``down_for`` s later.

    With ``mid_send`` the kill waits (up to 10 s) for a moment when some mail is being sent.
    """

    def fault() -> Stranded:
        if mid_send:
            wait_until(lambda: in_flight(database_url), timeout=10, what="a mail being sent")
        host.kill()
        stranded = Stranded.now(database_url)
        time.sleep(down_for)
        host.start()
        return stranded

    return fault


def wipe_redis(server: RedisServer) -> Fault:
    """Kill Redis and start it empty on the same port: every queued job is lost, no process dies."""

    def fault() -> Stranded:
        server.restart_wiped()
        return Stranded()

    return fault


def run_with_fault(
    hosts: list[Host],
    sink: RelaySink,
    database_url: str,
    *,
    count: int,
    rate: float,
    fault: Fault,
    drain_timeout: float = 300,
) -> Outcome:
    """Send ``count`` forwards round-robin at ``rate``/s, strike ``fault`` halfway, drain, check."""
    mails = executive_forwards(count, f"r{time.time_ns()}")
    traffic = Traffic([host.smtp_port for host in hosts], mails, rate)
    start = time.monotonic()
    traffic.start()
    traffic.wait_sent(count // 2)
    fault_at = time.monotonic() - start
    stranded = fault()
    fault_done_at = time.monotonic() - start
    traffic.join()
    traffic_done_at = time.monotonic() - start
    wait_until(
        lambda: drained(database_url, len(traffic.answered)),
        timeout=drain_timeout,
        what="every forward processed and every mail sent; logs: "
        + " | ".join(host.log_tail(800) for host in hosts),
    )
    drained_at = time.monotonic() - start
    history = check_history(
        database_url, answered=traffic.answered, cut=traffic.cut, sink=sink.messages, in_flight=stranded.mails
    )
    if traffic.failed:
        history.problems.append(f"{len(traffic.failed)} forwards never answered 250 by any host")
    times = (fault_at, fault_done_at, traffic_done_at, drained_at, stranded.recovered_after(database_url))
    outcome = Outcome(history, traffic.sent, len(traffic.cut), *times)
    outcome.stranded_jobs = len(stranded.mails) + len(stranded.messages)
    return outcome
