"""Hand a rendered :class:`~pipeline.model.mail.OutgoingMail` to the SMTP relay, or to a Maildir.

``open_transport`` reads the ``[outbound] url`` forms ``smtp://host:port``,
``smtp+starttls://[user:pass@]host:port`` and ``maildir:PATH``. Failures surface
as :class:`DeliveryError`; ``permanent`` says whether retrying can help.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipeline.model.mail import OutgoingMail
from pipeline.outbound.delivery import LINE_BREAK, DeliveryError, Transport, check_envelope
from pipeline.outbound.maildir import MaildirTransport

SMTP_TIMEOUT = 30.0


def open_transport(url: str, *, helo: str | None = None) -> Transport:
    """The transport for an ``[outbound] url``; ``helo`` is the EHLO name (default: this host's name)."""
    if url.startswith("maildir:"):
        return _maildir_transport(url)
    return SmtpTransport(_relay(url, helo))


def _maildir_transport(url: str) -> MaildirTransport:
    path = url.removeprefix("maildir:")
    if not path:
        raise ValueError("maildir: URL needs a path, e.g. maildir:var/sent")
    return MaildirTransport(Path.cwd() / path)


def _relay(url: str, helo: str | None) -> Relay:
    """The relay an ``smtp://`` or ``smtp+starttls://`` URL names; ValueError for any other URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtp+starttls") or not parts.hostname:
        raise ValueError(
            f"outbound url scheme {parts.scheme!r}: use smtp://host:port, "
            "smtp+starttls://[user:pass@]host:port or maildir:PATH"
        )
    starttls = parts.scheme == "smtp+starttls"
    if parts.username is not None and not starttls:
        raise ValueError("outbound credentials need smtp+starttls://, never plain smtp://")
    return Relay(
        host=parts.hostname,
        port=parts.port or (587 if starttls else 25),
        starttls=starttls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password or ""),
        helo=helo,
    )


def crlf(data: bytes) -> bytes:
    """``data`` with every line break (CR LF, bare LF, bare CR) as CR LF, ending in CR LF."""
    fixed = LINE_BREAK.sub(b"\r\n", data)
    return fixed if fixed.endswith(b"\r\n") else fixed + b"\r\n"


@dataclass(frozen=True)
class Relay:
    """Where and how to reach the SMTP relay. ``repr`` never shows the password."""

    host: str
    port: int
    starttls: bool
    username: str | None = None
    password: str = ""
    helo: str | None = None

    def __repr__(self) -> str:
        who = f"{self.username}:***@" if self.username else ""
        scheme = "smtp+starttls" if self.starttls else "smtp"
        return f"Relay({scheme}://{who}{self.host}:{self.port})"


class SmtpTransport:
    """SMTP client with one reused connection per thread and one reconnect on a dropped connection."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[smtplib.SMTP] = set()

    def __repr__(self) -> str:
        return f"SmtpTransport({self._relay!r})"

    def send(self, mail: OutgoingMail) -> None:
        """Deliver ``mail`` (MAIL FROM envelope_from, RCPT recipient) or raise DeliveryError."""
        check_envelope(mail)
        data = crlf(mail.raw)
        for attempt in (1, 2):
            try:
                conn = self._connection()
                options = ["BODY=8BITMIME"] if not data.isascii() and conn.has_extn("8bitmime") else []
                conn.sendmail(mail.envelope_from, [mail.recipient], data, mail_options=options)
                return
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()), (None, b""))
                raise _refused("recipient refused", code, text) from exc
            except smtplib.SMTPAuthenticationError as exc:
                self._drop()
                message = f"relay refused our login ({exc.smtp_code}); check the outbound credentials"
                raise DeliveryError(message, permanent=False, code=exc.smtp_code) from exc
            except smtplib.SMTPResponseException as exc:
                self._drop_if_closed()
                raise _refused("relay refused", exc.smtp_code, exc.smtp_error) from exc
            except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
                self._drop()
                if attempt == 2:
                    relay = f"{self._relay.host}:{self._relay.port}"
                    raise DeliveryError(
                        f"no usable connection to relay {relay}: {type(exc).__name__}: {exc}"[:500],
                        permanent=False,
                    ) from exc

    def close(self) -> None:
        """QUIT every connection any thread opened."""
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            _quit(conn)
        self._local = threading.local()

    def _connection(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        relay = self._relay
        conn = smtplib.SMTP(relay.host, relay.port, local_hostname=relay.helo, timeout=SMTP_TIMEOUT)
        try:
            conn.ehlo()
            if relay.starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if relay.username is not None:
                conn.login(relay.username, relay.password)
        except BaseException:
            _quit(conn)
            raise
        self._local.conn = conn
        with self._lock:
            self._open.add(conn)
        return conn

    def _drop(self) -> None:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._open.discard(conn)
            _quit(conn)

    def _drop_if_closed(self) -> None:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is None:
            self._drop()


def _refused(what: str, code: int | None, text: bytes | str) -> DeliveryError:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    permanent = code is not None and 500 <= code < 600
    return DeliveryError(f"{what}: {code} {message}"[:500], permanent=permanent, code=code)


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()
