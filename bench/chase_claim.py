"""Scheduler claim benchmark: the tick's claim query on a large escalations table.

Fills a fresh SQLite database (migrated with qmark's own migrations) with --total
escalations, --open of them open with their next chase slot in the future, the rest
closed (chase_at NULL). Then times ``pipeline.store.chases.claim_due`` — the exact
statement the scheduler tick runs — in a write transaction that is rolled back after
each run, so every run sees the same table:

* nothing due: the common tick;
* --due escalations due at once (their chase_at moved into the past).

It does this at two table sizes (--total/10 and --total rows) to show the time does
not grow with the table (the ``chase_at`` index). Targets (issue 4): <= 1 ms when
nothing is due, <= 50 ms for 500 due. Prints readable lines and ``RESULT {json}``;
exits 0 when the run completed, whether or not a target was met.

    .venv/bin/python bench/chase_claim.py [--total 1000000] [--open 100000] [--due 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from pipeline.store import chases
from pipeline.store.migrate import upgrade

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
COLUMNS = (
    "id, state, executive, executive_name, owner, owner_name, route, deadline, opened_at, closed_at,"
    " subject, customer, executive_note, source_message_id, dedupe_key, explanation, writeup,"
    " root_cause_at, extended, reopened, clock_business, chase_phase, chase_slot, chase_at, paused_seconds"
)
INSERT = text(
    f"insert into escalations ({COLUMNS}) values (:id, :state, 'dana.chief@acme.test', 'Dana',"
    " 'pat.owner@acme.test', 'Pat', 'billing', :deadline, :opened, :closed, 'Charged twice', 'c@x.test',"
    " '?', :id, :key, '', '{}', :rc, 0, 0, 0, 1, 0, :chase, 0)"
)


def stamp(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=None).isoformat(sep=" ") if moment else None


def fill(url: str, start: int, count: int, open_every: int) -> None:
    """Insert escalations start..start+count-1; every open_every-th is open, due in 1-48 hours."""
    engine = create_engine(url)
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for number in range(start, start + count):
            is_open = number % open_every == 0
            opened = NOW - timedelta(days=number % 365)
            chase = NOW + timedelta(hours=1 + number % 48) if is_open else None
            batch.append(
                {
                    "id": number,
                    "state": "awaiting_explanation" if is_open else "closed",
                    "deadline": stamp(NOW + timedelta(hours=50)),
                    "opened": stamp(opened),
                    "closed": None if is_open else stamp(opened + timedelta(days=2)),
                    "key": f"k{number}",
                    "rc": None if is_open else stamp(opened + timedelta(days=2)),
                    "chase": stamp(chase),
                }
            )
            if len(batch) == 20_000:
                conn.execute(INSERT, batch)
                batch.clear()
        if batch:
            conn.execute(INSERT, batch)
    engine.dispose()


def time_claim(url: str, due: int, runs: int) -> tuple[list[float], int]:
    """Milliseconds per claim over ``runs`` (each rolled back), and how many rows the last claimed."""
    engine = create_engine(url)
    timings: list[float] = []
    claimed = 0
    with engine.connect() as conn:
        for _ in range(runs):
            with conn.begin() as tx:
                if due:  # make ``due`` open escalations due now, inside the rolled-back transaction
                    conn.execute(
                        text(
                            "update escalations set chase_at = :past where id in"
                            " (select id from escalations where chase_at is not null order by id limit :due)"
                        ),
                        {"past": stamp(NOW - timedelta(minutes=1)), "due": due},
                    )
                began = time.perf_counter()
                numbers = chases.claim_due(conn, now=NOW, lease=timedelta(minutes=2), limit=500)
                timings.append((time.perf_counter() - began) * 1000)
                claimed = len(numbers)
                tx.rollback()
    engine.dispose()
    return timings, claimed


def summary(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=500)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    open_every = max(1, args.total // args.open)
    result: dict[str, object] = {"total": args.total, "open": args.open, "due": args.due}
    with tempfile.TemporaryDirectory(prefix="qmark-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        filled = 0
        for size in (args.total // 10, args.total):
            began = time.perf_counter()
            fill(url, filled + 1, size - filled, open_every)
            filled = size
            took = time.perf_counter() - began
            print(f"table: {size:>9,} escalations ({size // open_every:,} open), filled in {took:.1f} s")
            idle, _ = time_claim(url, 0, args.runs)
            busy, claimed = time_claim(url, args.due, max(20, args.runs // 10))
            idle_s, busy_s = summary(idle), summary(busy)
            print(f"  nothing due:    p50 {idle_s['p50_ms']:.3f} ms, p99 {idle_s['p99_ms']:.3f} ms")
            busy_line = f"p50 {busy_s['p50_ms']:.3f} ms, p99 {busy_s['p99_ms']:.3f} ms"
            print(f"  {args.due} due ({claimed} claimed): {busy_line}")
            result[f"rows_{size}"] = {"nothing_due": idle_s, "due": busy_s, "claimed": claimed}
    final = result[f"rows_{args.total}"]
    assert isinstance(final, dict)
    idle_ok = final["nothing_due"]["p99_ms"] <= 1.0
    busy_ok = final["due"]["p99_ms"] <= 50.0
    idle_p99, busy_p99 = final["nothing_due"]["p99_ms"], final["due"]["p99_ms"]
    print(f"nothing due p99 {idle_p99:.3f} ms (target <= 1 ms)   {'PASS' if idle_ok else 'MISS'}")
    print(f"{args.due} due p99 {busy_p99:.3f} ms (target <= 50 ms)  {'PASS' if busy_ok else 'MISS'}")
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
