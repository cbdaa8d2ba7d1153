"""What a dead letter is, and what the database says about it: its error in words, what it belongs to.

A dead letter is a job Dramatiq gave up on (``kind="job"``, read from Redis by
``workers/ops/dead_jobs.py``) or an outbound mail the relay refused for good
(``kind="mail"``, id ``mail-<id>``, known only to the database). Either way the
database tells the rest: the rows' last error (Dramatiq keeps only the
traceback of the failure *before* the last), the messages and escalations it
belongs to, their sender and subject, and which rows still wait for work.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.model.ids import ref
from pipeline.ops.quarantine import read_headers, sender_and_subject
from pipeline.store import escalations, messages, outbox

MAIL_PREFIX = "mail-"


class ReplayRefused(Exception):
    """This dead letter cannot be replayed; the message says why."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead job or dead mail, with what it belongs to and why it died.

    ``ids`` are the job's arguments (message ids, mail ids or escalation numbers).
    ``dead_at`` is when it was dead-lettered (a dead mail: when the refusal was
    recorded); ``enqueued_at`` when the job was first enqueued (a mail: queued);
    ``last_retry_at`` when the failure before the last happened (only if it was
    retried); ``expires_at`` the earliest time Dramatiq may delete it.
    ``reason`` is the error in words: the database's last error for the job's
    rows, else the traceback's last line Dramatiq kept. ``unfinished`` are the
    ids whose rows still wait for work; when it is empty a replay does nothing.
    """

    id: str
    kind: str  # "job" or "mail"
    queue: str
    actor: str
    ids: tuple[int, ...]
    dead_at: datetime | None
    enqueued_at: datetime | None
    reason: str
    last_retry_at: datetime | None = None
    expires_at: datetime | None = None
    retries: int = 0
    job_error: str | None = None
    message_ids: tuple[int, ...] = ()
    escalation_ids: tuple[int, ...] = ()
    sender: str = ""
    subject: str = ""
    belongs_to: str = ""
    unfinished: tuple[int, ...] = ()
    redis_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The keys every ops list shares (id, when, sender, subject, reason), then its own."""
        return {
            "id": self.id,
            "when": _iso(self.dead_at),
            "sender": self.sender,
            "subject": self.subject,
            "reason": self.reason,
            "kind": self.kind,
            "queue": self.queue,
            "actor": self.actor,
            "ids": list(self.ids),
            "belongs_to": self.belongs_to,
            "message_ids": list(self.message_ids),
            "escalations": [ref(n) for n in self.escalation_ids],
            "unfinished": list(self.unfinished),
            "enqueued_at": _iso(self.enqueued_at),
            "last_retry_at": _iso(self.last_retry_at),
            "dead_at": _iso(self.dead_at),
            "expires_at": _iso(self.expires_at),
            "retries": self.retries,
            "job_error": self.job_error,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# The driver's class SQLAlchemy puts before the text: "(sqlite3.OperationalError) ",
# "(psycopg.errors.UndefinedTable) ".
_DBAPI_CLASS = re.compile(r"\((?:\w+\.)+\w+\) ")


def first_line(error: str | None) -> str:
    """An error in words: its first non-empty line (SQLAlchemy puts the SQL and a URL after it)."""
    for line in (error or "").splitlines():
        if line.strip():
            return _DBAPI_CLASS.sub("", line.strip(), count=1)
    return ""


def numbered(word: str, ids: Sequence[int]) -> str:
    """``word`` and the ids, plural when there are not exactly one: "messages 3, 4"."""
    return f"{word}{'s' if len(ids) != 1 else ''} {', '.join(str(i) for i in ids)}"


def _join(parts: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(p for p in parts if p))


def _subject(mail: outbox.MailSummary) -> str:
    return read_headers(mail.head, ("Subject",)).get("Subject", [""])[0]


def with_rows(letter: DeadLetter, session: Any) -> DeadLetter:
    """Add what the job's rows say: their errors, what they belong to, sender and subject."""
    if letter.actor == "process_messages":
        return _process_job(letter, messages.list_by_ids(session, message_ids=letter.ids))
    if letter.actor == "send_mails":
        return _send_job(letter, outbox.summaries_by_ids(session, mail_ids=letter.ids))
    if letter.actor == "chase_escalations":
        return _chase_job(letter, session)
    return letter


def _process_job(letter: DeadLetter, rows: list[messages.Summary]) -> DeadLetter:
    unfinished = tuple(r.id for r in rows if r.state != "done")
    numbers = tuple(sorted({r.escalation_id for r in rows if r.escalation_id}))
    belongs = numbered("message", letter.ids)
    if numbers:
        belongs += f" ({', '.join(ref(n) for n in numbers)})"
    sender, subject = sender_and_subject(rows[0].head, rows[0].mail_from) if rows else ("", "")
    return dataclasses.replace(
        letter,
        reason=_reason(letter, _errors(rows, unfinished)) + _processed_since(rows, unfinished),
        message_ids=letter.ids,
        escalation_ids=numbers,
        sender=sender,
        subject=subject,
        belongs_to=belongs,
        unfinished=unfinished,
    )


def _processed_since(rows: list[messages.Summary], unfinished: tuple[int, ...]) -> str:
    """What became of a dead job's messages since, when every one of them was processed."""
    if not rows or unfinished:
        return ""
    held = [r.id for r in rows if r.outcome == messages.QUARANTINED]
    if held:
        return f" [since quarantined: `qmark quarantine show {held[0]}`]"
    return " [processed since: a replay does nothing]"


def _send_job(letter: DeadLetter, mails: list[outbox.MailSummary]) -> DeadLetter:
    unfinished = tuple(m.id for m in mails if m.state in ("pending", "sending"))
    numbers = tuple(sorted({m.escalation_id for m in mails}))
    settled = " [settled since: a replay does nothing]" if mails and not unfinished else ""
    return dataclasses.replace(
        letter,
        reason=_reason(letter, _errors(mails, unfinished)) + settled,
        escalation_ids=numbers,
        sender="qmark",
        subject=_subject(mails[0]) if mails else "",
        belongs_to=_mails_belong_to(letter.ids, numbers, mails),
        unfinished=unfinished,
    )


def _mails_belong_to(ids: tuple[int, ...], numbers: tuple[int, ...], mails: list[outbox.MailSummary]) -> str:
    """``Q-3: mails 7, 8 (owner_forward to pat@..., executive_ack to dana@...)``."""
    prefix = ", ".join(ref(n) for n in numbers)
    belongs = f"{prefix}: {numbered('mail', ids)}" if prefix else numbered("mail", ids)
    to = ", ".join(f"{m.kind} to {m.recipient}" for m in mails)
    return f"{belongs} ({to})" if to else belongs


def _chase_job(letter: DeadLetter, session: Any) -> DeadLetter:
    found = [e for e in (escalations.get(session, number=n) for n in letter.ids) if e is not None]
    first = found[0] if found else None
    return dataclasses.replace(
        letter,
        reason=_reason(letter, ""),
        escalation_ids=letter.ids,
        sender=first.executive if first else "",
        subject=first.subject if first else "",
        belongs_to=", ".join(ref(n) for n in letter.ids),
        unfinished=tuple(e.id for e in found if e.state != "closed"),
    )


def _errors(
    rows: Sequence[messages.Summary] | Sequence[outbox.MailSummary], unfinished: tuple[int, ...]
) -> str:
    """The rows' last errors in words: of those still unfinished, or of all when none is."""
    return _join(first_line(row.last_error) for row in rows if row.id in unfinished or not unfinished)


def _reason(letter: DeadLetter, errors: str) -> str:
    """The error in words: the rows' errors, else what Dramatiq kept, else that none was recorded."""
    return errors or letter.job_error or _no_error(letter)


def _no_error(letter: DeadLetter) -> str:
    return (
        f"failed after {letter.retries} retries; no error recorded "
        "(Dramatiq keeps the traceback of earlier attempts only; see the worker's log)"
    )


def dead_mails(session: Any, *, limit: int = 1000) -> list[DeadLetter]:
    """Mails in state ``dead``, as dead letters ``mail-<id>``; when the refusal was recorded, if found."""
    mails = outbox.dead_summaries(session, limit=limit)
    refused = outbox.refused_at(session, mails)
    return [
        DeadLetter(
            id=f"{MAIL_PREFIX}{m.id}",
            kind="mail",
            queue="send",
            actor="send_mails",
            ids=(m.id,),
            dead_at=refused.get((m.escalation_id, m.kind, m.recipient)),
            enqueued_at=m.created_at,
            reason=first_line(m.last_error) or "refused by the relay",
            escalation_ids=(m.escalation_id,),
            sender="qmark",
            subject=_subject(m),
            belongs_to=f"{ref(m.escalation_id)}: {m.kind} to {m.recipient}",
            unfinished=(m.id,),
        )
        for m in mails
    ]
