"""Hostile SMTP clients for the edge tests and bench: idle connections, a slowloris, a timed send.

Plain blocking sockets, so they share nothing with the server's event loop.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from pipeline.outbound.transport import crlf

EXEC = "dana.chief@acme.test"
INTAKE = "escalations@acme.test"
MESSAGE = crlf(b"From: dana.chief@acme.test\nTo: escalations@acme.test\nSubject: Fwd: budget?\n\n?\n")


def connect(host: str, port: int, timeout: float = 10.0) -> tuple[socket.socket, bytes]:
    """A connection and the first line the server said (its 220 banner, or a 421)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    return sock, read_line(sock)


def read_line(sock: socket.socket) -> bytes:
    """One reply line from the server; b"" once it has closed the connection."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line


@contextmanager
def idle_connections(host: str, port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that read the banner and then say nothing; closed on exit."""
    with ExitStack() as stack:
        socks = []
        for _ in range(count):
            sock, banner = connect(host, port)
            stack.callback(sock.close)
            assert banner.startswith(b"220"), banner
            socks.append(sock)
        yield socks


class Slowloris:
    """A client that sends ``EHLO slow.example`` one byte every ``interval`` seconds, forever.

    ``closed_by_server`` is set when the server ends the connection; ``last`` holds its final line.
    """

    def __init__(self, host: str, port: int, interval: float) -> None:
        self.sock, self.banner = connect(host, port)
        self.interval = interval
        self.closed_by_server = threading.Event()
        self.last = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> Slowloris:
        self._thread.start()
        self._reader.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wakes the reader thread and sends the FIN now
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _drip(self) -> None:
        text = b"EHLO slow.example" * 1000
        for byte in text:
            if self._stop.wait(self.interval) or self.closed_by_server.is_set():
                return
            try:
                self.sock.sendall(bytes([byte]))
            except OSError:
                return

    def _read(self) -> None:
        self.sock.settimeout(None)
        while True:
            try:
                line = read_line(self.sock)
            except OSError:
                return
            if not line:
                self.closed_by_server.set()
                return
            self.last = line


def timed_send(host: str, port: int) -> float:
    """Connect, send one escalation, and return the seconds from connect to DATA's 250."""
    started = time.perf_counter()
    with smtplib.SMTP(host, port, timeout=30) as client:
        assert client.sendmail(EXEC, [INTAKE], MESSAGE) == {}
        return time.perf_counter() - started
