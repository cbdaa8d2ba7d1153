"""The SMTP edge's STARTTLS and envelope limits, through the real role on a real database and Redis.

STARTTLS with a generated certificate, require_tls, max_recipients, the address length cap, MAIL
FROM's declared SIZE and command line length, and pipelined bursts: one stored message per DATA,
never mixed envelopes.
"""

from __future__ import annotations

import smtplib
import ssl
from functools import partial
from pathlib import Path

import pytest

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.certs import self_signed
from tests.support.db import scalar
from tests.support.smtp_role import Wire, client_context, smtp_role, stored, tls_settings

pytestmark = pytest.mark.integration

EXEC = "dana.chief@acme.test"
INTAKE = "escalations@acme.test"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
def start(database_url, redis_url, tmp_path):
    """Start the SMTP role with extra QMARK_SMTP__* settings; yields its app."""
    return partial(smtp_role, database_url, redis_url, tmp_path)


def test_a_forward_sent_after_starttls_is_stored_byte_for_byte(start, pair, database_url):
    raw = crlf(mail_fixture("gmail-forward.eml"))
    with start(**tls_settings(pair)) as app:
        host, port = app.settings.smtp.host_port
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            code, _ = client.starttls(context=client_context(pair))
            assert code == 220
            assert isinstance(client.sock, ssl.SSLSocket) and client.sock.version() in ("TLSv1.2", "TLSv1.3")
            assert client.sendmail(EXEC, [INTAKE], raw) == {}
    assert stored(database_url) == [(raw, EXEC, [INTAKE])]


def test_require_tls_refuses_mail_before_starttls_and_accepts_it_after(start, pair, database_url):
    raw = crlf(mail_fixture("apple-forward.eml"))
    with start(**tls_settings(pair, require_tls="true")) as app:
        host, port = app.settings.smtp.host_port
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.ehlo()
            assert client.mail(EXEC) == (530, b"5.7.0 Must issue a STARTTLS command first")
            client.starttls(context=client_context(pair))
            assert client.sendmail(EXEC, [INTAKE], raw) == {}
    assert stored(database_url) == [(raw, EXEC, [INTAKE])]


def test_recipients_beyond_max_recipients_get_452_and_the_message_is_stored_once_with_the_rest(
    start, database_url
):
    raw = crlf(mail_fixture("thunderbird-forward.eml"))
    rcpts = [f"escalations+t{n}@acme.test" for n in range(5)]
    with start(max_recipients="3") as app:
        host, port = app.settings.smtp.host_port
        with smtplib.SMTP(host, port, timeout=10) as client:
            refused = client.sendmail(EXEC, rcpts, raw)
    assert refused == {rcpt: (452, b"4.5.3 Too many recipients") for rcpt in rcpts[3:]}
    assert stored(database_url) == [(raw, EXEC, rcpts[:3])]


def test_an_address_over_254_characters_is_refused_with_501(start, database_url):
    long_sender = "a" * 243 + "@example.test"  # 256 characters
    long_rcpt = "escalations+" + "t" * 243 + "@acme.test"
    with start() as app:
        host, port = app.settings.smtp.host_port
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.ehlo()
            code, message = client.mail(long_sender)
            assert (code, message) == (501, b"5.1.3 Address too long: at most 254 characters (RFC 5321)")
            assert client.mail(EXEC)[0] == 250
            code, message = client.rcpt(long_rcpt)
            assert code == 501 and b"too long" in message
            assert client.rcpt("escalations+" + "t" * 230 + "@acme.test")[0] == 250
    assert scalar(database_url, "select count(*) from messages") == 0


def envelope(sender: str, *rcpts: str) -> tuple[bytes, ...]:
    """MAIL FROM, one RCPT TO per recipient, then DATA: the lines a pipelining client sends at once."""
    return (f"MAIL FROM:<{sender}>".encode(), *(f"RCPT TO:<{rcpt}>".encode() for rcpt in rcpts), b"DATA")


def body(subject: str) -> bytes:
    return f"From: {EXEC}\r\nTo: {INTAKE}\r\nSubject: {subject}\r\n\r\nWhy? {subject}\r\n.".encode()


