"""Build the mail a person would send back to qmark: a reply to one of its mails, quoting it."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

AUTH = (
    "mx.acme.test; dkim=pass header.d=acme.test; spf=pass smtp.mailfrom=acme.test;"
    " dmarc=pass header.from=acme.test"
)


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body_of(raw: bytes) -> str:
    """The text/plain body of one of qmark's mails."""
    message = parsed(raw)
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def reply_to(
    original: bytes,
    *,
    sender: str,
    text: str,
    name: str = "",
    quote: bool = True,
    authenticated: bool = True,
    headers: dict[str, str] | None = None,
    to: str | None = None,
) -> bytes:
    """A Gmail-style reply from ``sender`` to qmark's mail ``original``, sent to its Reply-To."""
    mail = parsed(original)
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = to or parseaddr(str(mail["Reply-To"]))[1]
    message["Subject"] = f"Re: {mail['Subject']}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "example.test")
    message["In-Reply-To"] = str(mail["Message-ID"])
    message["References"] = str(mail["Message-ID"])
    if authenticated:
        message["Authentication-Results"] = AUTH
    for key, value in (headers or {}).items():
        message[key] = value
    body = text.rstrip("\n") + "\n"
    if quote:
        quoted = "\n".join(f"> {line}" if line else ">" for line in body_of(original).splitlines())
        body += f"\nOn Mon, 23 Nov 2026 at 17:05, qmark <escalations@acme.test> wrote:\n{quoted}\n"
    message.set_content(body)
    return message.as_bytes(policy=email.policy.SMTP)


def reply_address(original: bytes) -> str:
    return parseaddr(str(parsed(original)["Reply-To"]))[1]


WRITEUP = """\
What happened:
The payment gateway retried a capture after a timeout and our service charged the card twice.

Impact:
Forty customers were charged twice on 23 November, about 4,000 euros in total.

Root cause (five whys):
Why charged twice? The capture was retried. Why retried? The gateway timed out. Why no
dedupe? Captures carried no idempotency key. Why none? The client library predates them.
Why not caught? No test covered a timeout during capture.

Detection:
No test simulated a gateway timeout, and no alert watched for duplicate captures.

Corrective actions:
- Refund every second charge and write to each affected customer, owner: me, due: in 2 days
- Send an idempotency key with every capture call, owner: me, due: in 2 weeks

Preventive actions:
- A contract test that simulates gateway timeouts during capture, owner: me, due: in 3 weeks
"""

THIN_IMPACT = WRITEUP.replace(
    "Forty customers were charged twice on 23 November, about 4,000 euros in total.", "Some customers."
)
