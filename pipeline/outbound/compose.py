"""Compose one mail about one escalation: the DESIGN §4.4 headers and the MIME structure, as bytes.

:func:`compose` is the only way qmark builds an outgoing mail. Whatever the
kind, the result carries the §4.4 markers: the caller's subject, which must
start with ``[Q-<n>]``; ``X-Qmark-Escalation: Q-<n>``; ``Auto-Submitted`` and
``X-Auto-Response-Suppress``; a Message-ID :func:`parse_message_id`
recognises; and a ``Reply-To`` signed for this escalation and this recipient,
which is also the envelope sender. Threading headers hold only well-formed
message ids. The finished bytes pass :func:`~pipeline.outbound.headers.check_generated`
before they are returned, so a header can never be added or split.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from pipeline.model.ids import make_message_id, well_formed_message_id
from pipeline.model.mail import Address, OutgoingMail
from pipeline.model.tokens import reply_address
from pipeline.outbound.headers import MAX_LINE_OCTETS, HeaderBlock, check_generated, clean_address, clean_text

MAX_REFERENCES = 10  # ids kept in References: the thread's first and its latest
_KIND = re.compile(r"[a-z_]{1,40}")
_LOCAL_PART = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,30}[a-z0-9])?")
_DOMAIN = re.compile(r"(?=.{1,200}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
_TEXT_PLAIN = 'text/plain; charset="utf-8"'
_ATTACHMENT = 'attachment; filename="complaint.eml"'


@dataclass(frozen=True)
class Identity:
    """Who qmark is on the wire: the From address, the intake local part, the domain and the token keys.

    ``secret`` signs new reply addresses; ``older_secrets`` (being rotated out) only verify.
    """

    from_address: Address
    reply_local: str
    domain: str
    secret: bytes
    older_secrets: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        clean_address(self.from_address)
        if not _LOCAL_PART.fullmatch(self.reply_local):
            raise ValueError(
                f"reply_local {self.reply_local!r}: use lower-case letters, digits, '.', '_', '-'"
            )
        if not _DOMAIN.fullmatch(self.domain):
            raise ValueError(f"domain {self.domain!r} is not a lower-case host name")
        if not self.secret or not all(self.older_secrets):
            raise ValueError("the token secret must not be empty")

    @property
    def verifying_secrets(self) -> tuple[bytes, ...]:
        """Every key a reply address may be signed with, the signing one first."""
        return (self.secret, *self.older_secrets)


def compose(
    identity: Identity,
    *,
    number: int,
    ref: str,
    kind: str,
    recipient: Address,
    subject: str,
    body: str,
    attachment: bytes | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> OutgoingMail:
    """The finished mail ``kind`` about escalation ``ref`` to ``recipient``, ``attachment`` as complaint.eml.

    ``In-Reply-To`` is written when ``in_reply_to`` is a well-formed message id;
    ``References`` is ``references`` then ``in_reply_to``, well-formed ids only,
    each once, trimmed to the first and the latest :data:`MAX_REFERENCES`.
    ValueError when ``ref`` does not name ``number``, the subject does not start
    with ``[<ref>]``, ``kind`` cannot go in a Message-ID or an address is unsafe.
    """
    if ref != f"Q-{number}":
        raise ValueError(f"ref {ref!r} does not name escalation number {number}")
    if not clean_text(subject).startswith(f"[{ref}]"):
        raise ValueError(f"the subject must start with [{ref}]")
    if not _KIND.fullmatch(kind):
        raise ValueError(f"kind {kind!r}: use lower-case letters and '_'")
    recipient = clean_address(recipient)
    sender = clean_address(identity.from_address)
    signed = reply_address(
        identity.secret, number, recipient.email, local=identity.reply_local, domain=identity.domain
    )
    message_id = make_message_id(number, kind, domain=identity.domain)
    parent = well_formed_message_id(in_reply_to or "")
    thread = _thread([*references, parent] if parent else references)
    head = HeaderBlock()
    head.address("From", sender)
    head.address("To", recipient)
    head.text("Subject", subject)
    head.token("Date", format_datetime(datetime.now(UTC)))
    head.token("Message-ID", message_id)
    head.address("Reply-To", Address(email=signed, name=sender.name))
    if parent:
        head.token("In-Reply-To", parent)
    if thread:
        head.token("References", " ".join(thread))
    head.text("X-Qmark-Escalation", ref)
    head.token("Auto-Submitted", "auto-generated")
    head.token("X-Auto-Response-Suppress", "All")
    head.token("MIME-Version", "1.0")
    raw = text_message(head, body) if attachment is None else _multipart(head, body, attachment)
    check_generated(raw, head.names)
    return OutgoingMail(
        kind=kind, recipient=recipient.email, message_id=message_id, raw=raw, envelope_from=signed
    )


def text_message(head: HeaderBlock, body: str) -> bytes:
    """``head`` with the content headers of a UTF-8 text/plain ``body`` added, then the body."""
    fields, text = _text_part(body)
    _content_headers(head, fields)
    return head.as_bytes() + b"\r\n" + text


def _thread(ids: Iterable[str]) -> list[str]:
    """The well-formed ids among ``ids``, each once in first-seen order, at most MAX_REFERENCES."""
    kept: list[str] = []
    for value in ids:
        mid = well_formed_message_id(value)
        if mid and mid not in kept:
            kept.append(mid)
    if len(kept) > MAX_REFERENCES:
        kept = [kept[0], *kept[len(kept) - MAX_REFERENCES + 1 :]]
    return kept


# --- MIME by hand ----------------------------------------------------------------------------------


def _multipart(head: HeaderBlock, body: str, attachment: bytes) -> bytes:
    """``head`` as multipart/mixed: the text ``body``, then ``attachment`` as the original complaint."""
    text_headers, text = _text_part(body)
    part_headers, data = _attachment_part(attachment)
    boundary = _boundary(text, data)
    head.token("Content-Type", f'multipart/mixed; boundary="{boundary}"')
    delimiter = b"--" + boundary.encode("ascii")
    return b"".join(
        (
            head.as_bytes(),
            b"\r\n",
            delimiter,
            b"\r\n",
            _part_head(text_headers),
            text,
            b"\r\n",
            delimiter,
            b"\r\n",
            _part_head(part_headers),
            data,
            b"\r\n",
            delimiter,
            b"--\r\n",
        )
    )


def _text_part(text: str) -> tuple[list[tuple[str, str]], bytes]:
    """Content headers and CRLF body for UTF-8 ``text``: 7bit when it can be, else quoted-printable."""
    lines = text.encode("utf-8").splitlines()
    data = b"\r\n".join(lines) + b"\r\n"
    if data.isascii() and all(len(line) <= MAX_LINE_OCTETS for line in lines):
        cte = "7bit"
    else:
        cte = "quoted-printable"
        data = binascii.b2a_qp(data, istext=True)
    return [("Content-Type", _TEXT_PLAIN), ("Content-Transfer-Encoding", cte)], data


def _attachment_part(raw: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """``raw`` as a message/rfc822 part written verbatim (CRLF line endings), or as complaint.eml.

    Originals that are not valid RFC 5322 (a line over 998 octets, NUL) go as a
    base64 application/octet-stream ``complaint.eml`` instead.
    """
    lines = raw.splitlines()
    if b"\x00" in raw or any(len(line) > MAX_LINE_OCTETS for line in lines):
        encoded = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Disposition", _ATTACHMENT),
            ("Content-Transfer-Encoding", "base64"),
        ]
        return headers, encoded
    data = b"\r\n".join(lines) + b"\r\n"
    headers = [
        ("Content-Type", "message/rfc822"),
        ("Content-Disposition", _ATTACHMENT),
        ("Content-Transfer-Encoding", "7bit" if data.isascii() else "8bit"),
    ]
    return headers, data


def _boundary(*contents: bytes) -> str:
    """A random multipart boundary that occurs in none of ``contents``."""
    while True:
        boundary = f"qmark-{secrets.token_hex(16)}"
        delimiter = f"--{boundary}".encode("ascii")
        if not any(delimiter in content for content in contents):
            return boundary


def _content_headers(head: HeaderBlock, fields: Iterable[tuple[str, str]]) -> None:
    for name, value in fields:
        head.token(name, value)


def _part_head(fields: Iterable[tuple[str, str]]) -> bytes:
    part = HeaderBlock()
    _content_headers(part, fields)
    return part.as_bytes() + b"\r\n"
