"""F21: parser bombs, a zip bomb and a 30 MB attachment through the real SMTP edge and a real worker.

Injected by a test fixture that builds the bombs of reliability-security.md §5.3:
a 300 KB Subject (folded: SMTP lines stop at 1000 bytes), 10 000 ``Received:``
lines, multiparts nested 500 deep, 5 000 MIME parts, and a forward carrying a zip
bomb (100 MB of zeros in a 100 KB zip). They are sent over SMTP to ``qmark smtp`` in
a thread while a real worker (Redis, the database, the relay sink) runs beside it;
a 30 MB base64 attachment is sent over the 25 MB default limit.

Invariants: I1 (a bomb answered 250 is stored byte for byte), I2 (each is quarantined
with its reason after one attempt, or, for the zip, handled once without being opened),
I6 and no infinite retry (no dead letter, a second run changes nothing), the worker
survives (a normal forward afterwards still becomes an escalation), and an over-size
message gets 552 and is not stored while the edge keeps answering.
"""

from __future__ import annotations

import email
import email.policy
import io
import smtplib
import zipfile
from email.message import EmailMessage

import pytest
import redis

from pipeline.outbound.transport import crlf
from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.runners import qmark_env, role_in_thread, settings_from, smtp_in_thread, wait_until

pytestmark = pytest.mark.integration

TOP = b"From: Dana Chief <dana.chief@acme.test>\r\nTo: escalations@acme.test\r\nSubject: Fwd: bomb\r\n"


@pytest.fixture
def make_app(database_url, redis_url, relay_sink):
    """Build qmark on the test's database, Redis and relay sink, with ``extra`` settings on top."""
    from workers.bootstrap import build

    relay = f"smtp://127.0.0.1:{relay_sink.port}"
    return lambda **extra: build(
        settings=settings_from(
            qmark_env(database_url=database_url, redis_url=redis_url, outbound_url=relay, **extra)
        )
    )


def send(app, raw: bytes, sender: str = "dana.chief@acme.test"):
    host, port = app.settings.smtp.host_port
    with smtplib.SMTP(host, port, timeout=60) as client:
        return client.sendmail(sender, ["escalations@acme.test"], crlf(raw))


def received_lines(count: int) -> bytes:
    hop = (
        "Received: from relay{n}.spam.example ([192.0.2.{m}])\r\n"
        "\tby mx.acme.test; Mon, 23 Nov 2026 09:12:00 +0000\r\n"
    )
    return "".join(hop.format(n=n, m=n % 250) for n in range(count)).encode() + TOP + b"\r\n?\r\n"


def nested(depth: int) -> bytes:
    opening = "".join(
        f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n' for i in range(depth)
    )
    closing = "".join(f"--b{i}--\r\n" for i in reversed(range(depth + 1)))
    body = f"{opening}--b{depth}\r\nContent-Type: text/plain\r\n\r\n?\r\n{closing}"
    return TOP + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n' + body.encode()


def flat(parts: int) -> bytes:
    body = "".join(f"--f\r\nContent-Type: text/plain\r\n\r\npart {n}\r\n" for n in range(parts)) + "--f--\r\n"
    return TOP + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="f"\r\n\r\n' + body.encode()


