"""Read a rendered OutgoingMail back the way a mail client would, for the renderer tests."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from pipeline.mail import OutgoingMail


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
