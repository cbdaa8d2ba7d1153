"""``qmark inject FILE|-``: store one raw message like an MTA pipe, and ring the process queue.

Exit 0 stored, 75 temporary failure (the MTA retries), 65 unusable input. Once stored the
message is safe: if Redis does not take the process job, the scheduler's sweeper enqueues it.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.inbound.envelopes import from_headers
from pipeline.model.mail import Envelope
from pipeline.store.db import open_database
from workers.cli.db import ready
from workers.cli.output import EX_DATAERR, EX_OK, EX_TEMPFAIL, fail

logger = log.get(__name__)


def envelope_for(raw: bytes, mail_from: str | None, rcpts: list[str] | None, settings: Settings) -> Envelope:
    """The envelope of an injected message: as given, else from its headers and the first intake address."""
    default = settings.service.intake_addresses[:1]
    return from_headers(
        raw, channel="inject", peer="inject", default_rcpts=default, mail_from=mail_from, rcpts=rcpts
    )


def _unusable(raw: bytes, settings: Settings) -> str | None:
    """Why ``raw`` cannot be stored, in words; None when it can."""
    if not raw.strip() or b":" not in raw.split(b"\n", 1)[0]:
        return "input is not an RFC 5322 message (no header on the first line)"
    if len(raw) > settings.smtp.max_message_size:
        return f"message of {len(raw)} bytes is over smtp.max_message_size"
    return None


def inject(settings: Settings, file: str, *, mail_from: str | None, rcpts: list[str] | None) -> int:
    """Store one message like an MTA pipe: 0 stored, 75 try again, 65 unusable input."""
    from workers.bootstrap import build
    from workers.graph import ring
    from workers.roles.group_commit import store_one

    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as error:
        return fail(EX_DATAERR, f"cannot read {file}: {error.strerror}", command="qmark inject")
    problem = _unusable(raw, settings)
    if problem:
        return fail(EX_DATAERR, problem, command="qmark inject")
    envelope = envelope_for(raw, mail_from, rcpts, settings)
    try:
        app = build(settings=settings)
        message_id = store_one(open_database(settings.storage), raw, envelope)
    except Exception as error:
        return fail(EX_TEMPFAIL, f"temporary failure, message not stored: {error}", command="qmark inject")
    ring(functools.partial(app.graph.enqueue_process, [message_id]), what="process", ids=[message_id])
    print(f"stored as message {message_id}")
    return EX_OK


def run_inject(args: argparse.Namespace) -> int:
    """``qmark inject FILE|- [--mail-from ADDR] [--rcpt ADDR]...``."""
    return inject(ready(args), args.file, mail_from=args.mail_from, rcpts=args.rcpt)
