"""The nemesis soak (F26): steady mail for --minutes while a nemesis breaks things; then I1–I6 over all of it.

One `qmark run` tree (two SMTP and two worker processes) on SQLite (default) or a
throw-away PostgreSQL, with Redis keeping an append-only file and the relay sink. Executive
forwards arrive at --rate per second; each owner explains and sends the writeup, or only an
out-of-office answers, or a bounce, or nothing (tests/support/people.py). Every 15–30 s
(--gap) the nemesis does one of: SIGKILL a worker, the SMTP edge or the scheduler; SIGKILL
Redis and start it with its data or empty; make the relay answer 4xx, 5xx or hang; hold the
database's write lock for a few seconds (tests/support/nemesis.py). It spares the oldest
SMTP and worker process, so they live the whole run and show whether memory grows.

Afterwards the mail drains, ops replay the dead letters the 5xx spells left, and the history
check runs (tests/support/invariants.py). Printed: messages by kind, outcomes, faults injected
by kind, lost (must be 0), different-Message-ID duplicates (must be 0), same-Message-ID resends
against the mails in flight at a kill, 5xx answers (must be 0), the forward-to-owner latency
(p50/p99/max, faults included), and each role's RSS/PSS every --sample-every seconds with its
growth after --warmup minutes (must stay under 10%). Then one ``RESULT {json}`` line.

Exit 0 when every rule held and memory stayed flat; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.servers import PostgresServer  # noqa: E402
from tests.support.soak import Report, Sample, soak  # noqa: E402

GROWTH_LIMIT = 0.10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1.0, help="executive forwards per second (default 1)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--gap", type=float, nargs=2, default=(15.0, 30.0), help="seconds between faults")
    parser.add_argument("--sample-every", type=float, default=60.0, help="seconds between memory readings")
    parser.add_argument("--warmup", type=float, default=None, help="minutes before memory must stay flat")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    return parser.parse_args(argv)


def memory(samples: list[Sample], warmup_s: float) -> dict[str, dict[str, object]]:
    """Per process that lived the whole run after warm-up: PSS then and at the end, and the growth."""
    by_pid: dict[tuple[str, int], list[Sample]] = defaultdict(list)
    for sample in samples:
        by_pid[(sample.role, sample.pid)].append(sample)
    end = max(s.at for s in samples)
    out: dict[str, dict[str, object]] = {}
    for (role, pid), series in sorted(by_pid.items()):
        after = [s for s in series if s.at >= warmup_s]
        if not after or series[0].at > warmup_s or series[-1].at < end - 1:
            continue  # killed or started during the run: it never had a steady state to compare
        first, last = after[0], after[-1]
        out[f"{role}:{pid}"] = {
            "pss_mib": [round(s.pss / 1024, 1) for s in series],
            "rss_mib_last": round(last.rss / 1024, 1),
            "growth": round(last.pss / first.pss - 1, 3) if first.pss else 0.0,
        }
    return out


def report(args: argparse.Namespace, result: Report) -> dict[str, object]:
    verdict, history = result.verdict, result.verdict.history
    warmup = args.warmup if args.warmup is not None else min(10.0, args.minutes / 3)
    flat = memory(result.samples, warmup * 60)
    figures: dict[str, object] = {
        "minutes": args.minutes,
        "database": args.database,
        "seed": args.seed,
        "forwards_sent": result.forwards,
        "answered_250_by_kind": dict(verdict.answered_by_kind),
        "messages_answered_250": history.answered,
        "outcomes": dict(verdict.outcomes),
        "faults_injected": result.injected,
        "faults_total": sum(result.injected.values()),
        "escalations": history.escalations,
        "closed": verdict.closed,
        "open": verdict.open_escalations,
        "lost": history.lost,
        "stored_twice_after_cut_session": history.stored_twice_after_cut,
        "different_message_id_duplicates": history.different_id_duplicates,
        "same_message_id_resends": history.resends,
        "mails_in_flight_at_kills": history.in_flight,
        "answered_5xx": verdict.refused_5xx,
        "dead_letters_replayed_by_ops": result.dead_letters_replayed,
        "forward_to_owner_latency_s": result.latency_s,
        "drained": result.drained,
        "wall_s": round(result.seconds, 1),
        "memory_warmup_min": warmup,
        "memory": flat,
        "max_growth_after_warmup": max((v["growth"] for v in flat.values()), default=None),
        "problems": verdict.problems[:30],
    }
    for key, value in figures.items():
        if key not in ("problems", "memory"):
            print(f"{key:<32}  {value}")
    for name, figure in flat.items():
        print(f"memory {name:<24} growth {figure['growth']:+.1%}  PSS MiB {figure['pss_mib']}")
    for problem in verdict.problems[:30]:
        print(f"PROBLEM {problem}")
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="qmark-soak-"))
    postgres = PostgresServer() if args.database == "postgresql" else None
    if postgres is not None:
        postgres.start()
    url = postgres.url if postgres is not None else f"sqlite:///{base / 'qmark.db'}"
    try:
        result = soak(
            base,
            url,
            minutes=args.minutes,
            rate=args.rate,
            seed=args.seed,
            gap=tuple(args.gap),
            sample_every=args.sample_every,
            drain_timeout=args.drain_timeout,
        )
    finally:
        if postgres is not None:
            postgres.stop()
    figures = report(args, result)
    print("RESULT " + json.dumps(figures))
    growth = figures["max_growth_after_warmup"]
    flat = growth is None or float(growth) <= GROWTH_LIMIT  # type: ignore[arg-type]
    return 0 if result.drained and not result.verdict.problems and flat else 1


if __name__ == "__main__":
    sys.exit(main())
