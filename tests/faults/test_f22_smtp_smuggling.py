"""F22: SMTP smuggling probes against the real SMTP role (reliability-security.md §6.2).

Injected: a raw client sends, after DATA's 354, a message text that ends with one of the
end-of-data look-alikes of hannob/smtpsmug (``\\n.\\n``, ``\\r.\\r\\n``, ``\\r\\n.\\r``, ...), then
a second MAIL FROM / RCPT TO / DATA and a second text, then the real ``\\r\\n.\\r\\n``. A server
that took the look-alike for the end of data would store two messages, the second with a forged
envelope. Also: bare CR and bare LF inside commands, and commands sent in clear right behind
STARTTLS (command injection).

Asserted (I1 nothing lost, one message per transaction; no forged envelope):
* every look-alike gives exactly one stored message whose envelope is the real one and whose
  bytes are the whole text, smuggled lines included, with each bare CR and bare LF kept as it
  came (the edge neither rejects nor rewrites them in the text: only CR LF . CR LF ends DATA,
  aiosmtpd 1.4 reads the text by CR LF lines); the smuggled MAIL/RCPT/DATA get no answer;
* in commands a bare LF ends the command like CR LF (aiosmtpd's reading), while a bare CR does
  not: ``NOOP<CR>MAIL FROM:...`` is one unknown command (500), never a second command;
* commands pipelined in clear after STARTTLS are discarded.
"""

from __future__ import annotations

import smtplib
from functools import partial
from pathlib import Path

import pytest

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.certs import self_signed
from tests.support.smtp_role import Wire, client_context, smtp_role, stored, tls_settings

pytestmark = pytest.mark.integration

EXEC = "dana.chief@acme.test"
INTAKE = "escalations@acme.test"
FORGED = "smuggled@evil.example"

#: hannob/smtpsmug's end-of-data look-alikes: each must NOT end the message text.
LOOK_ALIKES = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-cr": b"\r.\r",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-cr": b"\r\n.\r",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-cr": b"\n.\r",
    "cr-dot-lf": b"\r.\n",
    "crlf-nul-dot-crlf": b"\r\n\x00.\r\n",
    "crlf-dot-cr-crlf": b"\r\n.\r\r\n",
    "crlf-dot-space-crlf": b"\r\n. \r\n",
}

ENVELOPE = (f"MAIL FROM:<{EXEC}>".encode(), f"RCPT TO:<{INTAKE}>".encode(), b"DATA")
SMUGGLED = (
    f"MAIL FROM:<{FORGED}>\r\nRCPT TO:<{INTAKE}>\r\nDATA\r\n"
    f"From: {FORGED}\r\nTo: {INTAKE}\r\nSubject: smuggled\r\n\r\nI am a second message.\r\n"
).encode()


def unstuffed(text: bytes) -> bytes:
    """``text`` as RFC 5321 4.5.2 stores it: the leading dot of each CR LF line removed."""
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in text.split(b"\r\n"))


@pytest.fixture
def start(sqlite_url, redis_url, tmp_path):
    """The SMTP role on SQLite (the fault is in the SMTP reading, not the store); yields its app."""
    return partial(smtp_role, sqlite_url, redis_url, tmp_path)


@pytest.mark.parametrize("look_alike", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_f22_an_end_of_data_look_alike_gives_exactly_one_message_and_no_smuggled_one(
    start, sqlite_url, look_alike
):
    text = f"From: {EXEC}\r\nTo: {INTAKE}\r\nSubject: budget?\r\n\r\nWhy?".encode() + look_alike + SMUGGLED
    with start() as app:
        wire = Wire(*app.settings.smtp.host_port)
        wire.send(b"EHLO smug.example", *ENVELOPE)
        assert [reply[:3] for reply in wire.replies(4)] == [b"250", b"250", b"250", b"354"]
        # When the text with a look-alike and a smuggled transaction ends with the real CR LF . CR LF
        wire.sock.sendall(text + b".\r\n")
        assert wire.replies(1)[0].startswith(b"250 2.0.0 OK stored as message")
        # Then the next transaction on the session is the client's own, and nothing else is answered
        wire.send(*ENVELOPE)
        assert [reply[:3] for reply in wire.replies(3)] == [b"250", b"250", b"354"]
        wire.send(b"Subject: second\r\n\r\nA second question?\r\n.", b"QUIT")
        answers = wire.replies(5)  # fewer: the server closed after QUIT
        wire.close()
    assert [reply[:3] for reply in answers] == [b"250", b"221"]
    # And the look-alike's transaction is one message, the smuggled lines part of its text
    first, second = stored(sqlite_url)
    assert first == (unstuffed(text), EXEC, [INTAKE])
    assert second == (b"Subject: second\r\n\r\nA second question?\r\n", EXEC, [INTAKE])


def test_f22_a_bare_lf_ends_a_command_and_a_bare_cr_does_not_start_a_second_one(start, sqlite_url):
    with start() as app:
        wire = Wire(*app.settings.smtp.host_port)
        wire.sock.sendall(b"EHLO smug.example\n" + f"MAIL FROM:<{EXEC}>\n".encode())
        assert [reply[:3] for reply in wire.replies(2)] == [b"250", b"250"]
        wire.sock.sendall(f"NOOP\rRCPT TO:<{INTAKE}>\r\n".encode())
        assert wire.replies(1)[0].startswith(b"500")  # one unknown command "NOOP\rRCPT", not two
        wire.sock.sendall(f"RSET\rMAIL FROM:<{FORGED}>\r\n".encode())
        assert wire.replies(1)[0][:3] in (b"500", b"501")  # not a RSET followed by a MAIL
        wire.send(f"RCPT TO:<{INTAKE}>".encode(), b"DATA")
        assert [reply[:3] for reply in wire.replies(2)] == [b"250", b"354"]
        wire.send(b"Subject: lf\r\n\r\nok?\r\n.", b"QUIT")
        assert [reply[:3] for reply in wire.replies(3)] == [b"250", b"221"]
        wire.close()
    assert stored(sqlite_url) == [(b"Subject: lf\r\n\r\nok?\r\n", EXEC, [INTAKE])]


def test_f22_commands_sent_in_clear_after_starttls_are_discarded(start, tmp_path: Path, sqlite_url):
    pair = self_signed(tmp_path)
    raw = crlf(mail_fixture("gmail-forward.eml"))
    with start(**tls_settings(pair)) as app:
        host, port = app.settings.smtp.host_port
        wire = Wire(host, port)
        # Given a client (or a man in the middle) that sends MAIL in clear right behind STARTTLS
        wire.send(b"EHLO inject.example", b"STARTTLS", b"MAIL FROM:<injected@evil.example>")
        assert [reply[:3] for reply in wire.replies(2)] == [b"250", b"220"]
        tls = client_context(pair).wrap_socket(wire.sock, server_hostname="127.0.0.1")
        # When the encrypted session sends its own envelope
        with smtplib.SMTP(timeout=10) as client:
            client.sock, client.file = tls, None
            client.ehlo("inject.example")
            assert client.sendmail(EXEC, [INTAKE], raw) == {}
    # Then the injected MAIL never counted (no "503 nested MAIL"); the message has the real sender
    assert stored(sqlite_url) == [(raw, EXEC, [INTAKE])]
