"""Ingest benchmark: how fast qmark accepts "?" mail and turns it into owner forwards.

One run, all on 127.0.0.1, three phases:

1. bare: a separate process runs aiosmtpd with a handler that only answers "250 OK";
   N messages over K connections give its accepted msgs/s and SMTP reply p50/p99.
2. qmark flat out: the same N messages over K connections: accepted msgs/s, reply p50/p99
   (durable accept); then escalations/s = owner forwards / (first send -> last forward at
   the relay sink) and accept->forward p50/p99.
3. qmark paced: --rate escalations/s for --rate-seconds on two connections: accept->forward
   and reply p50/p99 well below the ceiling.
It prints qmark's rates as ratios to the bare server against the issue's targets (durable
accept >= 0.5x bare, end-to-end >= 0.15x bare, accept->forward p99 <= 250 ms at 20/s), the
peak RSS of qmark's process tree (VmRSS sampled every 0.2 s, total and per role) and, per
phase, the CPU each role spent per message (from /proc; "other" = processes outside this
run, the machine is shared).

Mail: tests/mail/gmail-forward.eml and attached-rfc822.eml, alternating, grown to ~4-5 KB
with a realistic header block and a longer complaint; each has a unique Message-ID (qmark
de-duplicates on it) and a token "bench-<run>-<seq>" in the complaint's subject, which the
owner's forward repeats ("[Q-n] ? <subject>"). The load generator is K threads, each with one
blocking socket speaking SMTP in lock-step (lean on purpose: it shares the cores with qmark).
Reply latency = end of DATA written -> 250 read; accept->forward = 250 read -> the sink holds
the forward's final "." (CLOCK_MONOTONIC, system-wide on Linux). The sink is a lean asyncio
SMTP server in its own process, so it takes no CPU from the load generator's GIL.

By default the bench starts a throw-away redis-server, a temporary SQLite database (`qmark db
upgrade`), the sink and `qmark run` on rules/examples/acme, and stops and removes all of it at
the end, also on Ctrl-C. --target HOST:PORT drives a running qmark instead; its outbound relay
must point at --sink-listen HOST:PORT, which the bench opens.

--database sqlite,postgres (or a postgresql+psycopg:// URL) measures the bare server once,
then qmark on each database in turn, each with a fresh Redis, database and `qmark run`, and
prints them side by side with the ratios to the same bare figure. `postgres` starts a
throw-away PostgreSQL with its durable defaults (fsync and synchronous_commit on), on the same
two cores: its server processes are the role "postgres" in the CPU table (backends that end
during a phase count through the postmaster's reaped-children CPU).

Where the time goes on PostgreSQL (bench/pg_waits.py): during the flat-out phase a sampler
process reads pg_stat_activity every --sample-interval (10 ms) and classes each qmark backend
(named qmark-<role> by `qmark run`) as on CPU, waiting on a lock (Lock, LWLock other than WAL),
waiting on commit (IO WALSync/WALWrite, LWLock WALWrite/WALInsert), idle in transaction or
idle; samples x interval estimate each backend's seconds in each class. The worker backends'
lock and commit seconds are divided by the seconds worker threads spent in steps (Dramatiq's
dramatiq_message_duration_milliseconds_sum at qmark's /metrics, before and after the phase):
"lock wait %" and "commit wait %" of step time. pg_stat_wal and pg_stat_database add WAL fsyncs
(and their time: the server runs with track_wal_io_timing on) and transactions per escalation.
The sampler and its backend are the role "sampler" (not qmark's, not postgres').

Projected escalations/s per added worker core = 1000 / (worker CPU ms per escalation, flat out),
assuming the database and Redis run elsewhere with headroom, one worker process per core, and
that a step costs the same CPU on a bigger machine: it holds while lock and commit waits stay a
small share of step time (no queueing on the database as workers are added).

Output: readable lines, then `RESULT {json}`. Exit 0 when the run completed, whether or not a
target was met; 1 when it broke (e.g. forwards never arrived); 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import pg_waits  # noqa: E402
from tests.support.servers import PostgresServer  # noqa: E402

TOKEN = re.compile(rb"bench-([0-9a-f]{6})-(\d{7})")
TICK = os.sysconf("SC_CLK_TCK")
RAW = argparse.RawDescriptionHelpFormatter
_SIG = base64.b64encode(hashlib.sha512(b"qmark-bench").digest() * 4).decode()
EXTRA_HEADERS = """\
Received: by mail-sor-f41.google.com with SMTP id 5b1f17b1804b1-4b3f0e1a2c5so1234567f8f.2
\tfor <escalations@acme.test>; Mon, 23 Nov 2026 01:12:41 -0800 (PST)
Received: from [192.168.1.23] (host-81-2-3-4.example.net. [81.2.3.4])
\tby smtp.gmail.com with ESMTPSA id 5b1f17b1804b1-4b3f0e1a2c5sm1234567f8f.12
\tfor <escalations@acme.test>; Mon, 23 Nov 2026 01:12:40 -0800 (PST)
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.test; s=20230601;
\tt=1795425161; x=1796029961; h=to:subject:message-id:date:from:mime-version;
\tbh=8sVq0Hk3yK9mV7sX2pQ1oXyJr4fN2wB8Z1aTq0Lr6uE=;
\tb=SIG
X-Gm-Message-State: AOJu0YwX9pL3kR2mQ8sT5vN1bH7cF4dG6jK0aZ2yE8uW3iO5pM1nB9qV
\tr7T4xS6wC2eD0fA8gH1jL3kZ5mN7bV9cX2zQ4wE6rT8yU0iO
X-Google-Smtp-Source: AGHT+IFq1f0uGx3XoB2mXb8o1yWc9v7Zk4qL2n5s8TtR0aYpWfQe3vK
X-Received: by 2002:a05:600c:1c1f:b0:43b:c0fa:f9c3 with SMTP id 5b1f17b1804b1-43bc0faf9c3mr12f8f;
\tMon, 23 Nov 2026 01:12:41 -0800 (PST)
""".replace("SIG", "\n\t".join(_SIG[i : i + 72] for i in range(0, len(_SIG), 72)))
PADDING = """\
What I have tried so far: on 20 November I called your hotline at 10:15 and
waited 40 minutes before the line dropped; nobody called back, although the
recording promised it. On 21 November I used the contact form on your website
(reference WEB-88213); the automatic answer said someone would reply within 24
hours. On 22 November I wrote to your billing team with both statement lines
attached. No answer so far, not even an acknowledgement.

