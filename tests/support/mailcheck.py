"""Read a rendered OutgoingMail back the way a mail client would, for the renderer tests."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from pipeline.model.ids import parse_message_id
from pipeline.model.mail import OutgoingMail
from pipeline.model.tokens import check_token, token_from_address


def parse(mail: OutgoingMail) -> EmailMessage:
    """The mail parsed with the modern email policy."""
    return BytesParser(policy=policy.default).parsebytes(mail.raw)


def body_text(mail: OutgoingMail) -> str:
    """The text/plain body, with \\n line ends."""
    part = parse(mail).get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def header_names(mail: OutgoingMail) -> set[str]:
    """The lower-cased names of the top-level header fields."""
    return {name.lower() for name in parse(mail)}


# The DESIGN §4.4 contract every mail about escalation Q-12 (domain acme.test) keeps -----------------


def assert_contract_headers(mail: OutgoingMail, recipient: str) -> None:
    """Addressed to ``recipient`` alone, tagged [Q-12], marked automatic, from qmark."""
    msg = parse(mail)
    assert [a.addr_spec for a in msg["To"].addresses] == [recipient]
    assert mail.recipient == recipient
    assert msg["Subject"].startswith("[Q-12] ")
    assert msg["X-Qmark-Escalation"] == "Q-12"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["From"].addresses[0].addr_spec == "escalations@acme.test"


def assert_own_message_id(mail: OutgoingMail) -> None:
    """A Message-ID qmark recognises as one of Q-12's, naming the mail's kind."""
    assert parse(mail)["Message-ID"] == mail.message_id
    assert re.fullmatch(rf"<qmark\.q12\.{mail.kind}\.[0-9a-f]{{16}}@acme\.test>", mail.message_id)
    assert parse_message_id(mail.message_id, domain="acme.test") == 12


def assert_reply_to_signed_for(
    mail: OutgoingMail, secret: bytes, recipient: str, others: Iterable[str]
) -> None:
    """The Reply-To (also the envelope sender) is Q-12's token issued to ``recipient`` and nobody else."""
    reply_to = parse(mail)["Reply-To"].addresses[0].addr_spec
    token = token_from_address(reply_to, local="escalations", domain="acme.test")
    assert token is not None
    mine = check_token(secret, token, recipient)
    assert (mine.number, mine.genuine, mine.recipient_ok) == (12, True, True)
    theirs = [check_token(secret, token, other) for other in others]
    assert theirs and all((c.genuine, c.recipient_ok) == (True, False) for c in theirs)
    assert mail.envelope_from == reply_to
