"""The SMTP edge (``qmark smtp``): store, enqueue, answer. Nothing else happens here.

RCPT is accepted only for intake addresses and signed reply addresses
(``<intake-local>+<token>@<domain>``); anything else gets 550 5.1.1. DATA
answers 250 only after the exact bytes and envelope are committed; any
internal fault answers 451 4.3.0 so the sending MTA retries (never aiosmtpd's
default 500); an over-size message gets 552 from aiosmtpd's SIZE handling.

The envelope is bounded: a MAIL FROM or RCPT address longer than RFC 5321's
254 characters gets 501 5.1.3, RCPT beyond ``[smtp] max_recipients`` get
452 4.5.3; a MAIL FROM declaring ``SIZE=`` over the limit gets aiosmtpd's 552 before any text,
and a command line over 512 octets (RFC 5321 4.5.3.1.4; more after EHLO for SIZE and SMTPUTF8)
gets its 500 Command line too long. With ``[smtp] tls_cert``/``tls_key`` the server offers
STARTTLS, and with ``require_tls`` answers 530 5.7.0 until the client has started it.
PIPELINING is not advertised; commands sent ahead are answered in order, but a
client that sends anything after DATA before the 354 (its message text, which
would otherwise be read as commands) gets 554 5.5.0 and is disconnected.

Connections are bounded (``smtp_edge.Admission``): beyond ``[smtp] max_connections`` per process or
``max_connections_per_peer`` a new one gets 421 4.3.2 and is closed; a connection silent for
``idle_timeout`` (between commands; while the message text arrives, any bytes count) or open for
``session_timeout`` gets 421 4.4.2 and is closed. A peer address sending more than
``max_commands_per_minute`` commands (a burst up to that many, then that many a minute, per
process; the message text is not counted) gets 421 4.7.0 and is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Session, syntax
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from pipeline import log
from pipeline.config.tls import server_context
from pipeline.model.mail import Envelope
from pipeline.store.db import open_database
from workers import graph as graph_module
from workers.bootstrap import App
from workers.heartbeat import Heart
from workers.ops.metrics import setup
from workers.roles.group_commit import Doorbell, GroupCommitter
from workers.roles.smtp_edge import FULL, IDLE, SESSION_OVER, TOO_FAST, Admission, CommandRate

logger = log.get(__name__)

TEMPFAIL = "451 4.3.0 Temporary local problem, please try again later"
#: RFC 5321 4.5.3.1.3: a path is at most 256 octets, so an address (without <>) at most 254.
MAX_ADDRESS = 254
TOO_LONG = f"501 5.1.3 Address too long: at most {MAX_ADDRESS} characters (RFC 5321)"
TOO_MANY = "452 4.5.3 Too many recipients"
MUST_STARTTLS = "530 5.7.0 Must issue a STARTTLS command first"
PIPELINED_DATA = "554 5.5.0 Improper use of SMTP command pipelining: text sent before the 354"


class IntakeHandler:
    """aiosmtpd hooks for qmark's intake."""

    def __init__(
        self,
        committer: GroupCommitter,
        *,
        intake: frozenset[str],
        domain: str,
        max_recipients: int = 100,
        counters: setup.SmtpCounters | None = None,
    ) -> None:
        self._committer = committer
        self._max_recipients = max_recipients
        self.counters = counters
        self._intake = intake
        self._domain = domain
        self._locals = frozenset(a.partition("@")[0] for a in intake)

    def accepts(self, address: str) -> bool:
        address = address.strip("<>").lower()
        if address in self._intake:
            return True
        local, _, domain = address.partition("@")
        base, plus, tag = local.partition("+")
        return bool(plus and tag) and domain == self._domain and base in self._locals

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, mail_options: list[str]
    ) -> str:
        if len(address) > MAX_ADDRESS:
            return TOO_LONG
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, rcpt_options: list[str]
    ) -> str:
        if len(address) > MAX_ADDRESS:
            return TOO_LONG
        if len(envelope.rcpt_tos) >= self._max_recipients:
            return TOO_MANY
        if not self.accepts(address):
            return f"550 5.1.1 <{address}>: not an escalation address here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        if self.counters is not None:
            self.counters.received.inc()
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        mail = Envelope(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=str(peer),
            received_at=datetime.now(UTC),
            channel="smtp",
        )
        message_id = await asyncio.wrap_future(self._committer.submit(raw, mail))
        logger.info("message_stored", message_id=message_id, size=len(raw), channel="smtp")
        return f"250 2.0.0 OK stored as message {message_id}"

    async def handle_exception(self, error: Exception) -> str:
        logger.error("smtp_internal_error", error=f"{type(error).__name__}: {error}")
        return TEMPFAIL


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP, counting the answers that refuse mail (451, 550, 552...) by code:
    whether the handler or aiosmtpd itself (SIZE) gave them; refusing text pipelined after DATA;
    admitting connections within the limits and ending idle, over-long or too-fast sessions with a 421."""

    def __init__(
        self,
        handler: IntakeHandler,
        *,
        admission: Admission | None = None,
        session_timeout: float | None = None,
        rate: CommandRate | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._counters = handler.counters
        self._admission = admission
        self._session_timeout = session_timeout
        self._rate = rate
        self._address = ""  # the peer's address
        self._peer: str | None = None  # set while this connection holds an admission place
        self._cut = False  # closed for sending commands too fast: later bytes are not read
        self._refused = False
        self._session_timer: asyncio.TimerHandle | None = None
        self._in_data = False  # message text arriving: any bytes count as activity

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # not the STARTTLS call
            peername = transport.get_extra_info("peername")
            self._address = peer = str(peername[0]) if isinstance(peername, tuple) else str(peername)
        if self._original_transport is None and self._admission is not None:
            if not self._admission.admit(peer):
                self._refused = True
                logger.warning("smtp_connection_refused", peer=peer, open=self._admission.open)
                self._say_and_close(transport, FULL)
                return
            self._peer = peer
        if self._session_timeout is not None and self._session_timer is None:
            self._session_timer = self.loop.call_later(self._session_timeout, self._session_over)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._session_timer is not None:
            self._session_timer.cancel()
        if self._peer is not None and self._admission is not None:
            self._admission.release(self._peer)
            self._peer = None
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        return False if self._refused else super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._cut:  # a refused client's bytes after our 421: nobody reads them
            return
        if self._in_data:  # a long message on a slow link is not idle (aiosmtpd counts per command)
            self._reset_timeout()
        elif (
            self._rate is not None
            and (lines := data.count(b"\n"))
            and not self._rate.take(self._address, lines)
        ):
            logger.warning("smtp_too_many_commands", peer=self._address)
            self._cut = True
            self._say_and_close(self.transport, TOO_FAST)
            return
        super().data_received(data)

    def _timeout_cb(self) -> None:
        logger.info("smtp_idle_timeout")
        self._say_and_close(self.transport, IDLE)

    def _session_over(self) -> None:
        logger.info("smtp_session_timeout")
        self._say_and_close(self.transport, SESSION_OVER)

    def _say_and_close(self, transport: asyncio.BaseTransport | None, status: str) -> None:
        """Write ``status`` and close (the transport flushes it first); no await, nothing to hang on."""
        if self._counters is not None:
            self._counters.answered(status)
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(status.encode("ascii") + b"\r\n")
            transport.close()

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status.startswith("530 Must issue a STARTTLS"):
            status = MUST_STARTTLS  # aiosmtpd's words, with RFC 3207's enhanced code
        if self._counters is not None:
            self._counters.answered(status if isinstance(status, str) else status.decode("ascii", "replace"))
        await super().push(status)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # A client must wait for DATA's answer (RFC 2920 3.1), so bytes already waiting here are a
        # message text that would be read as commands (a second MAIL/RCPT mixed into this session).
        if getattr(self._reader, "_buffer", b""):  # aiosmtpd itself clears it the same way at STARTTLS
            logger.warning("smtp_pipelined_data_refused")
            await self.push(PIPELINED_DATA)
            assert self.transport is not None
            self.transport.close()
            return
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False


def make_enqueue(graph: graph_module.Graph) -> Any:
    def enqueue(ids: Sequence[int]) -> None:
        graph.enqueue_process(ids)

    return enqueue


async def serve(app: App, *, stop: asyncio.Event | None = None) -> None:
    """Run the SMTP listener until ``stop`` is set (or SIGTERM/SIGINT arrive)."""
    settings = app.settings
    host, port = settings.smtp.host_port
    setup.use_metrics_dir(settings)  # before prometheus_client is imported
    doorbell = Doorbell(make_enqueue(app.graph))
    committer = GroupCommitter(open_database(settings.storage), doorbell.ring)  # durable commits
    handler = IntakeHandler(
        committer,
        intake=frozenset(a.lower() for a in settings.service.intake_addresses),
        domain=settings.service.domain.lower(),
        max_recipients=settings.smtp.max_recipients,
        counters=setup.smtp_counters(),
    )
    cert, key = settings.smtp.tls_cert, settings.smtp.tls_key
    context = server_context(cert, key) if cert and key else None
    admission = Admission(
        max_connections=settings.smtp.max_connections, max_per_peer=settings.smtp.max_connections_per_peer
    )
    per_minute = settings.smtp.max_commands_per_minute
    rate = CommandRate(per_minute) if per_minute else None
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
            loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(
        lambda: CountingSMTP(
            handler,
            data_size_limit=settings.smtp.max_message_size,
            enable_SMTPUTF8=True,
            hostname=settings.service.domain,
            ident="qmark ESMTP",
            tls_context=context,
            require_starttls=settings.smtp.require_tls,
            timeout=settings.smtp.idle_timeout,
            admission=admission,
            session_timeout=settings.smtp.session_timeout,
            rate=rate,
        ),
        host=host,
        port=port,
        reuse_port=True,  # several `qmark smtp` processes may share the port (smtp.processes)
    )
    logger.info("smtp_listening", host=host, port=port, starttls=context is not None)
    beating = threading.Event()
    Heart(app.services.db, "smtp").start(beating)
    try:
        await stop.wait()
    finally:
        beating.set()
        server.close()
        try:  # let sessions in the middle of DATA finish; idle ones are cut after the grace period
            await asyncio.wait_for(server.wait_closed(), timeout=10)
        except TimeoutError:
            logger.warning("smtp_sessions_cut_at_shutdown")
        committer.close()
        doorbell.close()
        logger.info("smtp_stopped")
