"""What machine mail says about qmark's own mail: its kind, qmark's Message-IDs in it, who failed.

pipeline/inbound/bounces.py and pipeline/inbound/dsn.py.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime

import pytest

from pipeline.inbound.bounces import is_delayed_only, machine_kind, qmark_message_ids
from pipeline.inbound.dsn import MAX_SCAN, failed_recipients
from pipeline.inbound.limits import Unparseable
from pipeline.inbound.machine import machine_reason
from pipeline.inbound.parse import parse_mail
from pipeline.model.ids import parse_message_id
from pipeline.model.mail import Envelope

DOMAIN = "acme.test"
OURS = "<qmark.q12.owner_forward.0123456789abcdef@acme.test>"
ACK = "<qmark.q12.executive_ack.fedcba9876543210@acme.test>"
REPLY_ADDRESS = "escalations+q12-x7Kp2aQ@acme.test"

QMARK_HEADERS = f"""Return-Path: <{REPLY_ADDRESS}>
Received: from mx.acme.test (mx.acme.test [192.0.2.10])
\tby mx.example.net (Postfix) with ESMTPS id 4QnM2f7SgDz3Xe
\tfor <pat.owner@example.net>; Mon, 23 Nov 2026 16:40:02 +0000 (UTC)
From: qmark <escalations@acme.test>
To: Pat Owner <Pat.Owner@example.net>
Subject: [Q-12] Charged twice for invoice 4411 (answer by 18:00)
Date: Mon, 23 Nov 2026 16:40:00 +0000
Message-ID: {OURS}
References: <CAB4f00d1@mail.gmail.com>
Reply-To: qmark <{REPLY_ADDRESS}>
X-Qmark-Escalation: Q-12
Auto-Submitted: auto-generated
"""

POSTFIX_DSN = f"""Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {REPLY_ADDRESS}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="8F2C41A0E3.1732380002/mx.example.net"
Message-Id: <20261123164002.8F2C41A0E3@mx.example.net>
Date: Mon, 23 Nov 2026 16:40:02 +0000 (UTC)

This is a MIME-encapsulated message.

--8F2C41A0E3.1732380002/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

                   The mail system

<pat.owner@example.net>: host mx.example.net[192.0.2.20] said: 550 5.1.1
    <pat.owner@example.net>: Recipient address rejected: User unknown in
    virtual mailbox table (in reply to RCPT TO command)

--8F2C41A0E3.1732380002/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 8F2C41A0E3
X-Postfix-Sender: rfc822; {REPLY_ADDRESS}
Arrival-Date: Mon, 23 Nov 2026 16:40:02 +0000 (UTC)

Final-Recipient: rfc822; Pat.Owner@example.net
Original-Recipient: rfc822;pat.owner@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <pat.owner@example.net>: Recipient address
    rejected: User unknown in virtual mailbox table

--8F2C41A0E3.1732380002/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{QMARK_HEADERS}
--8F2C41A0E3.1732380002/mx.example.net--
""".encode()

DELAY_DSN = f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: {REPLY_ADDRESS}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="D1"
Date: Mon, 23 Nov 2026 20:40:02 +0000 (UTC)

--D1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

<pat.owner@example.net>: connect to mx.example.net[192.0.2.20]:25: Connection
    timed out

--D1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Mon, 23 Nov 2026 16:40:02 +0000 (UTC)

Final-Recipient: rfc822; pat.owner@example.net
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.net[192.0.2.20]:25: Connection
    timed out
Will-Retry-Until: Sat, 28 Nov 2026 16:40:02 +0000 (UTC)

--D1
Content-Type: text/rfc822-headers

{QMARK_HEADERS}
--D1--
""".encode()

EXCHANGE_OOO = f"""Received: from AM0PR07MB6210.eurprd07.prod.outlook.com by mx.acme.test
From: Dana Chief <dana.chief@example.com>
To: qmark <{REPLY_ADDRESS}>
Subject: Automatic reply: [Q-12] Charged twice for invoice 4411 (answer by 18:00)
Thread-Topic: [Q-12] Charged twice for invoice 4411 (answer by 18:00)
Date: Mon, 23 Nov 2026 16:40:05 +0000
Message-ID: <AM0PR07MB62106F0A1B2C3D4E5F60718293A4B@AM0PR07MB6210.eurprd07.prod.outlook.com>
In-Reply-To: {OURS}
References: <CAB4f00d1@mail.gmail.com> {OURS}
Auto-Submitted: auto-replied
X-MS-Has-Attach:
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: dana.chief@example.com
Content-Language: en-GB
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0

I am out of the office until Monday 30 November with limited access to
email. For urgent matters please contact Morgan Lee.

Dana Chief
""".encode()

