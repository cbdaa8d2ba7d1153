"""A sending MTA for long runs: mail of any kind handed over to qmark's SMTP port, retried like Postfix.

:meth:`Mta.submit` queues one message; a pool of threads delivers it. A refused connection
or a 4xx answer stored nothing, so the message is tried again after a pause; a session cut
on the way (no answer) is tried again too, and remembered as *cut*: its 250 may have been
lost after qmark's commit, so qmark may hold it twice. A 5xx is final and recorded with its
reply: qmark must never answer a well-formed mail with 5xx because of its own trouble (I6).
The log (:attr:`Mta.log`) is the client's side of the history check.
"""

from __future__ import annotations

import smtplib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field


@dataclass
class Delivery:
    """What the client saw of one message: its kind, the 250's time, cut sessions, a final 5xx."""

    kind: str
    queued_at: float
    answered_at: float | None = None
    cut: bool = False
    refused: str = ""  # the 5xx reply, when qmark refused the message for good
    attempts: int = 0
    about: str = ""  # for an owner's mail: the Message-ID of the forward it answers


@dataclass
class Mta:
    """Delivers submitted mail to ``127.0.0.1:port`` with ``threads`` sessions at most at once."""

    port: int
    threads: int = 16
    attempts: int = 400
    pause: float = 0.5
    log: dict[str, Delivery] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None
    _futures: list[Future[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="mta")

    def submit(
        self, kind: str, message_id: str, raw: bytes, mail_from: str, rcpts: list[str], *, about: str = ""
    ) -> None:
        """Queue ``raw`` (CRLF) for delivery; ``message_id`` is its Message-ID header, with brackets."""
        assert self._pool is not None
        with self._lock:
            self.log[message_id] = Delivery(kind, time.time(), about=about)
        self._futures.append(self._pool.submit(self._deliver, message_id, raw, mail_from, rcpts))

    def pending(self) -> int:
        """Messages not yet answered 250, refused for good or given up."""
        return sum(1 for f in self._futures if not f.done())

    def close(self, timeout: float = 600) -> None:
        """Wait for every queued delivery to end, then stop the pool."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def of_kind(self, kind: str, *, answered: bool = True) -> list[str]:
        """Message-IDs of ``kind`` (answered 250 only, by default)."""
        with self._lock:
            return [m for m, d in self.log.items() if d.kind == kind and (d.answered_at or not answered)]

    def _deliver(self, message_id: str, raw: bytes, mail_from: str, rcpts: list[str]) -> None:
        delivery = self.log[message_id]
        for _ in range(self.attempts):
            delivery.attempts += 1
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as client:
                    client.sendmail(mail_from, rcpts, raw)
            except smtplib.SMTPRecipientsRefused as refused:
                code, text = next(iter(refused.recipients.values()))
                if self._final(delivery, code, text):
                    return
            except smtplib.SMTPResponseException as answer:
                if self._final(delivery, answer.smtp_code, answer.smtp_error):
                    return
            except ConnectionRefusedError:
                pass  # nobody listening (the SMTP role is restarting): nothing was stored
            except (OSError, smtplib.SMTPException):
                delivery.cut = True  # no answer: the message may have been stored all the same
            else:
                delivery.answered_at = time.time()
                return
            time.sleep(self.pause)

    @staticmethod
    def _final(delivery: Delivery, code: int, text: bytes | str) -> bool:
        """A 5xx ends the delivery (recorded); a 4xx (or a 421 closing the session) is retried."""
        if code >= 500:
            delivery.refused = f"{code} {text.decode() if isinstance(text, bytes) else text}"
            return True
        return False
