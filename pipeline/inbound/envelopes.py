"""An envelope for mail that arrived without one (IMAP, `qmark inject`), read from its headers.

MAIL FROM is the Return-Path the delivering MTA wrote (``<>`` for bounces and
auto-replies stays empty), else the From address. The recipients are
Delivered-To / X-Original-To when present, else the given defaults (the intake address).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr

from pipeline.model.mail import Envelope

_HEAD_BYTES = 262_144


def from_headers(
    raw: bytes,
    *,
    channel: str,
    peer: str,
    default_rcpts: Sequence[str],
    mail_from: str | None = None,
    rcpts: Sequence[str] | None = None,
    received_at: datetime | None = None,
) -> Envelope:
    """The envelope ``raw`` implies; ``mail_from`` and ``rcpts`` override what the headers say."""
    head = raw[:_HEAD_BYTES].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    headers = BytesHeaderParser(policy=compat32).parsebytes(head)
    if mail_from is None:
        mail_from = _sender(headers)
    if not rcpts:
        rcpts = _delivered_to(headers)
    return Envelope(
        mail_from=mail_from,
        rcpt_tos=tuple(rcpts or default_rcpts),
        peer=peer,
        received_at=received_at or datetime.now(UTC),
        channel=channel,
    )


def _sender(headers: Message) -> str:
    """The Return-Path address ("" for ``<>``), else the From address."""
    return_path = headers.get("Return-Path")
    if return_path is not None and str(return_path).strip() in {"<>", ""}:
        return ""
    return parseaddr(str(return_path or headers.get("From") or ""))[1]


def _delivered_to(headers: Message) -> list[str]:
    """The addresses in Delivered-To, then X-Original-To."""
    delivered = headers.get_all("Delivered-To", []) + headers.get_all("X-Original-To", [])
    return [address for _, address in getaddresses([str(v) for v in delivered]) if address]
