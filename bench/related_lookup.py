"""Repeat-complaint lookup benchmark: the opening's related lookup at 100,000 closed escalations.

Seeds a fresh database (migrated with qmark's own migrations) with --total closed escalations
spread over the 400 days before NOW: customers on company domains and free-mail providers,
routes with a skewed spread, complaint texts from a few dozen kinds with varying words and
numbers, a third of them with two actions (most done). Then times
``pipeline.steps.related.look_up`` — the exact lookup an opening runs: the bounded candidate
queries, the actions' progress, the pick with rapidfuzz, the earlier escalations' details — for
--openings new complaints, half from customers seen before and half from new ones. Prints p50,
p99 and max wall-clock ms per opening and this process's CPU ms per opening (the PostgreSQL
server's own CPU is not in it), on SQLite and on PostgreSQL (a throwaway cluster started the
way the test fixtures start it, or --dsn). Target (issue 11): p99 <= 5 ms. Exits 0 when the
run completed, whether or not the target was met.

    .venv/bin/python bench/related_lookup.py [--total 100000] [--openings 1000] [--dsn URL] [--only sqlite]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text

from pipeline.model.mail import Original
from pipeline.model.related import complaint_key, domain_of
from pipeline.steps.related import look_up
from pipeline.steps.services import Services
from pipeline.store.db import Database
from pipeline.store.migrate import upgrade
from pipeline.store.models import ActionRow, EscalationRow

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROUTES = ["billing"] * 5 + ["shipping"] * 4 + ["returns"] * 2 + ["key-account", "support", "web", "app"]
FREE = ["gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "orange.fr", "icloud.com"]
KINDS = [
    "charged twice for invoice", "refund not received after return", "parcel never arrived",
    "order arrived damaged box crushed", "wrong item delivered", "cannot log in to my account",
    "password reset mail never comes", "app crashes when paying", "subscription renewed without notice",
    "discount code not accepted", "invoice address wrong", "delivery late again courier",
    "tracking number does not work", "rude staff at the store", "product broke after a week",
    "warranty claim rejected", "double booking of the appointment", "newsletter after unsubscribing",
    "price changed at checkout", "voucher expired too early", "missing parts in the package",
    "payment failed but money taken", "store closed during opening hours", "hotline never answers",
]  # fmt: skip
FILLER = [
    "please",
    "help",
    "urgently",
    "again",
    "this",
    "week",
    "my",
    "family",
    "still",
    "nothing",
    "happened",
]


def customers(rng: random.Random, count: int) -> list[str]:
    """Customer addresses: 70 % on ~count/4 company domains, 30 % on free-mail providers."""
    found = []
    for n in range(count):
        domain = rng.choice(FREE) if rng.random() < 0.3 else f"company{rng.randrange(count // 4)}.example"
        found.append(f"person{n}@{domain}")
    return found


def complaint(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(KINDS)
    words = " ".join(rng.sample(FILLER, 4))
    return kind.capitalize(), f"Hello, {kind} (order {rng.randrange(99999)}). {words}. Regards"


def row(number: int, customer: str, rng: random.Random) -> dict[str, Any]:
    opened = NOW - timedelta(days=rng.uniform(1, 400))
    subject, body = complaint(rng)
    return {
        "id": number, "state": "closed", "executive": "dana.chief@acme.test", "executive_name": "Dana",
        "owner": "pat.owner@acme.test", "owner_name": "Pat", "route": rng.choice(ROUTES),
        "deadline": opened + timedelta(hours=4), "opened_at": opened, "closed_at": opened + timedelta(days=3),
        "subject": subject, "customer": customer, "executive_note": "?", "source_message_id": number,
        "dedupe_key": f"k{number}", "explanation": "", "root_cause_at": opened + timedelta(days=3),
        "writeup": {"root_cause": f"Why? The {subject.lower()} job had no check. Why? Nobody owned it."},
        "extended": False, "reopened": 0, "clock_business": False, "chase_phase": 0, "chase_slot": 0,
        "paused_seconds": 0.0, "customer_domain": domain_of(customer),
        "complaint_key": complaint_key(subject, body),
    }  # fmt: skip


def action(escalation: dict[str, Any], n: int, rng: random.Random) -> dict[str, Any]:
    closed = escalation["closed_at"]
    return {
        "escalation_id": escalation["id"], "section": "corrective_actions", "title": f"Fix {n}",
        "line": f"- Fix {n}", "owner": "pat.owner@acme.test", "due": (closed + timedelta(days=14)).date(),
        "due_at": closed + timedelta(days=14), "state": "done" if rng.random() < 0.8 else "open",
        "created_at": closed, "evidence": "", "dropped_reason": "", "due_moves": 0,
        "clock_started_at": closed, "chase_phase": 1, "chase_slot": 0,
    }  # fmt: skip


def seed(url: str, total: int, pool: list[str], rng: random.Random) -> float:
    """Insert ``total`` closed escalations (a third with two actions) in batches; returns seconds."""
    began = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as conn:
        for start in range(1, total + 1, 10_000):
            rows = [row(n, rng.choice(pool), rng) for n in range(start, min(total, start + 9_999) + 1)]
            conn.execute(insert(EscalationRow), rows)
            actions = [action(r, k, rng) for r in rows if r["id"] % 3 == 0 for k in range(2)]
            conn.execute(insert(ActionRow), actions)
        if engine.dialect.name == "postgresql":
            conn.execute(text("analyze"))
    engine.dispose()
    return time.perf_counter() - began


def time_lookups(url: str, openings: int, pool: list[str], rng: random.Random) -> dict[str, float]:
    """Wall-clock and CPU ms per opening of ``look_up``, over ``openings`` (after 50 warm-up ones)."""
    db = Database(url)
    rules = SimpleNamespace(rca=SimpleNamespace(sections=()))
    svc = cast(Services, SimpleNamespace(db=db, rules=rules))
    timings: list[float] = []
    matched = 0
    cpu_began = 0.0
    for n in range(openings + 50):
        if n == 50:
            cpu_began = time.process_time()
        repeat = n % 2 == 0
        customer = rng.choice(pool) if repeat else f"new{n}@{rng.choice([*FREE, 'fresh.example'])}"
        subject, body = complaint(rng)
        original = Original(shape="attached", sender=None, date="", subject=subject, body=body)
        began = time.perf_counter()
        found = look_up(svc, customer=customer, route=rng.choice(ROUTES), complaint=original, now=NOW)
        if n >= 50:
            timings.append((time.perf_counter() - began) * 1000)
            matched += bool(found.related.matches)
    cpu = (time.process_time() - cpu_began) * 1000 / openings
    db.dispose()
    ordered = sorted(timings)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max_ms": round(ordered[-1], 3),
        "cpu_ms": round(cpu, 3),
        "with_matches": matched,
    }


def bench(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(11)
    pool = customers(rng, args.total // 3)
    upgrade(url)
    took = seed(url, args.total, pool, rng)
    print(f"{name}: {args.total:,} closed escalations seeded in {took:.1f} s")
    result = time_lookups(url, args.openings, pool, rng)
    shown = f"p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms, max {result['max_ms']:.3f} ms"
    print(f"{name}: {args.openings} openings ({result['with_matches']} with matches): {shown};"
          f" CPU {result['cpu_ms']:.3f} ms/opening")  # fmt: skip
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--openings", type=int, default=1_000)
    parser.add_argument("--dsn", help="a PostgreSQL URL to use (its public schema is dropped!)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    results: dict[str, Any] = {"total": args.total, "openings": args.openings}
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory(prefix="qmark-bench-") as tmp:
            results["sqlite"] = bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args)
    if args.only != "sqlite":
        results["postgresql"] = with_postgres(args)
    for name in ("sqlite", "postgresql"):
        if name in results:
            p99 = results[name]["p99_ms"]
            print(f"{name} p99 {p99:.3f} ms (target <= 5 ms)  {'PASS' if p99 <= 5 else 'MISS'}")
    print("RESULT " + json.dumps(results))
    return 0


def with_postgres(args: argparse.Namespace) -> dict[str, Any]:
    server = None
    url = args.dsn
    if url is None:
        from tests.support.servers import PostgresServer

        server = PostgresServer()
        server.start()
        url = server.url
    try:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("drop schema public cascade; create schema public"))
        engine.dispose()
        return bench("postgresql", url, args)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
