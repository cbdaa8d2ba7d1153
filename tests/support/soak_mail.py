"""The mail a soak's people send: executive forwards, owner replies and writeups, bounces, auto-replies.

Every builder returns ``(message_id, raw, mail_from, rcpts)`` ready for
:meth:`tests.support.mta.Mta.submit`. Owner mail answers one of qmark's mails as the
relay sink received it: a reply goes to its Reply-To, a bounce (a DSN from ``<>``) to its
envelope sender, an out-of-office (``Auto-Submitted: auto-replied``, from ``<>``) to its
Reply-To, as the mail systems that send them do.
"""

from __future__ import annotations

import re
from email.utils import make_msgid

from tests.support.replies import WRITEUP, parsed, reply_address, reply_to
from tests.support.sink import Received
from tests.support.traffic import MAIL, SUBJECT

EXECUTIVE, OWNER = "dana.chief@acme.test", "pat.owner@acme.test"
INTAKE = "escalations@acme.test"
EXPLANATION = (
    "The gateway retried a capture after a timeout and charged the card twice. The second "
    "charge is refunded and captures now carry an idempotency key."
)
Outgoing = tuple[str, bytes, str, list[str]]

_TEMPLATE = (MAIL / "gmail-forward.eml").read_text()

_OUT_OF_OFFICE = """\
From: Pat Owner <pat.owner@acme.test>
To: {to}
Subject: Automatic reply: {subject}
Date: Sun, 06 Dec 2026 09:00:00 +0000
Auto-Submitted: auto-replied
Authentication-Results: mx.acme.test; dmarc=pass header.from=acme.test
Message-ID: {mid}
In-Reply-To: {original}
Content-Type: text/plain; charset=utf-8

Thank you for your message. I am away until Monday and will read it then.
"""

_BOUNCE = """\
From: Mail Delivery System <MAILER-DAEMON@mx.acme.test>
To: {to}
Subject: Delivery Status Notification (Failure)
Date: Sun, 06 Dec 2026 09:00:00 +0000
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="soak-dsn"
Message-ID: {mid}

--soak-dsn
Content-Type: text/plain

Your message to {rcpt} could not be delivered: the mailbox is full.

--soak-dsn
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.test

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 mailbox full

--soak-dsn
Content-Type: text/rfc822-headers

Message-ID: {original}
Subject: {subject}

--soak-dsn--
"""


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def forward_id(run: str, seq: int) -> str:
    """The Message-ID of the executive's forward number ``seq`` of ``run``."""
    return f"<soak.{run}.{seq}@mail.gmail.com>"


def executive_forward(run: str, seq: int) -> Outgoing:
    """The executive's "?" forward number ``seq``: its own Message-ID and subject."""
    message_id = forward_id(run, seq)
    text = re.sub(r"(?m)^Message-ID: <[^>]*>", f"Message-ID: {message_id}", _TEMPLATE, count=1)
    return message_id, crlf(text.replace(SUBJECT, f"{SUBJECT} ({run}-{seq})")), EXECUTIVE, [INTAKE]


def owner_reply(forward: Received, text: str) -> Outgoing:
    """The owner answering qmark's forward (or any mail of the thread) with ``text``."""
    raw = reply_to(forward.data, sender=OWNER, text=text)
    return str(parsed(raw)["Message-ID"]), raw, OWNER, [reply_address(forward.data)]


def explanation(forward: Received) -> Outgoing:
    return owner_reply(forward, EXPLANATION)


def writeup(forward: Received) -> Outgoing:
    return owner_reply(forward, WRITEUP)


def out_of_office(forward: Received) -> Outgoing:
    """The owner's mailbox answering qmark's forward by itself, from the null sender."""
    original = parsed(forward.data)
    mid = make_msgid(domain="acme.test")
    to = reply_address(forward.data)
    text = _OUT_OF_OFFICE.format(to=to, subject=original["Subject"], mid=mid, original=original["Message-ID"])
    return mid, crlf(text), "", [to]


def bounce(forward: Received) -> Outgoing:
    """A DSN saying qmark's mail to the owner failed, sent to its envelope sender from ``<>``."""
    original = parsed(forward.data)
    mid = make_msgid(domain="mx.acme.test")
    text = _BOUNCE.format(
        to=forward.mail_from,
        mid=mid,
        rcpt=forward.rcpt_tos[0],
        original=original["Message-ID"],
        subject=original["Subject"],
    )
    return mid, crlf(text), "", [forward.mail_from]
