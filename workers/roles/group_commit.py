"""Durable accept: store raw messages (group commit), then ring the broker.

A message is acknowledged only after the transaction holding its exact bytes
and envelope has committed (I1). One writer thread commits everything that is
waiting in one transaction (group commit), so concurrent SMTP sessions share an
fsync instead of queueing for the SQLite write lock. Ringing the broker happens
afterwards on a separate thread: when Redis is down the sender still gets its
250 and the sweeper enqueues the message later.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from pipeline import log
from pipeline.model.mail import Envelope
from pipeline.store import messages
from pipeline.store.db import Database
from workers.graph import ring

logger = log.get(__name__)

_STOP = object()
MAX_BATCH = 256


def store_one(db: Database, raw: bytes, envelope: Envelope) -> int:
    """Store one message in its own transaction; returns its id (used by ``qmark inject``)."""
    with db.transaction() as session:
        return messages.store_many(session, rows=[messages.message_row(raw, envelope)])[0]


class Doorbell:
    """A thread that enqueues committed ids; failures are logged and left to the sweeper."""

    def __init__(self, enqueue: Callable[[Sequence[int]], None]) -> None:
        self._enqueue = enqueue
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="doorbell", daemon=True)
        self._thread.start()

    def ring(self, ids: Sequence[int]) -> None:
        self._queue.put(list(ids))

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, list)
            ring(functools.partial(self._enqueue, item), what="process", ids=item)


class GroupCommitter:
    """Commits queued rows in batches on one thread; each caller waits for its own id."""

    def __init__(self, db: Database, on_committed: Callable[[Sequence[int]], None]) -> None:
        self._db = db
        self._on_committed = on_committed
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, raw: bytes, envelope: Envelope) -> Future[int]:
        """Queue one message; the future resolves to its id after commit, or to the error.

        Cancelling the future before its batch is taken up withdraws the message (nothing stored).
        """
        future: Future[int] = Future()
        self._queue.put((messages.message_row(raw, envelope), future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[tuple[dict[str, object], Future[int]]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                    break
                assert isinstance(item, tuple)
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[tuple[dict[str, object], Future[int]]]) -> None:
        # A session that went away (client gone, timeout, shutdown) cancels its future. Those not
        # yet taken are dropped here (no 250 was given, the sender retries); once running, a future
        # can no longer be cancelled, so setting its result below cannot kill this thread.
        batch = _still_wanted(batch)
        if not batch:
            return
        try:
            with self._db.transaction() as session:
                ids = messages.store_many(session, rows=[row for row, _ in batch])
        except Exception as error:
            logger.error("store_failed", count=len(batch), error=f"{type(error).__name__}: {error}")
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), message_id in zip(batch, ids, strict=True):
            future.set_result(message_id)
        try:  # the answers are out; a failing doorbell must not stop this thread
            self._on_committed(ids)
        except Exception as error:
            logger.error(
                "doorbell_failed_sweeper_will_retry", ids=ids[:20], error=f"{type(error).__name__}: {error}"
            )


def _still_wanted(
    batch: list[tuple[dict[str, object], Future[int]]],
) -> list[tuple[dict[str, object], Future[int]]]:
    """The rows whose session still waits, each future now running (it can no longer be cancelled)."""
    cancelled = sum(1 for _, future in batch if not future.set_running_or_notify_cancel())
    if cancelled:
        logger.info("store_skipped_cancelled", count=cancelled)
    return [(row, future) for row, future in batch if future.running()]