GMAIL_VACATION = f"""Return-Path: <pat.owner@example.com>
From: Pat Owner <pat.owner@example.com>
To: {REPLY_ADDRESS}
Subject: Away until 30 November
Date: Mon, 23 Nov 2026 08:40:05 -0800
Message-ID: <CAKx7Lq1vacation0123@mail.gmail.com>
In-Reply-To: {OURS.upper()}
References: <CAB4f00d1@mail.gmail.com> {OURS.upper()}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000vac"

--000000000000vac
Content-Type: text/plain; charset="UTF-8"

Thanks for your mail. I am hiking until 30 November and read nothing before.

--000000000000vac
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Thanks for your mail. I am hiking until 30 November and read nothing before.</div>

--000000000000vac--
""".encode()

QMAIL_BOUNCE = f"""Return-Path: <>
From: MAILER-DAEMON@mail.example.org
To: {REPLY_ADDRESS}
Subject: failure notice
Date: 23 Nov 2026 16:40:09 -0000

Hi. This is the qmail-send program at mail.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<pat.owner@example.org>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

{QMARK_HEADERS}
Pat, a customer was charged twice ...
""".encode()

EXIM_BOUNCE = f"""Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: {REPLY_ADDRESS}
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: Pat.Owner@example.org, sam@example.org
Auto-Submitted: auto-replied
Date: Mon, 23 Nov 2026 16:40:09 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  pat.owner@example.org
    SMTP error from remote mail server after RCPT TO:<pat.owner@example.org>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

{QMARK_HEADERS}
""".encode()


def envelope(mail_from: str = "") -> Envelope:
    return Envelope(mail_from, (REPLY_ADDRESS,), "127.0.0.1", datetime.now(UTC), "smtp")


def kind_of(raw: bytes, mail_from: str = "") -> str:
    return machine_kind(parse_mail(raw), envelope(mail_from), raw=raw)


def as_from_a_person(raw: bytes) -> bytes:
    """``raw`` as if the report came from a person's address: From replaced, no Return-Path."""
    head, _, body = raw.partition(b"\n\n")
    lines = [line for line in head.split(b"\n") if not line.lower().startswith((b"from:", b"return-path:"))]
    return b"\n".join([b"From: Pat Owner <pat.owner@example.net>", *lines]) + b"\n\n" + body


# -- a Postfix DSN about qmark's forward ----------------------------------------------------------------


def test_a_postfix_delivery_report_is_a_bounce_about_qmarks_forward_to_the_owner():
    mail = parse_mail(POSTFIX_DSN)

    assert machine_reason(mail, envelope()) is not None
    assert machine_kind(mail, envelope(), raw=POSTFIX_DSN) == "bounce"
    assert qmark_message_ids(POSTFIX_DSN, domain=DOMAIN) == (OURS,)
    assert parse_message_id(qmark_message_ids(POSTFIX_DSN, domain=DOMAIN)[0], domain=DOMAIN) == 12
    assert failed_recipients(mail, POSTFIX_DSN) == ("pat.owner@example.net",)
    assert not is_delayed_only(mail, POSTFIX_DSN)


def test_the_delivery_report_is_still_a_bounce_when_it_comes_from_a_persons_address():
    raw = as_from_a_person(POSTFIX_DSN)

    assert machine_reason(parse_mail(raw), envelope("pat.owner@example.net")) is not None
    assert kind_of(raw, "pat.owner@example.net") == "bounce"


def test_without_the_raw_bytes_the_kind_comes_from_the_parsed_mail_alone():
    assert machine_kind(parse_mail(POSTFIX_DSN), envelope()) == "bounce"
    assert machine_kind(parse_mail(DELAY_DSN), envelope()) == "delay"


def test_a_report_whose_recipients_are_all_delayed_is_a_delay_not_a_failure():
    mail = parse_mail(DELAY_DSN)

    assert machine_reason(mail, envelope()) is not None
    assert is_delayed_only(mail, DELAY_DSN)
    assert machine_kind(mail, envelope(), raw=DELAY_DSN) == "delay"
    assert failed_recipients(mail, DELAY_DSN) == ()
    assert qmark_message_ids(DELAY_DSN, domain=DOMAIN) == (OURS,)


