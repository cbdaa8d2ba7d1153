"""Executive forwards sent at a steady rate, round-robin over several SMTP ports, like a sending MTA.

Forward ``seq`` goes to ``ports[seq % len(ports)]`` at ``start + seq / rate``. A session that
fails (refused, cut, 4xx) is retried on the next port after a short pause, as an MTA tries
the next MX, until one answers 250 or the attempts run out. :class:`Traffic` records which
Message-IDs were answered 250 and which had a session cut on the way (the 250 of such an
attempt may have been lost after the commit, so qmark may have stored it twice); a refused
connection or a 4xx answer stored nothing. ``refusals`` counts the refusing answers by code, so a
test can tell a 451 (retry) from a 5xx (which a real MTA would bounce, not retry).
"""

from __future__ import annotations

import re
import smtplib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MAIL = Path(__file__).resolve().parents[1] / "mail"
SUBJECT = "Charged twice for invoice 4411"


def executive_forwards(count: int, run: str) -> list[tuple[str, bytes]]:
    """``count`` "?" forwards of tests/mail/gmail-forward.eml, each with its own Message-ID and subject."""
    template = (MAIL / "gmail-forward.eml").read_text()
    out = []
    for seq in range(count):
        message_id = f"<hosts.{run}.{seq}@mail.gmail.com>"
        text = re.sub(r"(?m)^Message-ID: <[^>]*>", f"Message-ID: {message_id}", template, count=1)
        text = text.replace(SUBJECT, f"{SUBJECT} ({run}-{seq})")
        out.append((message_id, text.replace("\r\n", "\n").replace("\n", "\r\n").encode()))
    return out


@dataclass
class Traffic:
    """Sends ``mails`` to ``ports`` at ``rate`` per second; ``sent`` counts forwards whose turn came."""

    ports: list[int]
    mails: list[tuple[str, bytes]]
    rate: float
    attempts: int = 60
    answered: set[str] = field(default_factory=set)
    cut: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    refusals: Counter[int] = field(default_factory=Counter)
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def join(self, timeout: float = 600) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the traffic did not finish"

    def wait_sent(self, count: int, timeout: float = 300) -> None:
        """Block until forward number ``count`` had its turn."""
        deadline = time.monotonic() + timeout
        while self.sent < count:
            assert time.monotonic() < deadline, f"only {self.sent} of {count} forwards had their turn"
            time.sleep(0.01)

    def _run(self) -> None:
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for seq, (message_id, raw) in enumerate(self.mails):
                time.sleep(max(0.0, start + seq / self.rate - time.monotonic()))
                pool.submit(self._deliver, seq, message_id, raw)
                self.sent = seq + 1

    def _deliver(self, seq: int, message_id: str, raw: bytes) -> None:
        for attempt in range(self.attempts):
            port = self.ports[(seq + attempt) % len(self.ports)]
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.sendmail("dana.chief@acme.test", ["escalations@acme.test"], raw)
            except smtplib.SMTPResponseException as refused:
                with self._lock:
                    self.refusals[refused.smtp_code] += 1
                time.sleep(0.5)  # qmark refused (451): nothing was stored
                continue
            except ConnectionRefusedError:
                time.sleep(0.5)  # nobody listened: nothing was stored
                continue
            except (OSError, smtplib.SMTPException):
                with self._lock:
                    self.cut.add(message_id)
                time.sleep(0.5)
                continue
            with self._lock:
                self.answered.add(message_id)
            return
        with self._lock:
            self.failed.add(message_id)
