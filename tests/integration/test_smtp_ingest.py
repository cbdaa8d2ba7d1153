"""The SMTP edge against a real database and a real Redis: durable accept, 451 on faults, 550 (552: F21)."""

from __future__ import annotations

import smtplib

import pytest
import redis

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.db import rows
from tests.support.runners import qmark_env, settings_from, smtp_in_thread

pytestmark = pytest.mark.integration


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    from workers.bootstrap import build

    env = qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"maildir:{tmp_path}/sent",
        QMARK_SMTP__MAX_MESSAGE_SIZE="64KB",
    )
    return build(settings=settings_from(env))


def send(app, raw: bytes, rcpts=("escalations@acme.test",), sender="dana.chief@acme.test"):
    host, port = app.settings.smtp.host_port
    with smtplib.SMTP(host, port, timeout=10) as client:
        return client.sendmail(sender, list(rcpts), crlf(raw))


def test_data_is_stored_byte_for_byte_with_its_envelope_before_250(app, database_url, redis_url):
    raw = crlf(mail_fixture("gmail-forward.eml"))
    with smtp_in_thread(app):
        refused = send(app, raw)
    assert refused == {}
    [(stored, mail_from, rcpts, channel, state)] = rows(
        database_url, "select raw, mail_from, rcpt_tos, channel, state from messages"
    )
    assert stored == raw
    assert mail_from == "dana.chief@acme.test"
    assert "escalations@acme.test" in rcpts
    assert (channel, state) == ("smtp", "pending")
    # the doorbell rang: one process job waits in Redis
    assert redis.Redis.from_url(redis_url).llen("qmark:process") == 1


def test_unknown_recipients_get_550_and_reply_addresses_are_accepted(app):
    host, port = app.settings.smtp.host_port
    with smtp_in_thread(app), smtplib.SMTP(host, port, timeout=10) as client:
        client.ehlo()
        client.mail("dana.chief@acme.test")
        code, message = client.rcpt("someone@acme.test")
        assert code == 550 and b"5.1.1" in message
        code, _ = client.rcpt("other@elsewhere.example")
        assert code == 550
        code, _ = client.rcpt("escalations+q1-abcdef@acme.test")
        assert code == 250
        code, _ = client.rcpt("ESCALATIONS@ACME.TEST")
        assert code == 250