Customer number C-2024-00917, invoice 4411 of 18 November 2026, EUR 249.00,
charged twice to my Visa card ending 0042 (total EUR 498.00), both on 19 November
as "ACME ONLINE SERVICES".

I have been your customer for six years and never had a problem like this. I
expect the duplicate charge to be refunded within the week, a written
confirmation, and an explanation of how this happened, so that I can be sure it
will not happen again with the next invoice. If I do not hear from you by Friday
I will ask my bank to reverse the charge and reconsider the renewal of our
contract, which is due in January. My colleague in accounting also needs a
corrected invoice: the current one shows the amount once, not what was taken.

--
Jordan Buyer, Head of Operations, Shop Example Ltd.
12 Market Street, 10115 Berlin, Germany, phone +49 30 1234567

This e-mail and any attachments are confidential and intended solely for the
addressee. If you have received it in error, please notify the sender and delete
it. Any use, disclosure or copying by anyone else is not permitted.
"""


def build_messages(count: int, run: str) -> list[bytes]:
    """DATA payloads (CRLF, dot-stuffed, ending in CRLF.CRLF); the one for ``seq`` at index seq."""
    texts = [(ROOT / "tests" / "mail" / f).read_text() for f in ("gmail-forward.eml", "attached-rfc822.eml")]
    out = []
    for seq in range(count):
        text = texts[seq % 2].replace("\nFrom: ", f"\n{EXTRA_HEADERS}From: ", 1)
        text = text.replace("confirm by email.\n", f"confirm by email.\n\n{PADDING}")
        subject = "Charged twice for invoice 4411"
        text = text.replace(subject, f"{subject} bench-{run}-{seq:07d}")
        mid = f"Message-ID: <bench.{run}.{seq}@mail.gmail.com>"
        text = re.sub(r"(?m)^Message-ID: <[^>]*>", mid, text, count=1)
        lines = re.split(r"\r\n|\r|\n", text.rstrip("\r\n"))
        out.append("".join(("." if ln[:1] == "." else "") + ln + "\r\n" for ln in lines).encode() + b".\r\n")
    return out


# The load generator -----------------------------------------------------------------------------


class Client:
    """One SMTP connection on a blocking socket, commands in lock-step (no pipelining)."""

    def __init__(self, addr: tuple[str, int]) -> None:
        self.sock = socket.create_connection(addr, timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.reply()
        self.command(b"EHLO bench.test\r\n")

    def reply(self) -> bytes:
        """The last line of the next (possibly multi-line) reply."""
        while True:
            while (end := self.buf.find(b"\r\n")) >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2 :]
                if line[3:4] != b"-":
                    return line
            if not (chunk := self.sock.recv(65536)):
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def command(self, line: bytes) -> bytes:
        self.sock.sendall(line)
        return self.reply()

    def send(self, payload: bytes) -> tuple[float, float, bytes]:
        """One transaction: (end of DATA written, reply read, reply line)."""
        for line in (b"MAIL FROM:<dana.chief@acme.test>\r\n", b"RCPT TO:<escalations@acme.test>\r\n"):
            if not (reply := self.command(line)).startswith(b"2"):
                self.command(b"RSET\r\n")
                return 0.0, 0.0, reply
        if not (reply := self.command(b"DATA\r\n")).startswith(b"354"):
            return 0.0, 0.0, reply
        self.sock.sendall(payload)
        written = time.monotonic()
        reply = self.reply()
        return written, time.monotonic(), reply

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.command(b"QUIT\r\n")
        self.sock.close()


@dataclass
class Load:
    """One load run: per accepted seq the time of its 250, reply latencies, refusals, errors."""

    started: float = 0.0
    accepted: dict[int, float] = field(default_factory=dict)
    latency: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def run_load(addr: tuple[str, int], payloads: list[bytes], seqs: range, conns: int, rate: float = 0) -> Load:
    """Send ``seqs`` over ``conns`` connections back-to-back, or paced at ``rate`` msgs/s overall."""
    clients = [Client(addr) for _ in range(conns)]
    load, lock, todo = Load(), threading.Lock(), iter(enumerate(seqs))

    def work(client: Client) -> None:
        try:
            while True:
                with lock:
                    i, seq = next(todo, (-1, -1))
                if seq < 0:
                    return
                if rate and (delay := load.started + i / rate - time.monotonic()) > 0:
                    time.sleep(delay)
                written, replied, line = client.send(payloads[seq])
                if line.startswith(b"250"):
                    load.accepted[seq] = replied
                    load.latency.append(replied - written)
                else:
                    load.refused[line.decode(errors="replace")[:60]] += 1
        except OSError as error:
            load.errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    load.started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return load


# The sink and the bare server, each in its own process (`ingest.py --serve sink|bare`) ----------


async def serve_sink(host: str, port: int) -> None:
    """A lean relay sink; prints "<F|A|?> <run> <seq> <monotonic time>" for each mail it accepts."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink.bench ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-sink.bench\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                data = await reader.readuntil(b"\r\n.\r\n")
                now, head = time.monotonic(), data[: data.find(b"\r\n\r\n")]
                kind = b"F" if b".owner_forward." in head else b"A" if b".executive_ack." in head else b"?"
                token = TOKEN.search(head) or TOKEN.search(data)
                ids = b" ".join(token.groups()) if token else b"- -"
                sys.stdout.buffer.write(b"%s %s %.6f\n" % (kind, ids, now))
                sys.stdout.buffer.flush()
                writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, host, port, limit=1 << 26)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