def zip_bomb_forward() -> bytes:
    """Dana's real forward with invoices.zip attached: 100 MB of zeros packed into about 100 KB."""
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("invoices.pdf", bytes(100 * 1024 * 1024))
    message = email.message_from_bytes(mail_fixture("gmail-forward.eml"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message.replace_header("Message-ID", "<zip-bomb-1@mail.gmail.com>")
    message.add_attachment(packed.getvalue(), maintype="application", subtype="zip", filename="invoices.zip")
    return message.as_bytes()


BOMBS = {
    "subject of 300 KB": TOP.replace(b"Fwd: bomb", b"\r\n ".join([b"a" * 900] * 333)) + b"\r\n?\r\n",
    "10 000 Received lines": received_lines(10_000),
    "multiparts nested 500 deep": nested(500),
    "5 000 MIME parts": flat(5_000),
}


def test_f21_every_bomb_is_stored_quarantined_with_its_reason_once_and_the_worker_survives(
    make_app, database_url, redis_url, relay_sink
):
    from pipeline.steps import process
    from workers.roles import worker

    app = make_app()
    with smtp_in_thread(app), role_in_thread(worker.serve, app):
        # Given every bomb and a forward carrying a zip bomb, each answered 250
        for raw in BOMBS.values():
            assert send(app, raw) == {}
        assert send(app, zip_bomb_forward()) == {}
        # When the worker has decided them, and then a normal forward arrives
        done = "select count(*) from messages where state = 'done'"
        wait_until(
            lambda: scalar(database_url, done) == len(BOMBS) + 1, timeout=120, what="the bombs decided"
        )
        assert send(app, mail_fixture("apple-forward.eml")) == {}
        # Then the worker survived: the forward becomes an escalation, mailed to owner and executive
        relay_sink.wait_for(4, timeout=60)
        wait_until(lambda: scalar(database_url, done) == len(BOMBS) + 2, timeout=60, what="the forward")
    listed = "select id, raw, state, outcome, reason, attempts from messages order by id"
    *bombs, zipped, forward = rows(database_url, listed)
    for (message_id, raw, state, outcome, reason, attempts), (name, sent) in zip(
        bombs, BOMBS.items(), strict=True
    ):
        assert bytes(raw) == sent, name  # the bytes are safe; ops can look at them
        assert (state, outcome, attempts) == ("done", "quarantined", 1), name
        assert reason.startswith("unparseable: "), (name, reason)
        # And a job replayed later changes nothing: no infinite retry
        assert process.process_message(app.services, message_id) == []
    assert zipped[2:4] == ("done", "escalation") and zipped[5] == 1  # the zip is forwarded, never opened
    assert forward[2:4] == ("done", "escalation") and forward[5] == 1
    assert rows(database_url, listed)[: len(BOMBS)] == bombs
    assert redis.Redis.from_url(redis_url).zcard("qmark:process.XQ") == 0  # no dead letter
    assert scalar(database_url, "select count(*) from escalations") == 2


def test_f21_a_header_bomb_is_stored_then_quarantined_with_its_reason_and_never_retried(
    make_app, database_url
):
    from pipeline.model.mail import Envelope
    from pipeline.steps import process
    from workers.roles.group_commit import store_one

    app = make_app()
    bomb = b"From: dana.chief@acme.test\r\nSubject: " + b"a" * 300_000 + b"\r\n\r\n?\r\n"
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    message_id = store_one(app.services.db, bomb, envelope)
    assert process.process_message(app.services, message_id) == []
    assert process.process_message(app.services, message_id) == []
    [(raw, state, outcome, reason, attempts)] = rows(
        database_url, "select raw, state, outcome, reason, attempts from messages"
    )
    assert raw == bomb  # the bytes are safe; ops can look at them
    assert (state, outcome, attempts) == ("done", "quarantined", 1)
    assert reason.startswith("unparseable: ")


def test_f21_a_message_over_the_size_limit_gets_552_and_is_not_stored(make_app, database_url):
    app = make_app(QMARK_SMTP__MAX_MESSAGE_SIZE="64KB")
    raw = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 80
    with smtp_in_thread(app), pytest.raises(smtplib.SMTPException) as refused:
        send(app, raw)
    assert "552" in str(refused.value)
    assert scalar(database_url, "select count(*) from messages") == 0


def test_f21_a_30_mb_base64_attachment_gets_552_under_the_default_limit_and_the_edge_keeps_answering(
    make_app, database_url
):
    app = make_app()  # the default smtp.max_message_size, 25 MB
    message = email.message_from_bytes(mail_fixture("gmail-forward.eml"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message.add_attachment(
        bytes(30 * 1024 * 1024), maintype="application", subtype="pdf", filename="scan.pdf"
    )
    big = message.as_bytes()
    assert len(big) > 40 * 1024 * 1024  # base64 of 30 MB
    with smtp_in_thread(app):
        with pytest.raises(smtplib.SMTPException) as refused:
            send(app, big)
        assert "552" in str(refused.value)
        assert scalar(database_url, "select count(*) from messages") == 0
        # And the next sender is served as usual
        assert send(app, mail_fixture("gmail-forward.eml")) == {}
    assert scalar(database_url, "select count(*) from messages") == 1
