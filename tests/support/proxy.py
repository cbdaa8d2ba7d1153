"""A TCP proxy on 127.0.0.1 that can cut one connection at a chosen point of the server's reply.

Used to prove a client survives a connection dropped mid-response (say, inside a FETCH literal)::

    proxy = DroppingProxy(dovecot.port)
    proxy.drop_after(b"BODY[] {", extra_bytes=10)  # the next connection dies 10 bytes into the literal
    ...  # connect to proxy.port: that connection is cut; the ones after it pass through
    proxy.close()

:meth:`DroppingProxy.bye_before` arms the other ending: the server's reply is cut at the start of the
line holding a pattern, the client gets an untagged ``* BYE`` in its place, and the connection closes
(a server shutting down in the middle of a session).

Plain threads, one pair per connection; fine for the handful of connections a test makes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass


@dataclass
class _Drop:
    pattern: bytes
    extra_bytes: int
    bye: bytes = b""  # sent in place of the line holding ``pattern`` (then ``extra_bytes`` is unused)


class _Connection:
    """One proxied connection: a client socket, an upstream socket and two pumping threads."""

    def __init__(
        self, proxy: DroppingProxy, client: socket.socket, upstream: socket.socket, drop: _Drop | None
    ):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.drop = drop
        self.dropped = threading.Event()
        self._closed = False
        self._lock = threading.Lock()

    def start(self) -> None:
        for target in (self._client_to_server, self._server_to_client):
            threading.Thread(target=target, daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _client_to_server(self) -> None:
        try:
            while data := self.client.recv(65536):
                self.upstream.sendall(data)
        except OSError:
            pass
        self.close()

    def _server_to_client(self) -> None:
        sent = 0  # bytes of the server->client stream forwarded so far
        tail = b""  # the last bytes forwarded, in case the pattern straddles two reads
        cut_at: int | None = None  # stream offset after which the connection dies
        try:
            while data := self.upstream.recv(65536):
                if self.drop is not None and cut_at is None:
                    window = tail + data
                    found = window.find(self.drop.pattern)
                    if found >= 0:
                        start = sent - len(tail)
                        if self.drop.bye:
                            cut_at = start + window.rfind(b"\r\n", 0, found) + 2  # the line's start
                        else:
                            cut_at = start + found + len(self.drop.pattern) + self.drop.extra_bytes
                    else:
                        tail = window[max(0, len(window) - len(self.drop.pattern) + 1) :]
                if cut_at is not None and sent + len(data) >= cut_at:
                    self.client.sendall(data[: max(0, cut_at - sent)] + (self.drop.bye if self.drop else b""))
                    self.dropped.set()
                    self.proxy._note_drop()
                    break
                self.client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        self.close()


class DroppingProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``; :meth:`drop_after` arms one cut."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0  # accepted so far
        self.drops = 0  # connections cut by an armed drop
        self._armed: _Drop | None = None
        self._open: list[_Connection] = []
        self._lock = threading.Lock()
        self._dropped = threading.Condition(self._lock)
        self._closing = False
        self._thread = threading.Thread(target=self._accept_loop, name="dropping-proxy", daemon=True)
        self._thread.start()

    def drop_after(self, pattern: bytes, extra_bytes: int = 0) -> None:
        """Arm a cut of the NEXT connection accepted, once the server has sent ``pattern`` and then
        ``extra_bytes`` more: the client receives exactly that much, then both sockets are closed."""
        if not pattern:
            raise ValueError("an empty pattern would match at once")
        with self._lock:
            self._armed = _Drop(pattern, extra_bytes)

    def bye_before(self, pattern: bytes, text: bytes = b"* BYE Server shutting down.\r\n") -> None:
        """Arm the NEXT connection to end with ``text`` (an untagged BYE) where the server's line holding
        ``pattern`` would begin: the client never sees that line; then both sockets are closed."""
        if not pattern:
            raise ValueError("an empty pattern would match at once")
        with self._lock:
            self._armed = _Drop(pattern, 0, bye=text)

    def wait_for_drop(self, count: int = 1, timeout: float = 10.0) -> None:
        """Block until ``count`` connections in all have been cut."""
        with self._dropped:
            if not self._dropped.wait_for(lambda: self.drops >= count, timeout):
                raise AssertionError(f"{self.drops} connection(s) dropped after {timeout}s, expected {count}")

    def close(self) -> None:
        """Stop accepting and close every open connection."""
        with self._lock:
            self._closing = True
            connections, self._open = self._open, []
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() loop
        self._listener.close()
        for connection in connections:
            connection.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DroppingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _note_drop(self) -> None:
        with self._dropped:
            self.drops += 1
            self._dropped.notify_all()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closing:
                    client.close()
                    upstream.close()
                    return
                self.connections += 1
                drop, self._armed = self._armed, None
                connection = _Connection(self, client, upstream, drop)
                self._open = [c for c in self._open if not c._closed]
                self._open.append(connection)
            connection.start()