async def serve_bare(host: str, port: int) -> None:
    """aiosmtpd as qmark's SMTP edge configures it, with a handler that only answers 250."""
    from aiosmtpd.smtp import SMTP

    class Noop:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    def factory() -> SMTP:
        return SMTP(Noop(), data_size_limit=25 << 20, enable_SMTPUTF8=True, hostname="bare.bench")

    server = await asyncio.get_running_loop().create_server(factory, host, port)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


def serve_process(kind: str, listen: str, stack: contextlib.ExitStack) -> tuple[subprocess.Popen[bytes], int]:
    argv = [sys.executable, __file__, "--serve", kind, "--sink-listen", listen]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, start_new_session=True)
    stack.callback(stop, proc)
    ready = proc.stdout.readline().split() if proc.stdout else []
    if ready[:1] != [b"READY"]:
        raise RuntimeError(f"{kind} server did not start (exit {proc.wait()})")
    return proc, int(ready[1])


class Sink:
    """The sink process and what it saw of this run: per seq, when its forward and its ack arrived."""

    def __init__(self, listen: str, run: str, stack: contextlib.ExitStack) -> None:
        self.proc, self.port = serve_process("sink", listen, stack)
        self.run = run.encode()
        self.forwards: dict[int, float] = {}
        self.acks: dict[int, float] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, run, seq, at = line.split()
            if run == self.run:
                (self.forwards if kind == b"F" else self.acks)[int(seq)] = float(at)

    def wait(self, seqs: list[int], timeout: float, arrived: dict[int, float]) -> bool:
        """Until every seq is in ``arrived`` (forwards or acks): True, or after ``timeout`` s: False."""
        deadline = time.monotonic() + timeout
        while not all(s in arrived for s in seqs):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


# Processes: start, stop, and their CPU and RSS from /proc --------------------------------------


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait; SIGKILL the process group it leads (started in a new session) after 60 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, CPU in clock ticks), for every process.

    The CPU is user + system, plus that of its exited children it has waited for (cutime +
    cstime): PostgreSQL backends that end during a phase (a pool closing connections) count
    for the postmaster that reaped them.
    """
    table = {}
    for entry in os.scandir("/proc"):
        with contextlib.suppress(OSError):
            if entry.name.isdigit():
                fields = Path(entry.path, "stat").read_bytes().rsplit(b")", 1)[1].split()
                table[int(entry.name)] = (int(fields[1]), sum(map(int, fields[11:15])))
    return table


_ROLE: dict[int, str] = {}


def qmark_role(pid: int) -> str:
    """smtp, worker, scheduler or http from a `qmark run` child's command line; "run" for the supervisor."""
    if pid not in _ROLE:
        with contextlib.suppress(OSError):
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            _ROLE[pid] = next(
                (r for r in ("smtp", "worker", "scheduler", "http") if r.encode() in args), "run"
            )
    return _ROLE.get(pid, "run")


