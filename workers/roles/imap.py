"""The IMAP poller (``qmark imap``): ingest a mailbox folder without missing or duplicating a message.

One round: SELECT the folder; compare its UIDVALIDITY with the one on record (a new
one means the folder was recreated: rescan from UID 1, and the byte-for-byte dedupe
below keeps it to one copy); SEARCH the UIDs above the last one ingested — never
``\\Seen``, so mail another client already read still comes in; FETCH them in
batches with ``BODY.PEEK[]`` (reading does not mark them read); store each batch's
raw bytes and the new progress in one durable transaction; only then flag them
``$QmarkIngested`` and, with ``done_folder``, MOVE them. A crash between the commit
and the flag leaves the UIDs below the recorded progress: they are not fetched again.
A message whose exact bytes and Message-ID are already stored is skipped (a re-read
after a UIDVALIDITY change, the same mail in two folders); a reused Message-ID with
other bytes is a new message. A message that does not parse is stored like any other
and quarantined by the process step, so it never blocks the ones behind it.

Leadership: one poller per folder holds a lease in the database, renewed every few
seconds; another process takes over when the holder dies (the lease runs out) or
stops (it gives the lease up). Progress can only be written by the holder.

IDLE when the server offers it, left for a fresh poll every ``IDLE_RENEW`` (RFC 2177 asks
for less than 29 minutes), with short ``idle_check`` waits and socket timeouts as the
watchdog (``idle_done`` can hang on a dead connection otherwise); else polling every
``[imap] poll_interval``. Any error drops the connection and reconnects with backoff.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from pipeline import log
from pipeline.inbound.envelopes import from_headers
from pipeline.model.mail import Envelope
from pipeline.store import mailboxes, messages
from pipeline.store.db import open_database
from workers.bootstrap import App
from workers.graph import ring
from workers.heartbeat import Heart
from workers.imap_folder import Folder, connect

logger = log.get(__name__)

INGESTED = b"$QmarkIngested"
TOO_BIG = b"$QmarkTooBig"
BATCH = 25
IDLE_CHECK = 3.0  # seconds per idle_check: the lease is renewed and stop is noticed this often
# Leave IDLE and poll this often even without news: it re-issues IDLE well inside RFC 2177's
# 29 minutes, catches a notification the server never sent, and keeps last_poll_at (the lag
# ops watch) fresh.
IDLE_RENEW = 60.0
MAX_BACKOFF = 60.0
_ERRORS = (OSError, IMAPClientError, ssl.SSLError, mailboxes.LeaseLost)


class Poller:
    """Polls one folder for one qmark instance; ``after_commit`` is a hook for crash tests."""

    def __init__(
        self,
        app: App,
        *,
        holder: str | None = None,
        after_commit: Callable[[Sequence[int]], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: timedelta | None = None,
    ) -> None:
        self.app = app
        self.folder = Folder.from_settings(app.settings)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.db = open_database(app.settings.storage)  # durable: flags follow the commit
        self.after_commit = after_commit
        self.clock = clock
        self.lease = lease or timedelta(seconds=app.settings.imap.lease)
        self._check_every = min(IDLE_CHECK, self.lease.total_seconds() / 3)
        self.max_size = app.settings.smtp.max_message_size

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Lead, connect, ingest, wait for news; reconnect with backoff after any error."""
        backoff = 1.0
        logger.info("imap_started", mailbox=self.folder.key)
        try:
            while not stop.is_set():
                if not self._lead():
                    stop.wait(self.lease.total_seconds() / 3)  # another poller leads; watch its lease
                    continue
                try:
                    with connect(self.folder) as client:
                        backoff = 1.0
                        self._serve(client, stop)
                except _ERRORS as error:
                    message = f"{type(error).__name__}: {error}"
                    logger.warning("imap_error", mailbox=self.folder.key, error=message, retry_in=backoff)
                    self._note_error(message)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            with self.db.transaction() as conn:
                mailboxes.release(conn, key=self.folder.key, holder=self.holder)
            self.db.dispose()
            logger.info("imap_stopped", mailbox=self.folder.key)

    def _serve(self, client: IMAPClient, stop: threading.Event) -> None:
        idle = self.uses_idle(client)
        while not stop.is_set():
            self.poll_once(client)
            if idle:
                self._idle(client, stop)
            else:
                self._sleep(stop, self.app.settings.imap.poll_interval)

    def uses_idle(self, client: IMAPClient) -> bool:
        """IDLE when the server offers it; otherwise poll every ``[imap] poll_interval``."""
        return b"IDLE" in client.capabilities()

    def _idle(self, client: IMAPClient, stop: threading.Event) -> None:
        """Wait in IDLE until the server reports news, renewing the lease; re-issue IDLE in time.

        Mail that arrived during the round just finished must not wait for the next IDLE
        news: a NOOP first collects what the server announced meanwhile, and the responses
        that came with the IDLE continuation itself are looked at too.
        """
        _, announced = client.noop()
        if _news(announced):
            return
        client.idle()
        if _news(_pending(client)):
            client.idle_done()
            return
        began = time.monotonic()
        try:
            while not stop.is_set() and time.monotonic() - began < IDLE_RENEW:
                asked = time.monotonic()
                if client.idle_check(timeout=self._check_every):
                    break
                if time.monotonic() - asked < self._check_every / 2:
                    # imapclient returns nothing at once when the connection has gone; idle_done
                    # below then raises, and the caller reconnects.
                    break
                if not self._lead():
                    raise mailboxes.LeaseLost(f"{self.holder} lost {self.folder.key}")
        finally:
            client.idle_done()

    def _sleep(self, stop: threading.Event, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            stop.wait(min(self._check_every, max(deadline - time.monotonic(), 0)))
            if not self._lead():
                raise mailboxes.LeaseLost(f"{self.holder} lost {self.folder.key}")

    # -- one round ----------------------------------------------------------------------------

    def poll_once(self, client: IMAPClient) -> int:
        """Ingest every message above the recorded progress; returns how many were stored."""
        selected = client.select_folder(self.folder.folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        with self.db.transaction() as conn:
            recorded = mailboxes.progress(conn, key=self.folder.key)
        last = recorded.last_uid
        if recorded.uidvalidity is not None and recorded.uidvalidity != uidvalidity:
            logger.warning(
                "imap_uidvalidity_changed", mailbox=self.folder.key, was=recorded.uidvalidity, now=uidvalidity
            )
            last = 0  # the folder was recreated: rescan; the byte-for-byte dedupe keeps one copy
        if last:
            self._finish_flagging(client, last)
        # RFC 3501: "n:*" always includes the highest UID, so filter client-side.
        uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
        stored = 0
        for start in range(0, len(uids), BATCH):
            stored += self._batch(client, uids[start : start + BATCH], uidvalidity)
        with self.db.transaction() as conn:
            mailboxes.polled(conn, key=self.folder.key, holder=self.holder, now=self.clock())
        return stored

    def _batch(self, client: IMAPClient, uids: list[int], uidvalidity: int) -> int:
        """Fetch, store and flag one batch: the bytes and the progress commit before any flag is set."""
        wanted, too_big = self._by_size(client, uids)
        bodies = client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
        done, ids = self._store(uids, too_big, bodies, uidvalidity)
        if self.after_commit is not None:
            self.after_commit(ids)
        ring(functools.partial(self.app.graph.enqueue_process, ids), what="process", ids=ids)
        self._flag(client, [uid for uid in done if uid not in too_big], too_big)
        if ids:
            logger.info("imap_ingested", mailbox=self.folder.key, stored=len(ids), last_uid=max(done))
        return len(ids)

    def _by_size(self, client: IMAPClient, uids: list[int]) -> tuple[list[int], list[int]]:
        """(uids to fetch, uids too big to take) by the sizes the server reports."""
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        wanted = [uid for uid in uids if int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0)) <= self.max_size]
        return wanted, [uid for uid in uids if uid not in wanted and uid in sizes]

    def _store(
        self, uids: list[int], too_big: list[int], bodies: dict[int, dict[bytes, bytes]], uidvalidity: int
    ) -> tuple[list[int], list[int]]:
        """In one durable transaction: the messages not stored yet, and the progress; (uids done, new ids).

        The uids are taken in order up to the first the server did not send (the next round asks again).
        """
        done: list[int] = []
        rows: list[dict[str, object]] = []
        now = self.clock()
        with self.db.transaction() as conn:
            for uid in uids:
                raw = None if uid in too_big else bodies.get(uid, {}).get(b"BODY[]")
                if raw is None and uid not in too_big:
                    break
                done.append(uid)
                if raw is not None and messages.already_stored(conn, raw=raw) is None:
                    rows.append(messages.message_row(raw, self._envelope(raw, now)))
            ids = messages.store_many(conn, rows=rows) if rows else []
            if done:
                mailboxes.advance(
                    conn,
                    key=self.folder.key,
                    holder=self.holder,
                    uidvalidity=uidvalidity,
                    last_uid=max(done),
                    stored=len(ids),
                    now=now,
                )
        return done, ids

    def _envelope(self, raw: bytes, now: datetime) -> Envelope:
        intake = self.app.settings.service.intake_addresses[:1]
        return from_headers(
            raw, channel="imap", peer=f"imap:{self.folder.host}", default_rcpts=intake, received_at=now
        )

    def _flag(self, client: IMAPClient, ingested: list[int], too_big: list[int]) -> None:
        """Flag what was stored (and move it to ``done_folder``), and what is too big to take."""
        for uid in too_big:
            logger.error("imap_message_too_big", mailbox=self.folder.key, uid=uid, limit=self.max_size)
        if too_big:
            client.add_flags(too_big, [TOO_BIG])
        if ingested:
            client.add_flags(ingested, [INGESTED])
            if self.folder.done_folder:
                client.move(ingested, self.folder.done_folder)

    def _finish_flagging(self, client: IMAPClient, last: int) -> None:
        """Flag (and move) messages already stored whose flag a crash after the commit left unset."""
        pending = client.search(
            ["UID", f"1:{last}", "UNKEYWORD", INGESTED.decode(), "UNKEYWORD", TOO_BIG.decode()]
        )
        uids = sorted(uid for uid in pending if uid <= last)
        if uids:
            logger.info("imap_flagging_after_restart", mailbox=self.folder.key, messages=len(uids))
            client.add_flags(uids, [INGESTED])
            if self.folder.done_folder:
                client.move(uids, self.folder.done_folder)

    # -- connection and lease -----------------------------------------------------------------

    def _lead(self) -> bool:
        with self.db.transaction() as conn:
            return mailboxes.acquire(
                conn, key=self.folder.key, holder=self.holder, now=self.clock(), lease=self.lease
            )

    def _note_error(self, message: str) -> None:
        try:
            with self.db.transaction() as conn:
                mailboxes.polled(
                    conn, key=self.folder.key, holder=self.holder, now=self.clock(), error=message
                )
        except Exception as error:  # the database may be what failed
            logger.warning("imap_error_not_recorded", error=str(error))


_ANNOUNCE = frozenset({b"EXISTS", b"RECENT", "EXISTS", "RECENT"})


def _news(responses: Iterable[object]) -> bool:
    """Whether untagged responses (``(4, b"EXISTS")`` items, or imaplib's keys) announce mail."""
    for item in responses:
        words = item if isinstance(item, tuple | list) else (item,)
        if any(isinstance(word, bytes | str) and word in _ANNOUNCE for word in words):
            return True
    return False


def _pending(client: IMAPClient) -> list[str]:
    """Announcements imaplib parsed while starting IDLE (before the continuation), consumed."""
    buffered = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(buffered, dict):
        return []
    found = [key for key in buffered if key in _ANNOUNCE]
    for key in found:
        buffered.pop(key)
    return found


def serve(app: App, *, stop: threading.Event | None = None) -> None:
    """Run the poller until SIGTERM (``qmark imap``)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    Heart(app.services.db, "imap").start(stop)
    Poller(app).run(stop)
