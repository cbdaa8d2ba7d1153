"""Frozen value objects passed between the pipeline's stages.

Nothing here does I/O. ``parse`` turns raw bytes into an :class:`InboundMail`;
``classify`` reads it and returns a ``Disposition``; the outbound side renders
:class:`OutgoingMail` objects. Keeping these plain makes every stage testable
on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Address:
    """One mailbox: ``email`` is lower-cased, ``name`` is the display name or ''."""

    email: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Envelope:
    """What the transport told us, as opposed to what the headers claim."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str
    received_at: datetime
    channel: str  # "smtp", "imap" or "inject"


@dataclass(frozen=True)
class Original:
    """The complaint an executive forwarded, however their client wrapped it.

    ``shape`` names the wrapping: ``attached`` (message/rfc822 part), ``gmail``,
    ``outlook``, ``apple``, ``thunderbird``. ``raw`` holds the attached message's
    bytes when the shape is ``attached``; for inline forwards it is None.
    """

    shape: str
    sender: Address | None
    date: str
    subject: str
    body: str
    raw: bytes | None = None


@dataclass(frozen=True)
class InboundMail:
    """A parsed inbound message.

    ``headers`` keeps every header as (lower-cased name, unfolded value) in order,
    so the classifier can read Authentication-Results, Auto-Submitted and friends.
    ``text`` is the top-level body as plain text (HTML converted when there is no
    text/plain part). ``note`` is what the sender wrote above a forward (the whole
    ``text`` when nothing was forwarded); ``forwarded`` is the forwarded original.
    """

    message_id: str
    from_: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: datetime | None
    in_reply_to: str
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    text: str
    note: str
    forwarded: Original | None
    content_type: str = "text/plain"
    defects: tuple[str, ...] = field(default_factory=tuple)

    def header(self, name: str) -> str:
        """The first value of header ``name`` (case-insensitive), or ''."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), "")

    def header_all(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (case-insensitive), in order."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key == wanted)


@dataclass(frozen=True)
class OutgoingMail:
    """One rendered outgoing message, ready for a transport.

    ``raw`` is the complete RFC 5322 message with CRLF line endings; ``message_id``
    is the Message-ID inside it (kept so a resend after a lost 250 is recognisable).
    ``envelope_from`` is the SMTP MAIL FROM: the signed reply address, so that a
    bounce comes back to qmark bound to the escalation and the recipient.
    """

    kind: str
    recipient: str
    message_id: str
    raw: bytes
    envelope_from: str