def test_a_pipelined_burst_gives_exactly_one_message_per_data_with_its_own_envelope(start, database_url):
    with start() as app:
        wire = Wire(*app.settings.smtp.host_port)
        # Given a client that pipelines every envelope command, waiting only for each 354
        wire.send(b"EHLO burst.example", *envelope("one@burst.example", INTAKE))
        first = wire.replies(4)
        wire.send(
            body("first"), *envelope("two@burst.example", "nobody@acme.test", "escalations+t2@acme.test")
        )
        second = wire.replies(5)
        wire.send(body("second"), b"RSET", b"MAIL FROM:<three@burst.example>", b"QUIT")
        third = wire.replies(4)
        wire.close()
    # Then every command got its answer in order
    assert [reply[:3] for reply in first] == [b"250", b"250", b"250", b"354"]
    assert [reply[:3] for reply in second] == [b"250", b"250", b"550", b"250", b"354"]
    assert [reply[:3] for reply in third] == [b"250", b"250", b"250", b"221"]
    assert b"stored as message" in second[0] and b"stored as message" in third[0]
    # And each DATA stored one message, with its own envelope and text
    found = stored(database_url)
    assert [(mail_from, rcpts) for _raw, mail_from, rcpts in found] == [
        ("one@burst.example", [INTAKE]),
        ("two@burst.example", ["escalations+t2@acme.test"]),
    ]
    assert b"Why? first" in found[0][0] and b"Why? second" in found[1][0]
    assert b"second" not in found[0][0] and b"MAIL FROM" not in found[1][0]


def test_text_pipelined_after_data_before_its_354_is_refused_and_nothing_is_stored(start, database_url):
    with start() as app:
        wire = Wire(*app.settings.smtp.host_port)
        # Given a refused recipient, so DATA would fail and the text after it be read as commands
        smuggled = envelope("b@abuse.example", INTAKE)
        wire.send(
            b"EHLO abuse.example", *envelope("a@abuse.example", "nobody@acme.test"), *smuggled, body("x")
        )
        answers = wire.replies(10)
        wire.close()
    # Then DATA is refused as pipelining abuse and the connection closed: no smuggled envelope
    assert [reply[:3] for reply in answers] == [b"250", b"250", b"550", b"554"]
    assert answers[-1].startswith(b"554 5.5.0 Improper use of SMTP command pipelining")
    assert scalar(database_url, "select count(*) from messages") == 0


def test_a_bounce_from_the_null_sender_is_still_accepted_under_the_address_cap(start, database_url):
    raw = crlf(mail_fixture("dsn-mailer-daemon.eml"))
    with start() as app:
        host, port = app.settings.smtp.host_port
        with smtplib.SMTP(host, port, timeout=10) as client:
            assert client.sendmail("", [INTAKE], raw) == {}
    assert stored(database_url) == [(raw, "<>", [INTAKE])]


def test_a_mail_from_declaring_a_size_over_max_message_size_gets_552_before_data(start, database_url):
    with start(max_message_size="1000") as app:
        wire = Wire(*app.settings.smtp.host_port)
        # Given a client that declares its message size (RFC 1870) on MAIL FROM
        wire.send(b"EHLO big.example", f"MAIL FROM:<{EXEC}> SIZE=1001".encode())
        ehlo, too_big = wire.replies(2)
        # Then a size over the limit is refused before any text is sent, and the session goes on
        wire.send(f"MAIL FROM:<{EXEC}> SIZE=1000".encode(), f"RCPT TO:<{INTAKE}>".encode(), b"QUIT")
        answers = wire.replies(4)
        wire.close()
    assert ehlo.startswith(b"250")
    assert too_big.startswith(b"552") and b"size exceeds" in too_big
    assert [reply[:3] for reply in answers] == [b"250", b"250", b"221"]
    assert scalar(database_url, "select count(*) from messages") == 0


def test_an_over_long_mail_from_line_gets_500_and_the_session_goes_on(start, database_url):
    padded = f"MAIL FROM:<{EXEC}> ".encode() + b"X-PAD=" + b"y" * 600  # a 254-character address fits
    huge = f"MAIL FROM:<{EXEC}> ".encode() + b"X-PAD=" + b"y" * 5000  # longer than a line may be
    with start() as app:
        wire = Wire(*app.settings.smtp.host_port)
        wire.send(b"EHLO long.example", padded, huge, f"MAIL FROM:<{EXEC}>".encode(), b"QUIT")
        answers = wire.replies(6)
        wire.close()
    assert [reply[:3] for reply in answers] == [b"250", b"500", b"500", b"250", b"221"]
    assert answers[1] == answers[2] == b"500 Command line too long"
    assert scalar(database_url, "select count(*) from messages") == 0