def test_one_failed_recipient_among_delayed_ones_makes_a_bounce_naming_only_the_failed_one():
    raw = DELAY_DSN.replace(
        b"Will-Retry-Until: Sat, 28 Nov 2026 16:40:02 +0000 (UTC)\n",
        b"Will-Retry-Until: Sat, 28 Nov 2026 16:40:02 +0000 (UTC)\n\n"
        b"Final-Recipient: rfc822; sam@example.net\nAction: failed\nStatus: 5.2.2\n",
    )
    mail = parse_mail(raw)

    assert not is_delayed_only(mail, raw)
    assert machine_kind(mail, envelope(), raw=raw) == "bounce"
    assert failed_recipients(mail, raw) == ("sam@example.net",)


def test_a_success_report_is_neither_a_bounce_nor_a_delay():
    raw = POSTFIX_DSN.replace(b"Action: failed\nStatus: 5.1.1", b"Action: delivered\nStatus: 2.0.0")

    assert kind_of(raw) == "other"
    assert failed_recipients(parse_mail(raw), raw) == ()


def test_a_returned_original_inside_message_rfc822_is_not_read_for_recipients():
    inner_report = (
        b"--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; other.example\n\n"
        b"Final-Recipient: rfc822; someone-else@example.org\nAction: failed\nStatus: 5.1.1\n\n--R--\n"
    )
    returned = (
        b'From: a@example.org\nSubject: an old bounce\nContent-Type: multipart/report; boundary="R"\n\n'
        + inner_report
    )
    raw = POSTFIX_DSN.replace(b"Content-Type: text/rfc822-headers\n\n", b"Content-Type: message/rfc822\n\n")
    raw = raw.replace(QMARK_HEADERS.encode(), returned)

    assert failed_recipients(parse_mail(raw), raw) == ("pat.owner@example.net",)


# -- classic bounces without a delivery-status part --------------------------------------------------


def test_a_qmail_bounce_is_a_bounce_quoting_qmarks_message_id():
    mail = parse_mail(QMAIL_BOUNCE)

    assert kind_of(QMAIL_BOUNCE) == "bounce"
    assert kind_of(as_from_a_person(QMAIL_BOUNCE), "pat.owner@example.net") == "bounce"
    assert qmark_message_ids(QMAIL_BOUNCE, domain=DOMAIN) == (OURS,)
    assert failed_recipients(mail, QMAIL_BOUNCE) == ()


def test_an_exim_bounce_names_its_failed_recipients_in_x_failed_recipients():
    mail = parse_mail(EXIM_BOUNCE)

    assert kind_of(EXIM_BOUNCE) == "bounce"  # although Exim marks it Auto-Submitted: auto-replied
    assert failed_recipients(mail, EXIM_BOUNCE) == ("pat.owner@example.org", "sam@example.org")


# -- auto-replies ----------------------------------------------------------------------------------


def test_an_exchange_out_of_office_is_an_auto_reply_to_qmarks_mail():
    mail = parse_mail(EXCHANGE_OOO)

    assert machine_reason(mail, envelope("dana.chief@example.com")) is not None
    assert machine_kind(mail, envelope("dana.chief@example.com"), raw=EXCHANGE_OOO) == "auto_reply"
    assert qmark_message_ids(EXCHANGE_OOO, domain=DOMAIN) == (OURS,)
    assert failed_recipients(mail, EXCHANGE_OOO) == ()
    assert not is_delayed_only(mail, EXCHANGE_OOO)


def test_a_gmail_vacation_reply_is_an_auto_reply_and_its_upper_case_reference_is_normalised():
    mail = parse_mail(GMAIL_VACATION)

    assert machine_reason(mail, envelope("pat.owner@example.com")) is not None
    assert machine_kind(mail, envelope("pat.owner@example.com"), raw=GMAIL_VACATION) == "auto_reply"
    assert qmark_message_ids(GMAIL_VACATION, domain=DOMAIN) == (OURS,)


def test_an_out_of_office_subject_alone_makes_an_auto_reply():
    raw = EXCHANGE_OOO.replace(b"Auto-Submitted: auto-replied\n", b"").replace(
        b"X-Auto-Response-Suppress: All\n", b""
    )

    assert kind_of(raw, "dana.chief@example.com") == "auto_reply"


# -- other machine mail ------------------------------------------------------------------------------


def test_feedback_reports_and_list_mail_are_other():
    arf = (
        b"From: staff@hotmail.example\nTo: abuse@acme.test\nSubject: Abuse Report\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        b"--F\nContent-Type: text/plain\n\nThis is an email abuse report for an email message.\n"
        b"--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: x/1.0\nVersion: 1\n"
        b"--F--\n"
    )
    listmail = (
        b"From: announce@lists.example.org\nTo: escalations@acme.test\nSubject: [announce] release 2.0\n"
        b"List-Id: <announce.lists.example.org>\nPrecedence: list\n\nRelease notes ...\n"
    )

    assert kind_of(arf, "staff@hotmail.example") == "other"
    assert kind_of(listmail, "announce-bounces@lists.example.org") == "other"


