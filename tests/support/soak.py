"""The nemesis soak (F26): a `qmark run` under steady mail while a nemesis breaks things, then the check.

:func:`soak` starts Redis (append-only, so a restart may keep its queues), the relay sink
and one `qmark run` tree (two SMTP and two worker processes) on the given database. For
``minutes`` it sends executive forwards at ``rate`` per second; the owners
(:class:`~tests.support.people.People`) answer by explanation and writeup, out-of-office,
bounce or silence; the :class:`~tests.support.nemesis.Nemesis` strikes every few seconds;
a sampler reads each role's RSS and PSS. Then the nemesis stops, the mail drains, ops
replay what the relay refused for good (``qmark dead-letters replay --all``, as the runbook
says), and :func:`~tests.support.invariants.check_invariants` holds the whole history.
Used by bench/soak.py (figures) and tests/e2e/test_soak.py (three minutes, in ``make test``).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import procs, soak_mail
from tests.support.db import scalar
from tests.support.history import drained
from tests.support.hosts import ROOT, Host, make_hosts, migrate
from tests.support.invariants import Verdict, check_invariants
from tests.support.mta import Mta
from tests.support.nemesis import Nemesis, redis_keeping_data
from tests.support.people import People
from tests.support.sink import RelaySink


@dataclass
class Sample:
    """One reading of one process: seconds into the run, role, pid, RSS and PSS in KiB."""

    at: float
    role: str
    pid: int
    rss: int
    pss: int


@dataclass
class Report:
    """What a soak did and what the check found."""

    verdict: Verdict
    forwards: int
    injected: dict[str, int]
    dead_letters_replayed: int
    latency_s: dict[str, float]
    samples: list[Sample] = field(default_factory=list)
    drained: bool = True
    seconds: float = 0.0


def soak(
    base: Path,
    database_url: str,
    *,
    minutes: float,
    rate: float,
    seed: int,
    gap: tuple[float, float] = (15.0, 30.0),
    sample_every: float = 60.0,
    drain_timeout: float = 600.0,
) -> Report:
    """One soak in ``base`` (its working directory); ``database_url`` is a fresh, empty database."""
    rng = random.Random(seed)
    redis = redis_keeping_data(base / "redis")
    redis.start()
    try:
        migrate(database_url)
        with RelaySink() as sink:
            # The lease outlasts a job's sends to a hanging relay (30 s timeout each): with a shorter
            # one the soak found a worker stuck on the relay past its claim, and a second worker
            # resending the same mail (see the note in bench/README.md).
            extra = {
                "QMARK_WORKER__PROCESSES": "2",
                "QMARK_SMTP__PROCESSES": "2",
                "QMARK_WORKER__LEASE": "90s",
            }
            host = make_hosts(
                1, base, database_url=database_url, redis_url=redis.url, relay_port=sink.port, **extra
            )[0]
            host.start()
            try:
                return _run(
                    host,
                    sink,
                    Nemesis(host, redis, sink, database_url, rng, gap=gap),
                    minutes,
                    rate,
                    sample_every,
                    drain_timeout,
                )
            finally:
                host.stop()
    finally:
        redis.stop()


def _run(
    host: Host,
    sink: RelaySink,
    nemesis: Nemesis,
    minutes: float,
    rate: float,
    sample_every: float,
    drain_timeout: float,
) -> Report:
    database_url = nemesis.database_url
    mta = Mta(host.smtp_port)
    people = People(mta, sink, nemesis.rng, run="soak")
    start = time.time()
    sampler = _Sampler(host, start, sample_every)
    sampler.start()
    nemesis.start()
    forwards = 0
    while time.time() < start + minutes * 60:
        while forwards < (time.time() - start) * rate:
            mta.submit("forward", *soak_mail.executive_forward("soak", forwards))
            forwards += 1
        people.react()
        time.sleep(0.05)
    nemesis.stop()
    done = _drain(database_url, mta, people, drain_timeout)
    replayed = int(scalar(database_url, "select count(*) from outbound_mails where state = 'dead'"))
    if replayed:
        _replay_dead_letters(host)
        done = _drain(database_url, mta, people, drain_timeout) and done
    sampler.stop()
    mta.close()
    verdict = check_invariants(
        database_url, mta, sink.messages, in_flight=nemesis.in_flight(), quiet=people.quiet
    )
    return Report(
        verdict,
        forwards,
        dict(nemesis.injected),
        replayed,
        _latency(mta, people),
        sampler.samples,
        done,
        time.time() - start,
    )


def _drain(database_url: str, mta: Mta, people: People, timeout: float) -> bool:
    """Keep the owners answering until nothing is left to send, process or deliver."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        people.react()
        if not mta.pending() and not people.waiting() and drained(database_url, 0):
            time.sleep(2)  # mail that just arrived may plan one more answer
            people.react()
            if not mta.pending() and not people.waiting() and drained(database_url, 0):
                return True
        time.sleep(0.2)
    return False


def _replay_dead_letters(host: Host) -> None:
    """What ops do once the relay takes mail again: replay every dead letter."""
    subprocess.run(
        [sys.executable, "-m", "workers.cli", "dead-letters", "replay", "--all"],
        env={**os.environ, "PYTHONPATH": str(ROOT), **host.env},
        cwd=host.workdir,
        capture_output=True,
        timeout=120,
        check=True,
    )


def _latency(mta: Mta, people: People) -> dict[str, float]:
    """Seconds from a forward's 250 to its owner forward at the relay: p50, p99, max."""
    waits = sorted(
        people.first_forward_at[mid] - d.answered_at
        for mid, d in mta.log.items()
        if d.kind == "forward" and d.answered_at and mid in people.first_forward_at
    )
    if not waits:
        return {}
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    return {"p50": round(statistics.median(waits), 2), "p99": round(p99, 2), "max": round(waits[-1], 2)}


class _Sampler:
    """Reads every role's memory each ``every`` seconds (and once at the start)."""

    def __init__(self, host: Host, start: float, every: float) -> None:
        self.host, self.start_at, self.every = host, start, every
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._read()

    def _run(self) -> None:
        self._read()
        while not self._stop.wait(self.every):
            self._read()

    def _read(self) -> None:
        assert self.host.process is not None
        supervisor = self.host.process.pid
        found = {"supervisor": [supervisor], **procs.roles(supervisor)}
        at = time.time() - self.start_at
        for role, pids in found.items():
            for pid in pids:
                memory = procs.memory_kib(pid) if role != "supervisor" else _own(pid)
                if memory is not None:
                    self.samples.append(Sample(round(at, 1), role, pid, *memory))


def _own(pid: int) -> tuple[int, int] | None:
    """The supervisor's own memory (its children are sampled as roles)."""
    try:
        fields = procs.rollup(pid)
    except OSError:
        return None
    return fields.get("Rss", 0), fields.get("Pss", 0)
