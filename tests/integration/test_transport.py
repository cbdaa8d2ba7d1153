"""Outbound delivery against a real aiosmtpd relay on 127.0.0.1, and into a Maildir."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.outbound.compose import Identity
from pipeline.outbound.delivery import DeliveryError, Transport
from pipeline.outbound.maildir import MaildirTransport
from pipeline.outbound.opening import EscalationFacts, render_owner_forward
from pipeline.outbound.transport import SmtpTransport, open_transport
from tests.support.sink import RelaySink, free_port

pytestmark = pytest.mark.integration

IDENTITY = Identity(Address("escalations@acme.test", "qmark"), "escalations", "acme.test", b"s" * 32)
FACTS = EscalationFacts(
    ref="Q-3",
    number=3,
    executive=Address("dana.chief@acme.test", "Dana Chief"),
    owner=Address("pat.owner@acme.test", "Pat Owner"),
    owner_timezone="Europe/Berlin",
    deadline=datetime(2026, 11, 24, 13, 30, tzinfo=UTC),
    opened_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    executive_note="?",
    complaint=Original(
        shape="attached",
        sender=Address("carla@customer.example", "Carla"),
        date="Tue, 24 Nov 2026 08:02:00 +0000",
        subject="Broken again",
        body="It broke.\n.\nA line with only a dot, and: Grüße",
        raw=(
            b"From: Carla <carla@customer.example>\nSubject: Broken again\n\n"
            b"It broke.\n.\n.leading dot\nGr\xc3\xbc\xc3\x9fe\n"
        ),
    ),
    route="default",
    route_reasons=("no route matched",),
    rca_sections=("What happened", "Impact"),
)


@pytest.fixture
def forward() -> OutgoingMail:
    return render_owner_forward(FACTS, IDENTITY)


@pytest.fixture
def smtp(relay_sink: RelaySink) -> Iterator[Transport]:
    transport = open_transport(f"smtp://127.0.0.1:{relay_sink.port}", helo="qmark.acme.test")
    yield transport
    transport.close()


def test_a_rendered_owner_forward_arrives_byte_identical_with_the_signed_envelope_sender(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    smtp.send(forward)

    (received,) = relay_sink.wait_for(1)
    assert received.data == forward.raw
    assert received.mail_from == forward.envelope_from
    assert received.mail_from.startswith("escalations+q3-")
    assert received.rcpt_tos == ("pat.owner@acme.test",)


def test_two_sends_from_one_thread_share_one_connection(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    smtp.send(forward)
    smtp.send(forward)

    assert len(relay_sink.wait_for(2)) == 2
    assert relay_sink.connections == 1


def test_each_thread_gets_its_own_connection(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    threads = [threading.Thread(target=smtp.send, args=(forward,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(relay_sink.wait_for(2)) == 2
    assert relay_sink.connections == 2


def test_bare_line_feeds_are_sent_as_crlf(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    lf_only = replace(forward, raw=forward.raw.replace(b"\r\n", b"\n"))

    smtp.send(lf_only)

    assert relay_sink.wait_for(1)[0].data == forward.raw


def test_a_451_is_a_temporary_delivery_error(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    relay_sink.reply_with = "451 4.3.0 try later"

    with pytest.raises(DeliveryError) as caught:
        smtp.send(forward)

    assert (caught.value.permanent, caught.value.code) == (False, 451)
    assert relay_sink.messages == []


def test_a_554_is_a_permanent_delivery_error(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    relay_sink.reply_with = "554 5.7.1 no"

    with pytest.raises(DeliveryError) as caught:
        smtp.send(forward)

    assert (caught.value.permanent, caught.value.code) == (True, 554)


def test_a_refused_recipient_is_permanent_and_the_connection_is_reused_after_it(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    relay_sink.reply_with, relay_sink.reply_stage = "550 5.1.1 no such user", "RCPT"
    with pytest.raises(DeliveryError) as caught:
        smtp.send(forward)
    relay_sink.reply_with = None

    smtp.send(forward)

    assert (caught.value.permanent, caught.value.code) == (True, 550)
    assert len(relay_sink.wait_for(1)) == 1
    assert relay_sink.connections == 1


def test_a_relay_that_is_down_is_a_temporary_delivery_error(forward: OutgoingMail) -> None:
    transport = open_transport(f"smtp://127.0.0.1:{free_port()}")

    with pytest.raises(DeliveryError) as caught:
        transport.send(forward)

    assert (caught.value.permanent, caught.value.code) == (False, None)


def test_a_connection_the_relay_dropped_is_reopened_once(forward: OutgoingMail) -> None:
    with RelaySink() as first:
        transport = open_transport(f"smtp://127.0.0.1:{first.port}")
        transport.send(forward)
        first.wait_for(1)
    with RelaySink(port=first.port) as second:
        transport.send(forward)

        assert len(second.wait_for(1)) == 1
        assert second.connections == 1
    transport.close()


def test_starttls_is_never_skipped_when_the_relay_does_not_offer_it(
    relay_sink: RelaySink, forward: OutgoingMail
) -> None:
    transport = open_transport(f"smtp+starttls://bot:s3cret@127.0.0.1:{relay_sink.port}")

    with pytest.raises(DeliveryError) as caught:
        transport.send(forward)

    assert caught.value.permanent is False
    assert "s3cret" not in str(caught.value)
    assert relay_sink.messages == []


def test_the_transport_never_shows_the_password() -> None:
    transport = open_transport("smtp+starttls://bot:s%40cret@relay.acme.test:2587")

    assert isinstance(transport, SmtpTransport)
    assert "s@cret" not in repr(transport) and "s%40cret" not in repr(transport)
    assert "bot:***@relay.acme.test:2587" in repr(transport)


@pytest.mark.parametrize(
    "url", ["http://relay:25", "smtp://user:pw@relay:25", "maildir:", "smtps://relay:465", "smtp://"]
)
def test_unusable_outbound_urls_are_refused_with_the_accepted_forms(url: str) -> None:
    with pytest.raises(ValueError):
        open_transport(url)


def test_maildir_delivery_writes_one_file_per_message_id_and_recipient_however_often_it_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forward: OutgoingMail
) -> None:
    monkeypatch.chdir(tmp_path)
    transport = open_transport("maildir:var/sent")
    assert isinstance(transport, MaildirTransport)
    box = tmp_path / "var" / "sent"

    transport.send(forward)
    transport.send(forward)  # a resend after a kill: same Message-ID, same recipient

    new = sorted((box / "new").iterdir())
    assert len(new) == 1
    assert list((box / "tmp").iterdir()) == []
    stored = new[0].read_bytes()
    assert stored.startswith(b"Delivered-To: pat.owner@acme.test\n")
    assert stored.split(b"\n", 1)[1] == forward.raw.replace(b"\r\n", b"\n")

    # A reader moved it to cur/ and marked it seen: a resend still writes nothing
    new[0].rename(box / "cur" / f"{new[0].name}:2,S")
    transport.send(forward)
    assert list((box / "new").iterdir()) == []

    # Another mail, or the same mail to another recipient, is a file of its own
    transport.send(replace(forward, message_id="<qmark.q1.executive_ack.2@acme.test>"))
    transport.send(replace(forward, recipient="lee.manager@acme.test"))
    assert len(list((box / "new").iterdir())) == 2


def test_maildir_refuses_a_recipient_that_would_inject_a_header(
    tmp_path: Path, forward: OutgoingMail
) -> None:
    transport = open_transport(f"maildir:{tmp_path / 'box'}")

    with pytest.raises(DeliveryError) as caught:
        transport.send(replace(forward, recipient="pat@acme.test\nBcc: x@evil.example"))

    assert caught.value.permanent is True
    assert list((tmp_path / "box" / "new").iterdir()) == []


def test_smtp_refuses_an_envelope_address_that_would_break_the_command(
    relay_sink: RelaySink, smtp: Transport, forward: OutgoingMail
) -> None:
    with pytest.raises(DeliveryError) as caught:
        smtp.send(replace(forward, recipient="pat@acme.test>\r\nRCPT TO:<x@evil.example"))

    assert caught.value.permanent is True
    assert relay_sink.messages == []