# -- qmark's Message-IDs -----------------------------------------------------------------------------


def test_only_qmarks_ids_for_its_own_domain_are_found_in_first_seen_order_without_repeats():
    raw = (
        f"References: {ACK} <qmark.q7.ack.0123456789abcdef@evil.test> {OURS}\n"
        f"In-Reply-To: {OURS}\n"
        "X-Other: <qmark.q8.ack.0123456789abcdef@acme.test.evil.example>\n"
        "X-Prefixed: xqmark.q9.ack.0123456789abcdef@acme.test\n"
        "X-Bad: <qmark.q0.ack.0123456789abcdef@acme.test> <qmark.q10.ack.0123@acme.test>\n\nbody\n"
    ).encode()

    assert qmark_message_ids(raw, domain=DOMAIN) == (ACK, OURS)
    assert qmark_message_ids(raw, domain="ACME.TEST") == (ACK, OURS)
    assert qmark_message_ids(raw, domain="other.test") == ()


def test_ids_inside_a_base64_encoded_returned_message_are_found():
    encoded = base64.encodebytes(QMARK_HEADERS.encode()).decode()
    raw = (
        "From: MAILER-DAEMON@example.net\nSubject: Undeliverable\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nDelivery failed.\n'
        f"--B\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{encoded}--B--\n"
    ).encode()

    assert OURS.encode() not in raw
    assert qmark_message_ids(raw, domain=DOMAIN) == (OURS,)


def test_an_id_broken_by_a_quoted_printable_soft_line_break_is_found():
    raw = (
        b"Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: quoted-printable\n\n"
        b"Message-ID: <qmark.q12.owner_forward.01234567=\n89abcdef@acme.test>\n"
    )

    assert qmark_message_ids(raw, domain=DOMAIN) == (OURS,)


def test_only_the_first_megabyte_is_scanned_for_ids():
    early = f"In-Reply-To: {ACK}\n\n".encode()
    raw = early + b"x" * (MAX_SCAN - len(early)) + f"\nReferences: {OURS}\n".encode()

    assert qmark_message_ids(raw, domain=DOMAIN) == (ACK,)


def test_input_too_deeply_nested_to_parse_gives_answers_not_exceptions():
    nested = b"Content-Type: multipart/mixed; boundary=b0\n\n" + b"".join(
        f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n".encode() for i in range(500)
    )
    nested += b"--b500\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@example.net\n"
    nested += f"Action: failed\n\nReferences: {OURS}\n".encode()
    mail = parse_mail(POSTFIX_DSN)

    with pytest.raises(Unparseable):
        parse_mail(nested)
    assert failed_recipients(mail, nested) == ()  # its delivery-status part is out of reach
    assert qmark_message_ids(nested, domain=DOMAIN) == (OURS,)  # a byte scan needs no parsing
    assert machine_kind(mail, envelope(), raw=nested) == "bounce"  # from the parsed mail's own signs


# -- the sisimai corpus --------------------------------------------------------------------------------


def test_the_sisimai_bounces_are_bounces_its_auto_replies_auto_replies_and_its_reports_not_bounces(corpora):
    # sisimai names each file by what it is: lhost-*/rhost-*/rfc3464-* bounces (some of them delay
    # notices), rfc3834-* auto-replies, arf-* feedback reports. lhost-sendmail-14 is a person forwarding a
    # bounce (see test_corpora_machine), not a bounce itself.
    maildir = corpora / "sisimai-set-of-emails" / "maildir"
    kinds: dict[str, Counter[str]] = {"bounce": Counter(), "auto_reply": Counter(), "report": Counter()}
    for path in sorted(p for sub in ("bsd", "dos", "mac") for p in (maildir / sub).glob("*.eml")):
        if path.name == "lhost-sendmail-14.eml":
            continue
        raw = path.read_bytes()
        label = (
            "auto_reply"
            if path.name.startswith("rfc3834")
            else "report"
            if path.name.startswith("arf")
            else "bounce"
        )
        kinds[label][kind_of(raw)] += 1

    bounces = kinds["bounce"]
    total = sum(bounces.values())
    print("sisimai kinds by label:", {label: dict(counter) for label, counter in kinds.items()})
    assert total > 700
    assert bounces["bounce"] + bounces["delay"] >= 0.98 * total
    assert bounces["bounce"] >= 0.9 * total
    assert set(kinds["auto_reply"]) == {"auto_reply"}
    assert kinds["report"]["bounce"] == 0