@dataclass
class Procs:
    """The processes of this run; ``roles`` maps each live pid to what it is."""

    qmark: int | None = None
    named: dict[int, str] = field(default_factory=dict)  # redis, sink, bare, postgres (its tree), sampler

    def roles(self, table: dict[int, tuple[int, int]]) -> dict[int, str]:
        """Named pids and their descendants by name (a named descendant keeps its own); qmark's by role."""
        roles, children = {os.getpid(): "bench"}, defaultdict(list)
        for pid, (ppid, _) in table.items():
            children[ppid].append(pid)
        todo = [(pid, name) for pid, name in self.named.items() if pid in table]
        todo += [(self.qmark, "")] if self.qmark in table else []
        while todo:
            pid, inherited = todo.pop()
            roles[pid] = role = self.named.get(pid) or inherited or qmark_role(pid)
            todo += [(child, role if inherited else "") for child in children[pid]]
        return roles


def cpu_snapshot() -> tuple[float, int, dict[int, tuple[int, int]]]:
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(ticks[:3]) + ticks[5] + ticks[6]  # user nice system irq softirq
    return time.monotonic(), busy, proc_table()


def cpu_by_role(before: tuple[float, int, dict[int, tuple[int, int]]], procs: Procs) -> dict[str, float]:
    """CPU seconds per role since ``before``; "other" is what the rest of the machine used."""
    after, used = cpu_snapshot(), defaultdict[str, float](float)
    for pid, role in procs.roles(after[2]).items():
        used[role] += (after[2].get(pid, (0, 0))[1] - before[2].get(pid, (0, 0))[1]) / TICK
    used["other"] = max(0.0, (after[1] - before[1]) / TICK - sum(used.values()))
    return {"elapsed": after[0] - before[0], **used}


def background(seconds: float = 1.0) -> float:
    """Cores kept busy by processes outside this run, measured over ``seconds``."""
    before = cpu_snapshot()
    time.sleep(seconds)
    return cpu_by_role(before, Procs())["other"] / seconds


def memory_kb(pid: int, key: str) -> int:
    """VmRSS (from status) or Pss (from smaps_rollup) of ``pid`` in KiB."""
    source = "smaps_rollup" if key == "Pss:" else "status"
    lines = Path(f"/proc/{pid}/{source}").read_text().splitlines()
    return int(next(ln for ln in lines if ln.startswith(key)).split()[1])


class RssSampler:
    """VmRSS of qmark's processes (and Redis) every 0.2 s; keeps the peak total and per role.

    PostgreSQL's processes share its buffers, which VmRSS counts once per process: for them
    the proportional set size (Pss, shared pages divided among their users) is summed instead,
    read every fifth round (smaps_rollup costs the bench's CPU, which qmark shares).
    """

    def __init__(self, procs: Procs) -> None:
        self.procs, self.peak_total, self.peak, self.count = procs, 0, Counter[str](), Counter[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        rounds = 0
        while not self._stop.wait(0.2):
            kb, count, rounds = Counter[str](), Counter[str](), rounds + 1
            skip = ("bench", "sink", "sampler") + (("postgres",) if rounds % 5 else ())
            for pid, role in self.procs.roles(proc_table()).items():
                with contextlib.suppress(OSError, StopIteration):
                    if role not in skip:
                        kb[role] += memory_kb(pid, "Pss:" if role == "postgres" else "VmRSS:")
                        count[role] += 1
            qmark = sum(v for r, v in kb.items() if r not in ("redis", "postgres"))
            self.peak_total = max(self.peak_total, qmark)
            self.peak, self.count = self.peak | kb, self.count | count

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# Phases and the report ---------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of seconds, in milliseconds."""
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 1) if ordered else None


def ms(value: float | None) -> str:
    return "n/a" if value is None or math.isinf(value) else f"{value:.1f}"


