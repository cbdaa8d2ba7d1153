"""Helpers shared by the fault tests of the queue part (F5–F9, F11) and the tests they came from.

IMAP: a poller built from QMARK_* variables, one poll round driven by hand as the leader,
the process step run over every stored message, and a numbered copy of Dana's billing forward.
Relays: :class:`StallingRelay`, a real aiosmtpd relay that follows a per-recipient script
(pass, refuse with a reply, or stall a RCPT so a sending worker can be killed mid-job), and
the relay sink that answers late. Hosts: two `qmark run` trees on one database.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from pipeline.steps.process import process_message
from tests.conftest import mail_fixture
from tests.support.db import rows
from tests.support.hosts import Host, make_hosts, migrate
from tests.support.runners import qmark_env, settings_from
from tests.support.servers import free_port
from tests.support.sink import RelaySink


class Crash(BaseException):
    """Stands for the process dying at a chosen point: nothing after it runs."""


def billing(n: int) -> bytes:
    """Dana's billing forward as a new mail (its own Message-ID)."""
    return mail_fixture("gmail-forward.eml").replace(b"Message-ID: <", f"Message-ID: <imap{n}.".encode(), 1)


def imap_env(database_url: str, redis_url: str, imap_mailbox: Any, tmp_path: Path) -> dict[str, str]:
    """QMARK_* variables for a poller on ``imap_mailbox``; outbound mail goes to a Maildir."""
    return qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"maildir:{tmp_path / 'sent'}",
        QMARK_IMAP__STARTTLS="false",
        **imap_mailbox.env(),
    )


def relay_env(database_url: str, redis_url: str, sink: RelaySink) -> dict[str, str]:
    """QMARK_* variables for an instance that sends to the relay sink ``sink``."""
    return qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"smtp://127.0.0.1:{sink.port}"
    )


def build(env: dict[str, str], **extra: str) -> Any:
    from workers.bootstrap import build as build_app

    return build_app(settings=settings_from({**env, **extra}))


def poller(app: Any, **options: Any) -> Any:
    from workers.roles.imap import Poller

    return Poller(app, **options)


def round_(p: Any) -> int:
    """One poll round as the leader, then the lease given up; returns how many messages were stored."""
    from pipeline.store import mailboxes
    from workers.imap_folder import connect

    assert p._lead()
    with connect(p.folder) as client:
        stored = int(p.poll_once(client))
    with p.db.transaction() as conn:
        mailboxes.release(conn, key=p.folder.key, holder=p.holder)
    return stored


def process_all(app: Any) -> list[str]:
    """Run the process step on every stored message; their outcomes in id order."""
    url = app.settings.storage.database_url
    for (message_id,) in rows(url, "select id from messages order by id"):
        process_message(app.services, message_id)
    return [r[0] for r in rows(url, "select outcome from messages order by id")]


def delayed_relay_sink() -> RelaySink:
    """The relay records each mail 0.2 s before its 250: a kill then strands mail it already has."""
    return RelaySink(answer_delay=0.2)


def two_hosts(database_url: str, redis_url: str, sink: RelaySink, tmp_path: Path) -> list[Host]:
    """Two `qmark run` hosts on one migrated database and one Redis, sending to ``sink``."""
    migrate(database_url)
    return make_hosts(2, tmp_path, database_url=database_url, redis_url=redis_url, relay_port=sink.port)


STALL, PASS = "stall", "pass"


class StallingRelay:
    """A real relay on 127.0.0.1 whose RCPT replies follow a script, one step per RCPT.

    ``script`` maps a recipient (or ``"*"`` for any) to steps used in order: ``PASS``,
    ``STALL`` (the RCPT hangs, so the sender is stuck mid-job and can be killed there; the
    ``stalled`` event is set) or an SMTP reply such as ``"451 4.3.0 later"``. Once a
    recipient's steps are used up it passes. ``received`` holds each complete mail.
    """

    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        self.port = free_port()
        self.script = {rcpt: list(steps) for rcpt, steps in (script or {}).items()}
        self.stalled = threading.Event()
        self.received: list[tuple[str, bytes]] = []  # (recipient, bytes)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def _step(self, address: str) -> str:
        for key in (address, "*"):
            if self.script.get(key):
                return self.script[key].pop(0)
        return PASS

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        step = self._step(address)
        if step == STALL:
            self.stalled.set()
            await asyncio.sleep(60)
            return "451 4.3.0 stalled"
        if step != PASS:
            return step
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt, bytes(envelope.content)))
        return "250 OK"

    def __enter__(self) -> StallingRelay:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
