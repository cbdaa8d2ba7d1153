"""Two hosts, one dies: N executive forwards round-robin to two `qmark run` trees, one SIGKILLed halfway.

Starts its own throw-away PostgreSQL, Redis and relay sink (tests/support/servers.py, sink.py),
migrates the database once, then two `qmark run` trees (tests/support/hosts.py), each with its
own working directory, ports and process group, sharing the database, Redis, secret key and
rules. It sends --count forwards at --rate per second, alternating between the two SMTP
ports (a failed session is retried on the other, as an MTA tries the next MX). When half had
their turn it waits for a mail being sent, SIGKILLs host B's whole tree (os.killpg) and starts
it again --down seconds later (--fault wipe-redis instead restarts Redis empty). The sink
records each mail --relay-delay seconds before its 250, like a relay that takes its time: a
kill in that window strands a mail the relay already has, which is sent again (same Message-ID).
It waits until every stored message is processed and every mail sent, then runs the history
check (tests/support/history.py) and prints: sent, answered 250, stored, escalations,
forwards and acks at the sink, lost, different-Message-ID duplicates, same-Message-ID resends
with their in-flight bound, when host B was back, the drain after the last send, and how long
after the kill the work it stranded was done. Then one `RESULT {json}` line.

Exit 0 when the run completed and every rule held; 1 when a rule broke or the run did not drain.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.hosts import make_hosts, migrate  # noqa: E402
from tests.support.scenario import Outcome, kill_and_restart, run_with_fault, running, wipe_redis  # noqa: E402
from tests.support.servers import PostgresServer, RedisServer  # noqa: E402
from tests.support.sink import RelaySink  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="forwards to send (default 2000)")
    parser.add_argument("--rate", type=float, default=25.0, help="forwards per second (default 25)")
    parser.add_argument("--down", type=float, default=10.0, help="seconds host B stays dead (default 10)")
    parser.add_argument("--fault", choices=("kill", "wipe-redis"), default="kill")
    parser.add_argument(
        "--relay-delay",
        type=float,
        default=0.05,
        help="seconds the relay sink waits between recording a mail and its 250 (default 0.05)",
    )
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    return parser.parse_args(argv)


def report(args: argparse.Namespace, outcome: Outcome) -> dict[str, object]:
    history = outcome.history
    figures: dict[str, object] = {
        "count": args.count,
        "rate": args.rate,
        "fault": args.fault,
        "down_s": args.down if args.fault == "kill" else 0,
        "relay_delay_s": args.relay_delay,
        "sent": outcome.sent,
        "answered_250": history.answered,
        "smtp_sessions_cut": outcome.cut_sessions,
        "stored": history.stored,
        "stored_twice_after_cut_session": history.stored_twice_after_cut,
        "escalations": history.escalations,
        "forwards_at_sink": history.forwards,
        "acks_at_sink": history.acks,
        "lost": history.lost,
        "different_message_id_duplicates": history.different_id_duplicates,
        "same_message_id_resends": history.resends,
        "in_flight_at_kill": history.in_flight,
        "fault_at_s": round(outcome.fault_at, 1),
        "traffic_done_s": round(outcome.traffic_done_at, 1),
        "drained_s": round(outcome.drained_at, 1),
        "back_up_at_s": round(outcome.fault_done_at, 1),
        "drain_after_last_send_s": round(outcome.drained_at - outcome.traffic_done_at, 1),
        "stranded_jobs_at_kill": outcome.stranded_jobs,
        "stranded_done_after_kill_s": _rounded(outcome.stranded_done_after),
        "problems": history.problems[:20],
    }
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        if key != "problems":
            print(f"{key:<{width}}  {value}")
    for problem in history.problems[:20]:
        print(f"PROBLEM {problem}")
    return figures


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="qmark-two-hosts-"))
    postgres, redis_server = PostgresServer(), RedisServer(base / "redis")
    postgres.start()
    redis_server.start()
    try:
        migrate(postgres.url)
        with RelaySink(answer_delay=args.relay_delay) as sink:
            hosts = make_hosts(
                2, base, database_url=postgres.url, redis_url=redis_server.url, relay_port=sink.port
            )
            fault = (
                kill_and_restart(hosts[1], postgres.url, down_for=args.down, mid_send=True)
                if args.fault == "kill"
                else wipe_redis(redis_server)
            )
            with running(hosts):
                outcome = run_with_fault(
                    hosts,
                    sink,
                    postgres.url,
                    count=args.count,
                    rate=args.rate,
                    fault=fault,
                    drain_timeout=args.drain_timeout,
                )
        figures = report(args, outcome)
        print("RESULT " + json.dumps(figures))
        return 1 if outcome.history.problems else 0
    finally:
        redis_server.stop()
        postgres.stop()


if __name__ == "__main__":
    sys.exit(main())
