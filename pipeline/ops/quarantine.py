"""``qmark quarantine list|show|release``'s read model and action: messages held back, why, letting one go.

A message is quarantined when qmark will not act on it by itself: a possible
spoof (an executive's address without passing DMARC), mail it cannot parse, a
reply from someone who is not a participant, or a message whose processing
kept failing. Its outcome is ``quarantined`` and its reason says why in words.

:func:`release` sends a held message back through the whole flow as if it had
just arrived: the operator first fixes what held it (the config, the rules, the
bug), then releases it; if the cause is still there it is simply held again.
Mail bodies never leave here: :func:`details` gives the envelope and a summary
of the headers only. Printing is ``workers/cli/quarantine.py``'s; enqueueing the
released message is the caller's (nothing here knows Redis).
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from typing import Any

from pipeline import log
from pipeline.model.ids import ref
from pipeline.outbound.headers import clean_text
from pipeline.store import messages
from pipeline.store.db import Database
from pipeline.store.models import MessageRow

logger = log.get(__name__)

# The headers ``show`` summarises, in this order (never the body).
SHOWN_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID")
AUTH_RESULTS = "Authentication-Results"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_PARSER = BytesHeaderParser(policy=policy.compat32)  # compat32 never raises on broken headers


def header_block(raw: bytes) -> bytes:
    """The bytes of ``raw`` up to the blank line that ends its header (all of it if there is none)."""
    end = _HEADER_END.search(raw)
    return raw[: end.start()] if end else raw


def _decoded(value: str) -> str:
    """One header value unfolded, RFC 2047 decoded, and safe for a terminal (no control characters)."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    with suppress(HeaderParseError, LookupError, UnicodeError, ValueError):  # else keep it undecoded
        text = str(make_header(decode_header(text)))
    return clean_text(text, max_len=998)


def read_headers(raw: bytes, names: tuple[str, ...] = (*SHOWN_HEADERS, AUTH_RESULTS)) -> dict[str, list[str]]:
    """The values of ``names`` found in the header of ``raw`` (every occurrence), decoded for display.

    Only the header block is parsed, so this is cheap even for a large message.
    """
    parsed = _PARSER.parsebytes(header_block(raw))
    found: dict[str, list[str]] = {}
    for name in names:
        values = [_decoded(str(v)) for v in parsed.get_all(name) or []]
        if values:
            found[name] = values
    return found


def sender_and_subject(raw: bytes, mail_from: str = "") -> tuple[str, str]:
    """The From header (else the envelope sender) and the Subject of a stored message, for lists."""
    headers = read_headers(raw, ("From", "Subject"))
    sender = headers.get("From", [""])[0] or clean_text(mail_from) or "<>"
    return sender, headers.get("Subject", [""])[0]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class NotQuarantined(Exception):
    """The message is not in quarantine, or (``missing``) there is no such message; the text says which."""

    def __init__(self, why: str, *, missing: bool = False) -> None:
        super().__init__(why)
        self.missing = missing


def _item(row: messages.Summary) -> dict[str, Any]:
    """The keys every ops list shares (id, when, sender, subject, reason), then the message's own."""
    sender, subject = sender_and_subject(row.head, row.mail_from)
    return {
        "id": row.id,
        "when": row.received_at.isoformat(),
        "sender": sender,
        "subject": subject,
        "reason": row.reason or "",
        "mail_from": row.mail_from,
        "rcpt_tos": list(row.rcpt_tos),
        "channel": row.channel,
        "size": row.size,
        "attempts": row.attempts,
        "held_at": _iso(row.processed_at),
        "escalation": ref(row.escalation_id) if row.escalation_id else None,
    }


def list_held(db: Database) -> list[dict[str, Any]]:
    """Every held message, oldest first: id, when received, sender, subject and the reason in words."""
    with db.read() as session:
        return [_item(row) for row in messages.list_quarantined(session, limit=1000)]


def _not_held(row: messages.Summary) -> str:
    """Why a message is not in quarantine, in words."""
    if row.state != "done":
        return f"message {row.id} is not quarantined: it is {row.state}, not processed yet"
    escalation = f" ({ref(row.escalation_id)})" if row.escalation_id else ""
    because = f": {row.reason}" if row.reason else ""
    return f"message {row.id} is not quarantined: its outcome is {row.outcome}{escalation}{because}"


def _find(db: Database, message_id: int) -> messages.Summary:
    """Message ``message_id``'s summary; :class:`NotQuarantined` (missing) when there is none."""
    with db.read() as session:
        found = messages.list_by_ids(session, message_ids=[message_id])
    if not found:
        raise NotQuarantined(f"no message {message_id}", missing=True)
    return found[0]


def details(db: Database, *, message_id: int) -> dict[str, Any]:
    """One held message: envelope, a summary of its headers, the reason, attempts, last error, size.

    Not its body. Raises :class:`NotQuarantined` for no such message or one that is not held.
    """
    summary = _find(db, message_id)
    if summary.state != "done" or summary.outcome != messages.QUARANTINED:
        raise NotQuarantined(_not_held(summary))
    with db.read() as session:
        row = messages.get(session, message_id=message_id)
        assert row is not None  # messages are never deleted
        return _details(row)


def _details(row: MessageRow) -> dict[str, Any]:
    headers = read_headers(row.raw)
    return {
        "id": row.id,
        "when": row.received_at.isoformat(),
        "sender": headers.get("From", [""])[0] or row.mail_from or "<>",
        "subject": headers.get("Subject", [""])[0],
        "reason": row.reason or "",
        "state": row.state,
        "outcome": row.outcome,
        "received_at": row.received_at.isoformat(),
        "held_at": _iso(row.processed_at),
        "channel": row.channel,
        "envelope": {"mail_from": row.mail_from, "rcpt_tos": list(row.rcpt_tos), "peer": row.peer},
        "headers": headers,
        "size": row.size,
        "sha256": row.sha256,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "escalation": ref(row.escalation_id) if row.escalation_id else None,
    }


def release(db: Database, *, message_id: int, now: datetime) -> str | None:
    """Set a held message pending again, with fresh attempts; returns the reason it was held.

    Raises :class:`NotQuarantined` for no such message or one that is not held (then
    nothing changes). The caller enqueues its process job.
    """
    before = _find(db, message_id)
    with db.transaction() as conn:
        released = messages.release_quarantined(conn, message_id=message_id, now=now)
    if not released:
        try:
            now_found = _find(db, message_id)
        except NotQuarantined:
            now_found = before
        raise NotQuarantined(_not_held(now_found))
    logger.info("quarantine_released", message_id=message_id, was=before.reason)
    return before.reason
