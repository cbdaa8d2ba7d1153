"""``qmark quarantine list|show|release``: messages held back, why, and letting one go.

A message is quarantined when qmark will not act on it by itself: a possible
spoof (an executive's address without passing DMARC), mail it cannot parse, a
reply from someone who is not a participant, or a message whose processing
kept failing. Its outcome is ``quarantined`` and its reason says why in words.

``release`` sends a held message back through the whole flow as if it had just
arrived: the operator first fixes what held it (the config, the rules, the
bug), then releases it; if the cause is still there it is simply held again.
Mail bodies never reach the screen here: ``show`` gives the envelope and a
summary of the headers only.

Dramatiq and Redis stay out of ``pipeline/``: the enqueue goes through
``workers.bootstrap``, imported inside the function that needs it.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import suppress
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from typing import Any

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.model.ids import ref
from pipeline.outbound.headers import clean_text
from pipeline.store import messages
from pipeline.store.db import Database
from pipeline.store.models import MessageRow

logger = log.get(__name__)

EX_OK, EX_DATAERR, EX_NOTFOUND = 0, 65, 66

# The headers ``show`` summarises, in this order (never the body).
SHOWN_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID")
AUTH_RESULTS = "Authentication-Results"
_NOT_AN_ID = "{ident!r} is not a message id (a number from `qmark quarantine list`)"
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


def _minute(moment: datetime | None) -> str:
    return moment.isoformat()[:16].replace("T", " ") if moment else "-"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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


def list_command(settings: Settings, *, as_json: bool) -> int:
    """Every held message, oldest first: id, when received, sender, subject and the reason in words."""
    db = Database(settings.storage.database_url)
    try:
        with db.read() as session:
            items = [_item(row) for row in messages.list_quarantined(session, limit=1000)]
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(items, indent=2))
        return EX_OK
    if not items:
        print("no messages in quarantine")
        return EX_OK
    print(f"{'ID':<7} {'RECEIVED (UTC)':<17} {'SENDER':<40} {'SUBJECT':<36} REASON")
    for item in items:
        when = item["when"][:16].replace("T", " ")
        sender, subject = _cut(item["sender"], 40), _cut(item["subject"], 36)
        print(f"{item['id']:<7} {when:<17} {sender:<40} {subject:<36} {item['reason']}")
    return EX_OK


def _message_id(ident: str) -> int | None:
    text = ident.strip().lstrip("#")
    return int(text) if text.isdigit() else None


def _not_held(row: messages.Summary) -> str:
    """Why a message is not in quarantine, in words."""
    if row.state != "done":
        return f"message {row.id} is not quarantined: it is {row.state}, not processed yet"
    escalation = f" ({ref(row.escalation_id)})" if row.escalation_id else ""
    because = f": {row.reason}" if row.reason else ""
    return f"message {row.id} is not quarantined: its outcome is {row.outcome}{escalation}{because}"


def _find(db: Database, message_id: int) -> messages.Summary | None:
    with db.read() as session:
        found = messages.list_by_ids(session, message_ids=[message_id])
    return found[0] if found else None


def show_command(settings: Settings, ident: str, *, as_json: bool) -> int:
    """One held message: envelope, a summary of its headers, the reason, attempts, last error, size.

    Not its body. 65 for an id that is not a number, 66 for no such message or
    one that is not in quarantine (``qmark escalations show`` covers the others).
    """
    message_id = _message_id(ident)
    if message_id is None:
        print(f"qmark: {_NOT_AN_ID.format(ident=ident)}", file=sys.stderr)
        return EX_DATAERR
    db = Database(settings.storage.database_url)
    try:
        summary = _find(db, message_id)
        if summary is None:
            print(f"qmark: no message {message_id}", file=sys.stderr)
            return EX_NOTFOUND
        if summary.state != "done" or summary.outcome != messages.QUARANTINED:
            print(f"qmark: {_not_held(summary)}", file=sys.stderr)
            return EX_NOTFOUND
        with db.read() as session:
            row = messages.get(session, message_id=message_id)
            assert row is not None  # messages are never deleted
            data = _details(row)
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(data, indent=2))
        return EX_OK
    envelope = data["envelope"]
    lines = [
        ("id", str(data["id"])),
        ("reason", data["reason"]),
        ("received", f"{_minute(summary.received_at)} UTC via {summary.channel} from {envelope['peer']}"),
        ("held", f"{_minute(summary.processed_at)} UTC"),
        ("envelope", f"MAIL FROM <{envelope['mail_from']}> RCPT TO {', '.join(envelope['rcpt_tos'])}"),
        ("size", f"{data['size']} bytes"),
        ("attempts", str(data["attempts"])),
        ("last error", data["last_error"] or "-"),
    ]
    if data["escalation"]:
        lines.append(("escalation", data["escalation"]))
    for key, value in lines:
        print(f"{key + ':':<12} {value}")
    print("headers:")
    for name, values in data["headers"].items():
        for value in values:
            print(f"  {name + ':':<24} {value}")
    return EX_OK


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


def release_command(settings: Settings, ident: str) -> int:
    """Send a held message through the flow again; 65 with the reason if it is not quarantined.

    The process job is enqueued at once; if Redis is unavailable the message is
    still released (pending), and the scheduler's sweeper enqueues it later.
    """
    from workers.bootstrap import build

    message_id = _message_id(ident)
    if message_id is None:
        print(f"qmark: {_NOT_AN_ID.format(ident=ident)}", file=sys.stderr)
        return EX_DATAERR
    app = build(settings=settings)  # a bad config or rules stop us before anything changes
    db = app.services.db
    before = _find(db, message_id)
    if before is None:
        print(f"qmark: no message {message_id}", file=sys.stderr)
        return EX_NOTFOUND
    with db.transaction() as conn:
        released = messages.release_quarantined(conn, message_id=message_id, now=app.services.clock())
    if not released:
        now = _find(db, message_id) or before
        print(f"qmark: {_not_held(now)}", file=sys.stderr)
        return EX_DATAERR
    logger.info("quarantine_released", message_id=message_id, was=before.reason)
    print(f"message {message_id} released from quarantine (it was held: {before.reason})")
    try:
        app.graph.enqueue_process([message_id])
    except Exception as error:
        logger.warning("enqueue_failed_sweeper_will_retry", message_id=message_id, error=str(error))
        wait = round(settings.scheduler.sweep_after)
        print(
            f"Redis is unavailable ({error}); the message is pending and the scheduler's "
            f"sweeper will queue it (after about {wait}s)"
        )
    else:
        print("queued for processing; `qmark quarantine list` shows it again if it is held again")
    return EX_OK
