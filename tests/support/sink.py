"""A real aiosmtpd relay sink on 127.0.0.1 that records what it is sent, for outbound tests.

``RelaySink`` plays the outbound relay: it records every transaction as a
:class:`Received`, counts connections, and can be told to refuse with any reply
(``reply_with``) at RCPT or DATA to exercise failure mapping. With ``answer_delay`` it records
a mail, then waits that long before its 250: a sender killed meanwhile has delivered a mail
it never learns was accepted (the window in which a crash makes a resend). With ``hang`` set
(seconds) it plays a relay that stopped answering: DATA waits that long, records nothing and
answers 451. Each :class:`Received` carries the time it arrived (``at``). The ``relay_sink``
fixture yields a started sink and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    """One accepted transaction: the envelope and the message bytes as received (CRLF)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    at: float = field(default_factory=time.time, compare=False)  # when it arrived (epoch seconds)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class RelaySink:
    """Context manager running an SMTP sink; ``reply_with`` (e.g. "451 4.3.0 try later") refuses mail."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        reply_with: str | None = None,
        reply_stage: str = "DATA",
        answer_delay: float = 0.0,
    ) -> None:
        if reply_stage not in ("RCPT", "DATA"):
            raise ValueError("reply_stage is RCPT or DATA")
        self.host = host
        self.port = port or free_port(host)
        self.reply_with = reply_with
        self.reply_stage = reply_stage
        self.answer_delay = answer_delay
        self.hang = 0.0  # seconds DATA waits before a 451 that records nothing; 0: answer at once
        self._received: list[Received] = []
        self._connections = 0
        self._changed = threading.Condition()
        self._controller = Controller(
            _Handler(self), hostname=host, port=self.port, server_hostname="relay-sink.test", ready_timeout=10
        )

    def __enter__(self) -> RelaySink:
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Received]:
        """A copy of what arrived so far, in order."""
        with self._changed:
            return list(self._received)

    @property
    def connections(self) -> int:
        """How many SMTP sessions greeted the sink with EHLO or HELO."""
        with self._changed:
            return self._connections

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` messages arrived; AssertionError naming what did arrive otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(r.mail_from, r.rcpt_tos, _subject(r.data)) for r in self._received]
                    raise AssertionError(
                        f"expected {count} message(s) within {timeout}s, got {len(got)}: {got}"
                    )
                self._changed.wait(left)
            return list(self._received)

    def _greeted(self, session: Session) -> None:
        if getattr(session, "qmark_sink_counted", False):
            return
        session.qmark_sink_counted = True  # type: ignore[attr-defined]
        with self._changed:
            self._connections += 1

    def _record(self, received: Received) -> None:
        with self._changed:
            self._received.append(received)
            self._changed.notify_all()


class _Handler:
    """aiosmtpd hooks; they run on the controller's event-loop thread."""

    def __init__(self, sink: RelaySink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self._sink._greeted(session)
        return responses

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        session.host_name = hostname
        self._sink._greeted(session)
        return f"250 {server.hostname}"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._sink.reply_with and self._sink.reply_stage == "RCPT":
            return self._sink.reply_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._sink.reply_with and self._sink.reply_stage == "DATA":
            return self._sink.reply_with
        if self._sink.hang:
            await asyncio.sleep(self._sink.hang)
            return "451 4.4.2 relay-sink timed out"
        data: Any = envelope.original_content or envelope.content or b""
        self._sink._record(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(data)))
        if self._sink.answer_delay:
            await asyncio.sleep(self._sink.answer_delay)
        return "250 2.0.0 queued by relay-sink"


def _subject(data: bytes) -> str:
    for line in data.split(b"\r\n"):
        if not line:
            break
        if line.lower().startswith(b"subject:"):
            return line[8:].strip().decode("ascii", "replace")
    return ""


@pytest.fixture
def relay_sink() -> Iterator[RelaySink]:
    """A started :class:`RelaySink` on 127.0.0.1, stopped after the test."""
    with RelaySink() as sink:
        yield sink
