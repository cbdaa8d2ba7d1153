"""Where qmark's PostgreSQL time goes: wait-event sampling of its backends, for bench/ingest.py.

A sampler process (``ingest.py --serve pgwait --dsn URL``) keeps one autocommit connection
and, every --interval (10 ms), reads ``pg_stat_activity`` for every client backend but its
own: application_name (qmark's roles name their sessions ``qmark-<role>``), state,
wait_event_type and wait_event. A backend seen in a state in S of the samples spent about
S x interval seconds in it (statistical sampling, as pg_wait_sampling does): the estimate
of a state holding 1 % of a backend's time over 10 s is ~10 samples, good to about ±30 %.
Between "start" and "stop" (lines on its stdin) it also reads the difference of
``pg_stat_wal`` (WAL fsyncs and, with track_wal_io_timing on, their time) and
``pg_stat_database`` (commits, rollbacks), and prints one JSON object.

Classes of a sample (:func:`wait_class`):

* ``lock`` — waiting for a heavyweight lock (``Lock``: row, transaction id, relation) or
  an LWLock other than the WAL ones (buffer content, lock manager, ...);
* ``commit`` — waiting for the WAL to reach disk: ``IO`` WALSync / WALWrite (this backend
  flushes) and ``LWLock`` WALWrite / WALInsert (another backend's flush includes ours: the
  server's own group commit);
* ``cpu`` — active with no wait event: running a statement;
* ``io`` — other I/O (data files; none expected, everything is in shared buffers);
* ``in_txn`` — idle in transaction: the server waits for qmark inside a transaction (qmark's
  own work, or its way to the server, while the transaction is open);
* ``idle`` — no transaction open (pooled connection between transactions);
* ``other`` — anything else (IPC, Timeout, ...).

The share that matters is the lock and commit seconds of the worker backends against the
seconds worker threads spent in steps (jobs): qmark's Prometheus histogram
``dramatiq_message_duration_milliseconds_sum`` at /metrics, read before and after.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ACTIVITY = (
    "SELECT coalesce(application_name, ''), coalesce(state, ''), coalesce(wait_event_type, ''),"
    " coalesce(wait_event, '') FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
)
TOTALS = (
    "SELECT w.wal_sync, w.wal_sync_time, w.wal_write, w.wal_write_time, w.wal_bytes,"
    " d.xact_commit, d.xact_rollback FROM pg_stat_wal w, pg_stat_database d"
    " WHERE d.datname = current_database()"
)
TOTAL_NAMES = ("wal_sync", "wal_sync_ms", "wal_write", "wal_write_ms", "wal_bytes", "commits", "rollbacks")
CLASSES = ("cpu", "lock", "commit", "io", "in_txn", "idle", "other")


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://) as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def serve(dsn: str, interval: float) -> None:
    """The sampler process: READY <its backend pid>; samples from "start" to "stop"; one JSON line."""
    import psycopg

    conn = psycopg.connect(libpq_url(dsn), autocommit=True, application_name="qmark-bench-sampler")
    print(f"READY {conn.info.backend_pid}", flush=True)
    if sys.stdin.readline().strip() != "start":
        return
    stopped = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stopped.set()), daemon=True).start()
    first = conn.execute(TOTALS).fetchone() or ()
    counts: Counter[str] = Counter()
    samples, started = 0, time.monotonic()
    while not stopped.is_set():
        for row in conn.execute(ACTIVITY):
            counts["\t".join(row)] += 1
        samples += 1
        time.sleep(max(0.0, started + samples * interval - time.monotonic()))
    seconds = time.monotonic() - started
    last = conn.execute(TOTALS).fetchone() or ()
    totals = {
        name: float(b or 0) - float(a or 0) for name, a, b in zip(TOTAL_NAMES, first, last, strict=False)
    }
    print(
        json.dumps({"samples": samples, "seconds": seconds, "counts": counts, "totals": totals}), flush=True
    )


def wait_class(state: str, kind: str, event: str) -> str:
    """One sample's class (see the module docstring)."""
    if state == "idle":
        return "idle"
    if state.startswith("idle in transaction"):
        return "in_txn"
    if not kind:
        return "cpu"
    if kind == "Lock":
        return "lock"
    if kind in ("LWLock", "IO") and event.startswith("WAL"):
        return "commit"
    if kind == "LWLock":
        return "lock"
    return "io" if kind == "IO" else "other"


def role_of(application_name: str) -> str:
    """``qmark-worker`` -> ``worker``; other sessions (psql, ...) are ``other``."""
    return application_name.removeprefix("qmark-") if application_name.startswith("qmark-") else "other"


class Sampler:
    """The sampler process, started now and sampling between :meth:`start` and :meth:`stop`."""

    def __init__(self, script: Path, dsn: str, interval: float = 0.01) -> None:
        argv = [sys.executable, str(script), "--serve", "pgwait", "--dsn", dsn, "--interval", str(interval)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = (self.proc.stdout.readline() if self.proc.stdout else "").split()
        if ready[:1] != ["READY"]:
            raise RuntimeError(f"the wait sampler did not start (exit {self.proc.wait()})")
        self.backend_pid = int(ready[1])

    def _say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def start(self) -> None:
        self._say("start")

    def stop(self) -> dict[str, Any]:
        """Seconds per role and class of qmark's backends, the sample count and the WAL/commit totals."""
        self._say("stop")
        assert self.proc.stdout is not None
        raw = json.loads(self.proc.stdout.readline())
        self.proc.wait(10)
        tick = raw["seconds"] / max(1, raw["samples"])
        seconds: dict[str, Counter[str]] = {}
        for key, count in raw["counts"].items():
            name, state, kind, event = key.split("\t")
            seconds.setdefault(role_of(name), Counter())[wait_class(state, kind, event)] += count * tick
        return {"samples": raw["samples"], "seconds": raw["seconds"], "by_role": seconds, **raw["totals"]}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def step_ms(metrics: str) -> float:
    """Sum of ``dramatiq_message_duration_milliseconds_sum`` over actors in a /metrics text."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("dramatiq_message_duration_milliseconds_sum"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def report(waits: dict[str, Any], step_seconds: float, escalations: int) -> dict[str, Any]:
    """The figures the bench prints: worker lock and commit waits as shares of step time, and more."""
    worker = waits["by_role"].get("worker", Counter())
    smtp = waits["by_role"].get("smtp", Counter())
    share = {key: round(100 * worker[key] / step_seconds, 2) if step_seconds else None for key in CLASSES}
    per = max(1, escalations)
    return {
        "step_seconds": round(step_seconds, 2),
        "worker_backend_seconds": {k: round(worker[k], 3) for k in CLASSES},
        "worker_share_of_step_pct": share,
        "smtp_backend_seconds": {k: round(smtp[k], 3) for k in CLASSES},
        "phase_seconds": round(waits["seconds"], 2),
        "samples": waits["samples"],
        # The sampler's own queries are autocommit transactions: one per sample, and the totals'.
        "transactions_per_escalation": round((waits.get("commits", 0) - waits["samples"] - 1) / per, 2),
        "wal_fsyncs_per_escalation": round(waits.get("wal_sync", 0) / per, 2),
        "wal_fsync_ms_per_escalation": round(waits.get("wal_sync_ms", 0) / per, 3),
        "wal_kb_per_escalation": round(waits.get("wal_bytes", 0) / per / 1024, 1),
    }
