"""One IMAP folder qmark reads: where it is, how to log in, and a connection to it.

:class:`Folder` is ``[imap]`` resolved (server, TLS mode, login, folder); its ``key``
names the folder without the password (the database's lease and progress rows,
``/readyz`` and ``qmark status`` use it). :func:`connect` logs in with TLS from the
start (``imaps://``), STARTTLS, or none, and turns on TCP keepalive so a silently
dead connection surfaces as an error instead of a hang.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from imapclient import IMAPClient
from imapclient.imapclient import SocketTimeout

from pipeline.config.settings import Settings

TIMEOUTS = SocketTimeout(connect=15, read=60)


@dataclass(frozen=True)
class Folder:
    """Where to read: server, TLS mode, login, folder; ``key`` names it without the password."""

    host: str
    port: int
    tls: str  # "imaps" (TLS from the start) or "starttls" or "none"
    username: str
    password: str
    folder: str
    done_folder: str | None
    ca_file: str | None

    @property
    def key(self) -> str:
        scheme = "imaps" if self.tls == "imaps" else "imap"
        return f"{scheme}://{self.host}:{self.port}/{self.username}/{self.folder}"

    @classmethod
    def from_settings(cls, settings: Settings) -> Folder:
        """The folder ``[imap]`` names (its ``url`` must be set)."""
        imap = settings.imap
        assert imap.url is not None, "[imap] url is not configured"
        parts = urlsplit(imap.url)
        tls = "imaps" if parts.scheme == "imaps" else ("starttls" if imap.starttls else "none")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (993 if parts.scheme == "imaps" else 143),
            tls=tls,
            username=imap.username,
            password=imap.password.get_secret_value(),
            folder=imap.folder,
            done_folder=imap.done_folder,
            ca_file=imap.ca_file,
        )


@contextmanager
def connect(folder: Folder) -> Iterator[IMAPClient]:
    """A logged-in client for ``folder`` (TLS as configured, keepalive on); logged out on exit."""
    context = ssl.create_default_context(cafile=folder.ca_file) if folder.tls != "none" else None
    client = IMAPClient(
        folder.host, port=folder.port, ssl=folder.tls == "imaps", ssl_context=context, timeout=TIMEOUTS
    )
    try:
        if folder.tls == "starttls":
            client.starttls(context)
        client.login(folder.username, folder.password)
        _keepalive(client)
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone
            with suppress(Exception):
                client.shutdown()


def _keepalive(client: IMAPClient) -> None:
    """TCP keepalive, so a silently dead connection surfaces as an error instead of a hang."""
    sock = client.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
