"""Connection admission for the SMTP edge: at most N connections per process and per peer.

The count is taken when a connection is made and given back when it is lost, so admission costs
two dict updates; a connection over a limit is answered ``421 4.3.2`` and closed at once (it never
reaches aiosmtpd's session, so it never waits for anything).
"""

from __future__ import annotations

from collections import Counter

FULL = "421 4.3.2 Too many connections, try again later"
IDLE = "421 4.4.2 Idle too long, closing connection"
SESSION_OVER = "421 4.4.2 Session time limit exceeded, closing connection"


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
