"""The real SMTP role in a thread for a test, and the clients that talk to it.

``smtp_role`` starts ``qmark smtp`` with extra ``[smtp]`` settings on a given database and Redis;
``Wire`` is a raw client that writes several commands at once (pipelining, smuggling probes);
``tls_settings``/``client_context`` give the role a certificate and a client that verifies it;
``stored`` reads back what the role committed.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.db import decoded, rows
from tests.support.runners import qmark_env, settings_from, smtp_in_thread


@contextmanager
def smtp_role(database_url: str, redis_url: str, tmp_path: Path, **smtp: str) -> Iterator[Any]:
    """The SMTP role with extra QMARK_SMTP__* settings, running until exit; yields its app."""
    from workers.bootstrap import build

    extra = {f"QMARK_SMTP__{key.upper()}": value for key, value in smtp.items()}
    env = qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"maildir:{tmp_path}/sent", **extra
    )
    app = build(settings=settings_from(env))
    with smtp_in_thread(app):
        yield app


def tls_settings(pair: tuple[Path, Path], **more: str) -> dict[str, str]:
    """``[smtp]`` settings offering STARTTLS with the certificate ``pair``."""
    cert, key = pair
    return {"tls_cert": str(cert), "tls_key": str(key), **more}


def client_context(pair: tuple[Path, Path]) -> ssl.SSLContext:
    """A client that verifies the server against the generated certificate (hostname included)."""
    return ssl.create_default_context(cafile=str(pair[0]))


def stored(database_url: str) -> list[tuple[bytes, str, list[str]]]:
    """Every committed message as (raw bytes, MAIL FROM, RCPT TOs), in arrival order."""
    found = rows(database_url, "select raw, mail_from, rcpt_tos from messages order by id")
    return [(bytes(raw), mail_from, decoded(rcpts)) for raw, mail_from, rcpts in found]


class Wire:
    """A raw SMTP client that writes several commands at once and reads the answers."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.replies(1)  # the greeting

    def send(self, *lines: bytes) -> None:
        self.sock.sendall(b"".join(line + b"\r\n" for line in lines))

    def replies(self, count: int) -> list[bytes]:
        """The last line of each of the next ``count`` replies ('250-…' continuation lines skipped)."""
        found = []
        while len(found) < count:
            line = self.file.readline()
            if not line:
                break  # the server closed the connection
            if line[3:4] != b"-":
                found.append(line.rstrip(b"\r\n"))
        return found

    def close(self) -> None:
        self.file.close()
        self.sock.close()
