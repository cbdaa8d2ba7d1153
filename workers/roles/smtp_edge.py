"""Connection admission and command rate for the SMTP edge, per process and per peer address.

The count is taken when a connection is made and given back when it is lost, so admission costs
two dict updates; a connection over a limit is answered ``421 4.3.2`` and closed at once (it never
reaches aiosmtpd's session, so it never waits for anything). Commands are metered per peer by a
token bucket (``CommandRate``): a burst up to the per-minute figure, then that figure a minute.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

FULL = "421 4.3.2 Too many connections, try again later"
IDLE = "421 4.4.2 Idle too long, closing connection"
SESSION_OVER = "421 4.4.2 Session time limit exceeded, closing connection"
TOO_FAST = "421 4.7.0 Too many commands, slow down"


class Admission:
    """Counts open connections, in total and per peer address (one event loop: no lock)."""

    def __init__(self, *, max_connections: int, max_per_peer: int) -> None:
        self._max = max_connections
        self._max_per_peer = max_per_peer
        self._by_peer: Counter[str] = Counter()
        self.open = 0

    def admit(self, peer: str) -> bool:
        """Take a place for ``peer``; False (nothing taken) when either limit is reached."""
        if self.open >= self._max or self._by_peer[peer] >= self._max_per_peer:
            return False
        self.open += 1
        self._by_peer[peer] += 1
        return True

    def release(self, peer: str) -> None:
        """Give back the place :meth:`admit` took for ``peer``."""
        self.open -= 1
        self._by_peer[peer] -= 1
        if self._by_peer[peer] <= 0:
            del self._by_peer[peer]


class CommandRate:
    """At most ``per_minute`` commands a minute per peer address, in bursts up to ``per_minute``.

    Each peer has a bucket of ``per_minute`` tokens refilled at ``per_minute / 60`` a second; a
    command takes one. Buckets that have refilled are forgotten once a minute, so memory follows
    the peers active in the last minute.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # peer -> (tokens, when counted)
        self._swept = clock()

    def take(self, peer: str, commands: int = 1) -> bool:
        """Spend ``commands`` tokens of ``peer``'s bucket; False (nothing spent) when it has too few."""
        now = self._clock()
        if now - self._swept >= 60.0:
            self._forget_full(now)
        tokens, then = self._buckets.get(peer, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - then) * self._per_second)
        if tokens < commands:
            self._buckets[peer] = (tokens, now)
            return False
        self._buckets[peer] = (tokens - commands, now)
        return True

    def _forget_full(self, now: float) -> None:
        self._swept = now
        for peer, (tokens, then) in list(self._buckets.items()):
            if tokens + (now - then) * self._per_second >= self._capacity:
                del self._buckets[peer]