def phase(
    name: str,
    addr: tuple[str, int],
    payloads: list[bytes],
    seqs: range,
    conns: int,
    procs: Procs,
    sink: Sink | None = None,
    rate: float = 0,
    timeout: float = 0,
) -> dict[str, Any]:
    """One measured load run (and, with ``sink``, the wait for its forwards); prints and returns it."""
    before = cpu_snapshot()
    load = run_load(addr, payloads, seqs, conns, rate)
    accepted, end = sorted(load.accepted), max(load.accepted.values(), default=load.started + 1e-6)
    result: dict[str, Any] = dict(sent=len(seqs), accepted=len(accepted), refused=dict(load.refused))
    result.update(errors=load.errors, accepted_per_s=round(len(accepted) / (end - load.started), 1))
    result.update(reply_p50_ms=pct(load.latency, 0.5), reply_p99_ms=pct(load.latency, 0.99))
    print(
        f"{name:14} {len(accepted)}/{len(seqs)} accepted, {result['accepted_per_s']} msgs/s; reply p50 "
        f"{ms(pct(load.latency, 0.5))} ms, p99 {ms(pct(load.latency, 0.99))} ms; "
        f"refused {result['refused'] or 0}"
    )
    if sink:
        result["complete"] = sink.wait(accepted, timeout, sink.forwards)
        sink.wait(accepted, 10, sink.acks)  # so the next phase does not start in the middle of them
        fwd = [sink.forwards[s] - load.accepted[s] for s in accepted if s in sink.forwards]
        end = max((sink.forwards[s] for s in accepted if s in sink.forwards), default=end)
        result.update(forwards=len(fwd), acks=sum(s in sink.acks for s in accepted))
        result.update(
            escalations_per_s=round(len(fwd) / (end - load.started), 1), seconds=round(end - load.started, 2)
        )
        result.update(fwd_p50_ms=pct(fwd, 0.5), fwd_p99_ms=pct(fwd, 0.99), fwd_max_ms=pct(fwd, 1.0))
        print(
            f"{'':14} {len(fwd)} owner forwards, {result['acks']} acks in {result['seconds']} s -> "
            f"{result['escalations_per_s']} escalations/s; accept->forward p50 {ms(pct(fwd, 0.5))} ms, "
            f"p99 {ms(pct(fwd, 0.99))} ms, max {ms(pct(fwd, 1.0))} ms"
        )
    cpu = cpu_by_role(before, procs)
    elapsed, per = cpu.pop("elapsed"), max(1, len(accepted))
    result["cores_busy"] = round(sum(cpu.values()) / elapsed, 2)
    ranked = sorted(cpu.items(), key=lambda item: -item[1])
    result["cpu_ms_per_msg"] = {role: round(seconds * 1000 / per, 3) for role, seconds in ranked}
    shown = ", ".join(f"{r} {v:.2f}" for r, v in result["cpu_ms_per_msg"].items())
    print(f"{'':14} CPU ms/msg: {shown} ({result['cores_busy']} of {os.cpu_count()} cores busy)")
    return result


@dataclass
class Qmark:
    """A qmark under test: where it listens, its processes and, when started here, log and /metrics."""

    addr: tuple[str, int]
    procs: Procs
    log: Path | None = None
    metrics: str | None = None
    url: str | None = None


def database(kind: str, work: Path, stack: contextlib.ExitStack) -> tuple[str, dict[int, str]]:
    """The URL of a fresh database for ``kind`` and the processes started for it (PostgreSQL's tree).

    ``postgres`` starts a throw-away cluster with PostgreSQL's durable defaults (fsync and
    synchronous_commit on; track_wal_io_timing on, to time WAL fsyncs); a URL's public schema
    is dropped and created again.
    """
    if kind == "sqlite":
        return f"sqlite:///{work / 'qmark.db'}", {}
    if kind == "postgres":
        server = PostgresServer(durable=True, settings={"track_wal_io_timing": "on"})
        stack.callback(server.stop)
        server.start()
        assert server.process is not None
        return server.url, {server.process.pid: "postgres"}
    from sqlalchemy import create_engine, text

    engine = create_engine(kind)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return kind, {}


