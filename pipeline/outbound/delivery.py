"""What every transport shares: the delivery error, the transport protocol, the envelope check.

A failure to hand a mail over surfaces as :class:`DeliveryError`; ``permanent`` says whether
retrying can help. :func:`check_envelope` refuses envelope addresses that could break an SMTP
command or a header line, whatever the transport.
"""

from __future__ import annotations

import re
from typing import Protocol

from pipeline.model.mail import OutgoingMail

LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_ENVELOPE_ADDRESS = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,254}")


class DeliveryError(Exception):
    """The mail was not handed over. ``permanent`` means do not retry; ``code`` is the SMTP reply, if any."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class Transport(Protocol):
    """Something that delivers outgoing mail."""

    def send(self, mail: OutgoingMail) -> None: ...

    def close(self) -> None: ...


def check_envelope(mail: OutgoingMail) -> None:
    """Refuse envelope addresses that could break an SMTP command or a header line."""
    for role, address in (("recipient", mail.recipient), ("envelope sender", mail.envelope_from)):
        if not _ENVELOPE_ADDRESS.fullmatch(address):
            raise DeliveryError(f"unsafe {role} {address[:80]!r}", permanent=True)