def start_qmark(
    args: argparse.Namespace, work: Path, sink_port: int, url: str, stack: contextlib.ExitStack
) -> Qmark:
    """redis-server, the database at ``url`` migrated, and `qmark run`; stopped when ``stack`` closes."""
    redis_port, smtp_port, qmark = free_port(), free_port(), Path(sys.executable).parent / "qmark"
    redis_argv = [shutil.which("redis-server") or "redis-server", "--port", str(redis_port)]
    with (work / "redis.log").open("wb") as log:
        redis = subprocess.Popen(
            [*redis_argv, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(stop, redis)
    http = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "QMARK_STORAGE__DATABASE_URL": url,
        "QMARK_STORAGE__REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "QMARK_OUTBOUND__URL": f"smtp://127.0.0.1:{sink_port}",
        "QMARK_SMTP__LISTEN": f"127.0.0.1:{smtp_port}",
        "QMARK_HTTP__LISTEN": http,
        "QMARK_HTTP__METRICS_DIR": str(work / "metrics"),
        "QMARK_SERVICE__SECRET_KEY": "bench",
        "QMARK_RULES__PATH": str(ROOT / "rules" / "examples" / "acme"),
    }
    for key, value in (("PROCESSES", args.workers), ("THREADS", args.threads)):
        if value:
            env[f"QMARK_WORKER__{key}"] = str(value)
    subprocess.run([qmark, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    with (work / "qmark.log").open("wb") as log:
        run = subprocess.Popen(
            [qmark, "run"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack.callback(stop, run)
    addr, deadline = ("127.0.0.1", smtp_port), time.monotonic() + 60
    while run.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            Client(addr).close()
            procs = Procs(qmark=run.pid, named={redis.pid: "redis"})
            return Qmark(addr, procs, work / "qmark.log", f"http://{http}/metrics", url)
        time.sleep(0.2)
    raise RuntimeError(f"qmark run did not answer on 127.0.0.1:{smtp_port}; see {work / 'qmark.log'}")


def log_summary(path: Path) -> dict[str, int]:
    """Warnings and errors in qmark's JSON log, counted by event."""
    seen: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            item = json.loads(line)
            if item.get("level") in ("warning", "error", "critical"):
                seen[f"{item['level']}:{item.get('event')}"] += 1
    return dict(seen.most_common(10))


def step_ms(qm: Qmark) -> float:
    """Milliseconds qmark's worker threads have spent in jobs so far (its /metrics)."""
    if not qm.metrics:
        return 0.0
    with urllib.request.urlopen(qm.metrics, timeout=10) as answer:
        return pg_waits.step_ms(answer.read().decode())


def label_of(kind: str) -> str:
    """A database's name in the output: sqlite, postgres, or the URL without its password."""
    if kind in ("sqlite", "postgres", "target"):
        return kind
    from sqlalchemy.engine import make_url

    return make_url(kind).render_as_string(hide_password=True)


@dataclass
class Plan:
    """What every run sends: payloads, and the seqs of the warm-up, flat-out and paced phases."""

    run: str
    payloads: list[bytes]
    warm: range
    flat: range
    slow: range


def measure(args: argparse.Namespace, plan: Plan, kind: str, stack: contextlib.ExitStack) -> dict[str, Any]:
    """qmark on one database (fresh Redis and database): warm-up, flat out, paced; prints and returns it."""
    print(f"--- qmark on {label_of(kind)}")
    sink = Sink(args.sink_listen, plan.run, stack)
    if args.workdir:
        work = Path(args.workdir) / re.sub(r"[^\w.-]+", "_", label_of(kind))
    else:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qmark-bench-")))
    work.mkdir(parents=True, exist_ok=True)
    if args.target:
        qm = Qmark(host_port(args.target), Procs(qmark=args.pid))
    else:
        url, named = database(kind, work, stack)
        qm = start_qmark(args, work, sink.port, url, stack)
        qm.procs.named.update(named)
    qm.procs.named[sink.proc.pid] = "sink"
    sampler = None
    if qm.url and qm.url.startswith("postgresql"):
        sampler = pg_waits.Sampler(Path(__file__), qm.url, args.sample_interval)
        stack.callback(sampler.close)
        qm.procs.named.update({sampler.proc.pid: "sampler", sampler.backend_pid: "sampler"})
    rss = RssSampler(qm.procs)
    stack.callback(rss.stop)
    run_load(qm.addr, plan.payloads, plan.warm, args.k)
    if not sink.wait(list(plan.warm), args.timeout, sink.forwards):
        raise RuntimeError(f"warm-up: only {len(sink.forwards)} of {len(plan.warm)} owner forwards arrived")
    steps_before = step_ms(qm)
    if sampler:
        sampler.start()
    flat = phase(
        "qmark flat out", qm.addr, plan.payloads, plan.flat, args.k, qm.procs, sink, timeout=args.timeout
    )
    waits = sampler.stop() if sampler else None
    step_seconds = (step_ms(qm) - steps_before) / 1000
    time.sleep(1)
    slow_name = f"qmark @{args.rate:g}/s"
    rated = phase(
        slow_name, qm.addr, plan.payloads, plan.slow, min(2, args.k), qm.procs, sink, args.rate, args.timeout
    )
    rss.stop()
    mib = {role: round(v / 1024, 1) for role, v in rss.peak.items()}
    shown = ", ".join(
        f"{r} {v:.0f}" + (f" ({rss.count[r]} procs)" if rss.count[r] > 1 else "") for r, v in mib.items()
    )
    print(f"peak RSS       qmark {rss.peak_total / 1024:.0f} MiB; by role, MiB: {shown or 'n/a, give --pid'}")
    log = log_summary(qm.log) if qm.log else {}
    if qm.log:
        print(f"qmark log      {log or 'no warnings or errors'}")
    result = dict(database=label_of(kind), qmark=flat, paced={"rate": args.rate, **rated}, qmark_log=log)
    result.update(rss_peak_mib={"qmark_total": round(rss.peak_total / 1024, 1), **mib})
    worker_ms = flat["cpu_ms_per_msg"].get("worker", 0)
    result["per_core"] = {
        role: round(1000 / flat["cpu_ms_per_msg"][role], 1)
        for role in ("worker", "smtp", "postgres")
        if flat["cpu_ms_per_msg"].get(role)
    }
    if waits is not None:
        result["pg"] = pg = pg_waits.report(waits, step_seconds, flat.get("forwards", 0))
        share = pg["worker_share_of_step_pct"]
        print(
            f"PG waits       worker backends, flat out: lock {share['lock']} %, commit {share['commit']} % "
            f"of {pg['step_seconds']} s in steps (on CPU in PG {share['cpu']} %, idle in transaction "
            f"{share['in_txn']} %); {pg['samples']} samples over {pg['phase_seconds']} s"
        )
        print(
            f"{'':14} per escalation: {pg['transactions_per_escalation']} transactions, "
            f"{pg['wal_fsyncs_per_escalation']} WAL fsyncs ({pg['wal_fsync_ms_per_escalation']} ms), "
            f"{pg['wal_kb_per_escalation']} KB WAL; "
            f"SMTP edge backends waited on commit {pg['smtp_backend_seconds']['commit']} s, "
            f"on locks {pg['smtp_backend_seconds']['lock']} s"
        )
    if worker_ms:
        print(
            f"per added core worker {result['per_core']['worker']} escalations/s "
            f"(= 1000 / {worker_ms:.2f} worker CPU ms per escalation, flat out); per core of the "
            + ", ".join(f"{role} {rate}/s" for role, rate in result["per_core"].items())
        )
    return result


def verdicts(bare: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Ratios to the bare server and PASS/MISS against the issue's targets, added to ``result``."""
    ratios = {
        "accept": result["qmark"]["accepted_per_s"] / bare["accepted_per_s"],
        "e2e": result["qmark"].get("escalations_per_s", 0) / bare["accepted_per_s"],
    }
    p99 = result["paced"]["fwd_p99_ms"] if result["paced"].get("fwd_p99_ms") is not None else math.inf
    met = {"accept": ratios["accept"] >= 0.5, "e2e": ratios["e2e"] >= 0.15, "fwd_p99_at_rate": p99 <= 250}
    result["ratios"] = {key: round(value, 3) for key, value in ratios.items()}
    result["targets"] = {key: "PASS" if ok else "MISS" for key, ok in met.items()}
    return result


def side_by_side(bare: dict[str, Any], runs: dict[str, dict[str, Any]], rate: float) -> None:
    """The comparison table: the bare server, then each database's figures and ratios."""
    names = list(runs)
    rows: list[tuple[str, list[str]]] = [("", ["bare", *names])]

    def row(label: str, bare_cell: str, cell: Any) -> None:
        rows.append((label, [bare_cell, *(cell(runs[n]) for n in names)]))

    row("accepted msgs/s", f"{bare['accepted_per_s']}", lambda r: f"{r['qmark']['accepted_per_s']}")
    row("  x bare (>= 0.5)", "", lambda r: f"{r['ratios']['accept']:.3f} {r['targets']['accept']}")
    row("escalations/s", "", lambda r: f"{r['qmark'].get('escalations_per_s')}")
    row("  x bare (>= 0.15)", "", lambda r: f"{r['ratios']['e2e']:.3f} {r['targets']['e2e']}")
    row(
        "reply p50/p99 ms",
        f"{ms(bare['reply_p50_ms'])}/{ms(bare['reply_p99_ms'])}",
        lambda r: f"{ms(r['qmark']['reply_p50_ms'])}/{ms(r['qmark']['reply_p99_ms'])}",
    )
    row(
        f"fwd p99 @{rate:g}/s ms",
        "",
        lambda r: f"{ms(r['paced']['fwd_p99_ms'])} {r['targets']['fwd_p99_at_rate']}",
    )
    roles = sorted({role for r in runs.values() for role in r["qmark"]["cpu_ms_per_msg"]})
    for role in sorted(
        roles, key=lambda x: -max(r["qmark"]["cpu_ms_per_msg"].get(x, 0) for r in runs.values())
    ):
        row(
            f"CPU ms/msg {role}",
            f"{bare['cpu_ms_per_msg'].get(role, '')}",
            lambda r, role=role: f"{r['qmark']['cpu_ms_per_msg'].get(role, '-')}",
        )
    row("cores busy", f"{bare['cores_busy']}", lambda r: f"{r['qmark']['cores_busy']}")
    row("peak RSS qmark MiB", "", lambda r: f"{r['rss_peak_mib']['qmark_total']:.0f}")
    for role in ("worker", "smtp", "scheduler", "http", "run", "redis", "postgres"):
        row(f"  {role} MiB", "", lambda r, role=role: f"{r['rss_peak_mib'].get(role, '-')}")
    row("per worker core esc/s", "", lambda r: f"{r['per_core'].get('worker', '-')}")
    row(
        "lock wait % of step",
        "",
        lambda r: f"{r['pg']['worker_share_of_step_pct']['lock']}" if "pg" in r else "-",
    )
    row(
        "commit wait % of step",
        "",
        lambda r: f"{r['pg']['worker_share_of_step_pct']['commit']}" if "pg" in r else "-",
    )
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(len(rows[0][1]))]
    print("=== side by side")
    for label, cells in rows:
        print(f"{label:22}" + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))


def bench(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    n, k, w, paced, run = args.n, args.k, args.warmup, int(args.rate * args.rate_seconds), os.urandom(3).hex()
    plan = Plan(
        run, build_messages(w + n + paced, run), range(w), range(w, w + n), range(w + n, w + n + paced)
    )
    kb, deadline = sum(map(len, plan.payloads)) / len(plan.payloads) / 1024, time.monotonic() + args.wait_idle
    while (busy := background()) > 0.1 * (os.cpu_count() or 1) and time.monotonic() < deadline:
        pass
    kinds = ["target"] if args.target else args.database
    print(
        f"qmark ingest bench: N={n} K={k}, {kb:.1f} KB mail, warm-up {w}, then {args.rate:g}/s for "
        f"{args.rate_seconds:g} s; databases {', '.join(map(label_of, kinds))}; {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}; other processes kept {busy:.2f} cores busy just before the start"
    )

    bare_proc, bare_port = serve_process("bare", "127.0.0.1:0", stack)
    run_load(("127.0.0.1", bare_port), plan.payloads, plan.warm, k)
    bare_procs = Procs(named={bare_proc.pid: "bare"})
    bare = phase("bare aiosmtpd", ("127.0.0.1", bare_port), plan.payloads, plan.flat, k, bare_procs)
    stop(bare_proc)

    runs: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        with contextlib.ExitStack() as one:
            runs[label_of(kind)] = verdicts(bare, measure(args, plan, kind, one))
    side_by_side(bare, runs, args.rate)
    errors = list(bare["errors"])
    for name, r in runs.items():
        errors += [f"{name}: {e}" for e in r["qmark"]["errors"] + r["paced"]["errors"]]
        errors += [
            f"{name}: {p['sent'] - p['forwards']} owner forwards missing after {args.timeout:g} s"
            for p in (r["qmark"], r["paced"])
            if not p["complete"]
        ]
    for line in errors:
        print(f"error          {line}")
    ok = not errors
    result = dict(ok=ok, n=n, k=k, msg_kb=round(kb, 2), busy_before=round(busy, 2), bare=bare, runs=runs)
    return {**result, **runs[label_of(kinds[0])]}  # the first database's figures also at the top, as before


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/ingest.py", description=__doc__, formatter_class=RAW)
    add = parser.add_argument
    add("--n", type=int, default=2000, help="messages in the flat-out phases, qmark and bare (default 2000)")
    add("--k", type=int, default=8, help="concurrent SMTP connections in the flat-out phases (default 8)")
    add("--warmup", type=int, default=40, help="messages sent, and waited for, before measuring (default 40)")
    add("--rate", type=float, default=20, help="escalations/s in the paced phase (default 20)")
    add("--rate-seconds", type=float, default=15, help="length of the paced phase in seconds (default 15)")
    add(
        "--database",
        default="sqlite",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        help="comma-separated, each measured in turn against the same bare run, with a fresh Redis and "
        "database: sqlite, postgres (a throw-away PostgreSQL with fsync and synchronous_commit on) or a "
        "postgresql+psycopg:// URL (its public schema is dropped!) (default sqlite)",
    )
    add(
        "--sample-interval",
        type=float,
        default=0.01,
        help="seconds between pg_stat_activity samples on PostgreSQL (default 0.01)",
    )
    add("--workers", type=int, help="QMARK_WORKER__PROCESSES of the qmark started here (default: qmark's)")
    add("--threads", type=int, help="QMARK_WORKER__THREADS of the qmark started here (default: qmark's)")
    add("--timeout", type=float, default=300, help="seconds to wait for a phase's forwards (default 300)")
    add("--target", help="HOST:PORT of a running qmark to drive instead of starting one")
    add("--sink-listen", help="HOST:PORT for the relay sink (needed with --target: qmark's outbound.url)")
    add("--pid", type=int, help="with --target: pid of its `qmark run`, for RSS and CPU per role")
    add(
        "--wait-idle",
        type=float,
        default=0,
        help="wait up to this many s for other processes to use <10%% CPU",
    )
    add("--workdir", help="keep the database and logs of the qmark started here in this directory")
    add("--json-out", help="also write the RESULT object to this file")
    add("--serve", choices=("sink", "bare", "pgwait"), help=argparse.SUPPRESS)
    add("--dsn", help=argparse.SUPPRESS)
    add("--interval", type=float, default=0.01, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if isinstance(args.database, str):
        args.database = [args.database]
    for kind in args.database:
        if kind not in ("sqlite", "postgres") and not kind.startswith("postgresql"):
            parser.error(f"--database {kind}: give sqlite, postgres or a postgresql+psycopg:// URL")
    if args.target and not args.sink_listen:
        parser.error("--target needs --sink-listen, the address qmark's outbound.url points at")
    args.sink_listen = args.sink_listen or "127.0.0.1:0"
    return args


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve == "pgwait":
        pg_waits.serve(args.dsn, args.interval)
        return 0
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run((serve_sink if args.serve == "sink" else serve_bare)(*host_port(args.sink_listen)))
        return 0
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.ExitStack() as stack:
            result = bench(args, stack)
    except KeyboardInterrupt:
        print("interrupted; everything this bench started is stopped", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        print(f"bench broke: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    line = json.dumps(result)
    print(f"RESULT {line}")
    if args.json_out:
        Path(args.json_out).write_text(line + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
