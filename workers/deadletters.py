"""``qmark dead-letters list|replay``: jobs Dramatiq gave up on, and mails the relay refused for good.

Two kinds of dead letter, one list:

``job``
    A Dramatiq message whose retries ran out (``max_retries`` per actor in
    ``workers/graph.py``). Its id is the Dramatiq message id (stable across
    retries and replays). Replaying puts the same job back on its queue with
    fresh retries.
``mail``
    An outbound mail in state ``dead``: the relay refused it permanently (5xx)
    or it ran out of send attempts. Its send job did not fail (a permanent
    refusal is an outcome, not a fault), so Dramatiq never sees it; the
    database is the only place it is dead. Its id is ``mail-<id>``. Replaying
    sets it back to pending with fresh attempts, records ``mail_requeued`` on
    the escalation and enqueues a send job. Bounced mails (the relay accepted
    them, a bounce came back later) are not dead letters: resending the same
    bytes to the same address would bounce again.

What Dramatiq 2.2's Redis broker keeps of a dead job (``brokers/redis.py`` and
``brokers/redis/dispatch.lua``), with our namespace ``qmark``:

- ``qmark:<queue>.XQ``, a sorted set of *Redis* message ids (a new uuid at every
  enqueue, ``options["redis_message_id"]``), scored by when the job was
  dead-lettered (epoch milliseconds of the ``nack``);
- ``qmark:<queue>.XQ.msgs``, a hash from that id to the encoded message (JSON:
  ``queue_name``, ``actor_name``, ``args``, ``kwargs``, ``options``,
  ``message_id``, ``message_timestamp``) exactly as it was last *enqueued*;
- expiry: the broker's maintenance, which runs on a random ~0.1% of broker
  calls, deletes entries older than ``dead_message_ttl`` (7 days by default).
  Nothing else removes them; a dead letter lives at least 7 days.

The stored copy is the one last enqueued, not the one that failed last: the
Retries middleware writes ``retries``, ``traceback`` (``format_exc``) and
``requeue_timestamp`` on the in-memory message at each failure, and only a
retry's re-enqueue stores them. So a job that died on its first run carries no
traceback at all, and a retried one carries the traceback and time of the
failure *before* the last. Times available: ``message_timestamp`` (first
enqueued; kept across retries), ``requeue_timestamp`` (the failure before the
last, when retried) and the set's score (the last failure); when it *first*
failed is not kept. The last failure's error is in the database
(``messages.last_error`` for process jobs, ``outbound_mails.last_error`` for
send jobs), which is why the reason in words is read there first.

Replaying is always safe: actors claim rows, so a job for finished work does
nothing. The database stays the source of truth: a process job's message that
is still pending is also re-enqueued by the scheduler's sweeper, and after
``worker.max_attempts`` the flow quarantines it (see ``qmark quarantine``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import redis
from dramatiq import Message
from dramatiq.brokers.redis import DEFAULT_DEAD_MESSAGE_TTL, RedisBroker
from dramatiq.common import q_name
from dramatiq.errors import ActorNotFound, DecodeError
from sqlalchemy import Connection, func, select, update

from pipeline import log
from pipeline.config import Settings
from pipeline.escalation import ref
from pipeline.quarantine import read_headers, sender_and_subject
from pipeline.store import escalations, messages
from pipeline.store.db import Database
from pipeline.store.models import Event, OutboundMail
from workers.broker import QUEUES

if TYPE_CHECKING:
    from workers.bootstrap import App

logger = log.get(__name__)

EX_OK, EX_DATAERR, EX_NOTFOUND, EX_TEMPFAIL = 0, 65, 66, 75

NAMESPACE = "qmark"
MAIL_PREFIX = "mail-"
# What a failure or a delay wrote on the message; a replay starts without them.
_SPENT_OPTIONS = frozenset({"retries", "traceback", "requeue_timestamp", "eta", "redis_message_id"})
_MIN_PREFIX = 6  # the shortest id prefix `replay` accepts


class Refused(Exception):
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


def _from_millis(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


_DBAPI_CLASS = re.compile(r"\((?:\w+\.)*\w+(?:Error|Exception|Warning)\) ")  # "(sqlite3.OperationalError) "


def first_line(error: str | None) -> str:
    """An error in words: its first non-empty line (SQLAlchemy puts the SQL and a URL after it)."""
    for line in (error or "").splitlines():
        if line.strip():
            return _DBAPI_CLASS.sub("", line.strip(), count=1)
    return ""


_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)(?=: |$)")


def _last_line(traceback: object) -> str | None:
    """The exception line of a formatted traceback, without its module path and SQLAlchemy's tail."""
    if not isinstance(traceback, str):
        return None
    for line in reversed(traceback.strip().splitlines()):
        if _EXCEPTION_LINE.match(line):
            return first_line(_EXCEPTION_LINE.sub(r"\1", line, count=1))
    return None


def _ints(args: object) -> tuple[int, ...]:
    """The ids a job carries: its first argument, a list of ints."""
    if not isinstance(args, list | tuple) or not args or not isinstance(args[0], list | tuple):
        return ()
    return tuple(i for i in args[0] if isinstance(i, int) and not isinstance(i, bool))


# Reading Redis


@dataclass(frozen=True)
class _Stored:
    queue: str
    redis_id: str
    dead_ms: float
    data: bytes | None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _dead_queues(client: redis.Redis, namespace: str, queues: Iterable[str]) -> list[str]:
    """Our queues and any other queue that has a dead-letter set in this namespace."""
    found = set(queues)
    prefix = f"{namespace}:"
    for key in client.scan_iter(match=f"{namespace}:*.XQ", count=1000):
        found.add(_text(key)[len(prefix) : -len(".XQ")])
    return sorted(found)


def _read_stored(client: redis.Redis, namespace: str, queues: Iterable[str]) -> list[_Stored]:
    stored: list[_Stored] = []
    for queue in _dead_queues(client, namespace, queues):
        key = f"{namespace}:{queue}.XQ"
        members = cast(list[tuple[bytes, float]], client.zrange(key, 0, -1, withscores=True))
        if not members:
            continue
        data = cast(list[bytes | None], client.hmget(f"{key}.msgs", [member for member, _ in members]))
        for (member, score), encoded in zip(members, data, strict=True):
            stored.append(_Stored(queue, _text(member), float(score), encoded))
    return stored


def _job(stored: _Stored, ttl_ms: int) -> tuple[DeadLetter, Message[Any] | None]:
    dead_at = _from_millis(stored.dead_ms)
    expires_at = dead_at + timedelta(milliseconds=ttl_ms) if dead_at else None
    if stored.data is None:
        reason = "the job's data is missing from Redis (expired or deleted by hand)"
        letter = DeadLetter(stored.redis_id, "job", stored.queue, "?", (), dead_at, None, reason)
        return dataclasses.replace(letter, expires_at=expires_at, redis_id=stored.redis_id), None
    try:
        message: Message[Any] = Message.decode(stored.data)
    except DecodeError as error:
        reason = f"the job's data cannot be decoded: {error}"
        letter = DeadLetter(stored.redis_id, "job", stored.queue, "?", (), dead_at, None, reason)
        return dataclasses.replace(letter, expires_at=expires_at, redis_id=stored.redis_id), None
    options = message.options
    retries = options.get("retries", 0)
    job_error = _last_line(options.get("traceback"))
    letter = DeadLetter(
        id=message.message_id,
        kind="job",
        queue=stored.queue,  # where it lies dead; a replay goes to the message's own queue
        actor=message.actor_name,
        ids=_ints(message.args),
        dead_at=dead_at,
        enqueued_at=_from_millis(message.message_timestamp),
        reason=job_error or "",
        last_retry_at=_from_millis(options.get("requeue_timestamp")),
        expires_at=expires_at,
        retries=retries if isinstance(retries, int) else 0,
        job_error=job_error,
        redis_id=stored.redis_id,
    )
    return letter, message


# What the database says


def _join(parts: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(p for p in parts if p))


def _numbers(word: str, ids: Sequence[int]) -> str:
    return f"{word}{'s' if len(ids) != 1 else ''} {', '.join(str(i) for i in ids)}"


def _with_db(letter: DeadLetter, session: Any) -> DeadLetter:
    """Add what the job's rows say: their errors, what they belong to, sender and subject."""
    if letter.actor == "process_messages":
        return _process_job(letter, messages.list_by_ids(session, message_ids=letter.ids))
    if letter.actor == "send_mails":
        return _send_job(letter, _mails(session, where=OutboundMail.id.in_(letter.ids)))
    if letter.actor == "chase_escalations":
        return _chase_job(letter, session)
    return letter


def _process_job(letter: DeadLetter, rows: list[messages.Summary]) -> DeadLetter:
    unfinished = tuple(r.id for r in rows if r.state != "done")
    errors = _join(first_line(r.last_error) for r in rows if r.id in unfinished or not unfinished)
    numbers = tuple(sorted({r.escalation_id for r in rows if r.escalation_id}))
    belongs = _numbers("message", letter.ids)
    if numbers:
        belongs += f" ({', '.join(ref(n) for n in numbers)})"
    reason = errors or letter.job_error or _no_error(letter)
    held = [r.id for r in rows if r.outcome == messages.QUARANTINED]
    if rows and not unfinished:
        reason += (
            f" [since quarantined: `qmark quarantine show {held[0]}`]"
            if held
            else " [processed since: a replay does nothing]"
        )
    sender, subject = sender_and_subject(rows[0].head, rows[0].mail_from) if rows else ("", "")
    return dataclasses.replace(
        letter,
        reason=reason,
        message_ids=letter.ids,
        escalation_ids=numbers,
        sender=sender,
        subject=subject,
        belongs_to=belongs,
        unfinished=unfinished,
    )


@dataclass(frozen=True)
class _Mail:
    id: int
    escalation_id: int
    kind: str
    recipient: str
    state: str
    last_error: str | None
    created_at: datetime
    subject: str


def _mails(session: Any, *, where: Any, limit: int = 1000) -> list[_Mail]:
    query = (
        select(
            OutboundMail.id,
            OutboundMail.escalation_id,
            OutboundMail.kind,
            OutboundMail.recipient,
            OutboundMail.state,
            OutboundMail.last_error,
            OutboundMail.created_at,
            func.substr(OutboundMail.raw, 1, messages.HEAD_BYTES),
        )
        .where(where)
        .order_by(OutboundMail.id)
        .limit(limit)
    )
    found: list[_Mail] = []
    for mail_id, number, kind, recipient, state, error, created_at, head in session.execute(query):
        subject = read_headers(bytes(head or b""), ("Subject",)).get("Subject", [""])[0]
        found.append(_Mail(mail_id, number, kind, recipient, state, error, created_at, subject))
    return found


def _send_job(letter: DeadLetter, mails: list[_Mail]) -> DeadLetter:
    unfinished = tuple(m.id for m in mails if m.state in ("pending", "sending"))
    numbers = tuple(sorted({m.escalation_id for m in mails}))
    errors = _join(first_line(m.last_error) for m in mails if m.id in unfinished or not unfinished)
    reason = errors or letter.job_error or _no_error(letter)
    if mails and not unfinished:
        reason += " [settled since: a replay does nothing]"
    to = ", ".join(f"{m.kind} to {m.recipient}" for m in mails)
    prefix = ", ".join(ref(n) for n in numbers)
    belongs = f"{prefix}: {_numbers('mail', letter.ids)}" if prefix else _numbers("mail", letter.ids)
    return dataclasses.replace(
        letter,
        reason=reason,
        escalation_ids=numbers,
        sender="qmark",
        subject=mails[0].subject if mails else "",
        belongs_to=f"{belongs} ({to})" if to else belongs,
        unfinished=unfinished,
    )


def _chase_job(letter: DeadLetter, session: Any) -> DeadLetter:
    found = [e for e in (escalations.get(session, number=n) for n in letter.ids) if e is not None]
    first = found[0] if found else None
    return dataclasses.replace(
        letter,
        reason=letter.job_error or _no_error(letter),
        escalation_ids=letter.ids,
        sender=first.executive if first else "",
        subject=first.subject if first else "",
        belongs_to=", ".join(ref(n) for n in letter.ids),
        unfinished=tuple(e.id for e in found if e.state != "closed"),
    )


def _no_error(letter: DeadLetter) -> str:
    return (
        f"failed after {letter.retries} retries; no error recorded "
        "(Dramatiq keeps the traceback of earlier attempts only; see the worker's log)"
    )


def dead_mails(session: Any, *, limit: int = 1000) -> list[DeadLetter]:
    """Mails in state ``dead``, as dead letters ``mail-<id>``; when the refusal was recorded, if found."""
    mails = _mails(session, where=OutboundMail.state == "dead", limit=limit)
    refused: dict[tuple[int, str, str], datetime] = {}
    if mails:
        query = select(Event.escalation_id, Event.at, Event.detail).where(
            Event.escalation_id.in_({m.escalation_id for m in mails}), Event.kind == "delivery_failed"
        )
        for number, at, detail in session.execute(query):
            key = (number, str((detail or {}).get("mail")), str((detail or {}).get("to")))
            refused[key] = max(at, refused.get(key, at))
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
            subject=m.subject,
            belongs_to=f"{ref(m.escalation_id)}: {m.kind} to {m.recipient}",
            unfinished=(m.id,),
        )
        for m in mails
    ]


def list_dead(
    source: RedisBroker | redis.Redis,
    *,
    db: Database | None = None,
    namespace: str = NAMESPACE,
    queues: Iterable[str] = QUEUES,
    dead_message_ttl: int = DEFAULT_DEAD_MESSAGE_TTL,
    include_mails: bool = True,
) -> list[DeadLetter]:
    """Every dead job in every queue's dead-letter set (and, with ``db``, every dead mail), oldest first.

    ``source`` is the broker (its client, namespace, declared queues and
    dead-message TTL are used) or a Redis client with ``namespace``. With ``db``
    each job is completed from its rows: the last error, the messages and
    escalations it belongs to, the sender and the subject. Raises
    ``redis.RedisError`` when Redis cannot be read.
    """
    if isinstance(source, RedisBroker):
        client, namespace = source.client, source.namespace
        queues = {*queues, *source.get_declared_queues()}
        dead_message_ttl = source.dead_message_ttl
    else:
        client = source
    letters = [_job(stored, dead_message_ttl)[0] for stored in _read_stored(client, namespace, queues)]
    if db is not None:
        with db.read() as session:
            letters = [_with_db(letter, session) for letter in letters]
            if include_mails:
                letters += dead_mails(session)
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(letters, key=lambda d: (d.dead_at or d.enqueued_at or epoch, d.id))


# Replaying


def replay_job(broker: RedisBroker, letter: DeadLetter, *, db: Database | None = None) -> None:
    """Move one dead job back onto its queue with fresh retries (same Dramatiq message id).

    The entry is taken out of the dead-letter set atomically first, so two
    operators replaying at once enqueue it once; if the enqueue then fails it is
    put back. A process job's messages that are still pending get fresh
    attempts too (``messages.reset_attempts``): the operator replays because the
    fault is fixed, and the attempts spent on it should not quarantine them.
    """
    if letter.kind != "job" or letter.redis_id is None:
        raise Refused(f"{letter.id} is not a dead job")
    try:
        broker.get_actor(letter.actor)
    except ActorNotFound:
        raise Refused(f"{letter.id}: no actor {letter.actor!r} in this qmark; it cannot run") from None
    key = f"{broker.namespace}:{letter.queue}.XQ"
    with broker.client.pipeline(transaction=True) as pipe:
        pipe.zscore(key, letter.redis_id)
        pipe.zrem(key, letter.redis_id)
        pipe.hget(f"{key}.msgs", letter.redis_id)
        pipe.hdel(f"{key}.msgs", letter.redis_id)
        score, removed, data, _ = pipe.execute()
    if not removed or data is None:
        raise Refused(f"{letter.id} is no longer dead (replayed or expired meanwhile)")
    try:
        message: Message[Any] = Message.decode(data)
        options = {k: v for k, v in message.options.items() if k not in _SPENT_OPTIONS}
        fresh = dataclasses.replace(message, queue_name=q_name(message.queue_name), options=options)
        if db is not None and letter.actor == "process_messages":
            with db.transaction() as conn:
                messages.reset_attempts(conn, message_ids=letter.ids)
        broker.enqueue(fresh)
    except BaseException:
        with broker.client.pipeline(transaction=True) as pipe:  # back where it was
            pipe.zadd(key, {letter.redis_id: score})
            pipe.hset(f"{key}.msgs", letter.redis_id, data)
            pipe.execute()
        raise
    logger.info("dead_letter_replayed", job_id=letter.id, actor=letter.actor, ids=list(letter.ids))


def _revive_mail(conn: Connection, *, mail_id: int, now: datetime) -> bool:
    """A dead mail back to pending with fresh attempts, recorded on its escalation.

    Here rather than in ``pipeline/store/outbox.py`` only because this change
    could not touch that file; it belongs beside ``outbox.mark_dead``.
    """
    row = conn.execute(
        update(OutboundMail)
        .where(OutboundMail.id == mail_id, OutboundMail.state == "dead")
        .values(state="pending", attempts=0, lease_until=None, enqueued_at=now)
        .returning(OutboundMail.escalation_id, OutboundMail.kind, OutboundMail.recipient)
    ).first()
    if row is None:
        return False
    number, kind, recipient = row
    escalations.add_event(
        conn, escalation_id=number, kind="mail_requeued", at=now, actor="operator", mail=kind, to=recipient
    )
    return True


def replay_mail(app: App, letter: DeadLetter) -> bool:
    """Send a dead mail again; False when it is pending but Redis did not take the send job."""
    from pipeline.services import utcnow

    [mail_id] = letter.ids
    with app.services.db.transaction() as conn:
        if not _revive_mail(conn, mail_id=mail_id, now=utcnow()):
            raise Refused(f"{letter.id} is no longer dead")
    logger.info("dead_mail_replayed", mail_id=mail_id)
    try:
        app.graph.enqueue_send([mail_id])
    except Exception as error:
        logger.warning("enqueue_failed_sweeper_will_retry", mail_id=mail_id, error=str(error))
        return False
    return True


def _select(letters: list[DeadLetter], ident: str) -> list[DeadLetter] | str:
    """The dead letters ``ident`` names (an id, a Redis id, or a unique prefix), else why not."""
    ident = ident.strip()
    exact = [d for d in letters if ident in (d.id, d.redis_id)]
    if exact:
        return exact
    if len(ident) >= _MIN_PREFIX and not ident.startswith(MAIL_PREFIX):
        matching = [d for d in letters if d.kind == "job" and d.id.startswith(ident)]
        if len({d.id for d in matching}) == 1:
            return matching
        if matching:
            return f"{ident!r} is the start of {len({d.id for d in matching})} dead letters' ids; give more"
    return ""


# The commands


def _open(settings: Settings) -> tuple[RedisBroker, Database]:
    from workers.broker import build_broker

    return build_broker(settings.storage.redis_url), Database(settings.storage.database_url)


def _minute(moment: datetime | None) -> str:
    return moment.isoformat()[:16].replace("T", " ") if moment else "-"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_table(letters: list[DeadLetter]) -> None:
    """One line per dead letter (id, when, actor, reason), then what it belongs to, sender and subject."""
    print(f"{'ID':<36}  {'DEAD (UTC)':<16}  {'ACTOR':<17}  REASON")
    for d in letters:
        when = _minute(d.dead_at or d.enqueued_at)
        print(f"{d.id:<36}  {when:<16}  {d.actor:<17}  {d.reason}")
        about = d.belongs_to or _numbers("id", d.ids)
        sender = f"from {d.sender}: " if d.sender and d.sender != "qmark" else ""
        headline = f"{sender}{d.subject}" if sender or d.subject else ""
        print(f"    {about}" + (f" — {_cut(headline, 100)}" if headline else ""))


def list_command(settings: Settings, *, as_json: bool) -> int:
    """Every dead letter: id, when, actor, what it belongs to, sender, subject and the error in words.

    0; 75 when Redis cannot be read (the dead mails, from the database, are still listed).
    """
    broker, db = _open(settings)
    problem = None
    try:
        try:
            letters = list_dead(broker, db=db)
        except redis.RedisError as error:
            problem = f"cannot read the dead-letter sets from Redis: {error}"
            with db.read() as session:
                letters = dead_mails(session)
    finally:
        broker.client.close()
        db.dispose()
    if as_json:
        print(json.dumps([d.as_json() for d in letters], indent=2))
    elif letters:
        _print_table(letters)
        days = broker.dead_message_ttl / 86_400_000
        print(
            f"\n{len(letters)} dead letter(s). `qmark dead-letters replay ID` (or --all) enqueues them "
            f"again; Dramatiq deletes dead jobs {days:g} days after they died."
        )
    else:
        print("no dead letters")
    if problem:
        print(f"qmark: {problem}", file=sys.stderr)
        return EX_TEMPFAIL
    return EX_OK


def replay_command(settings: Settings, *, ident: str | None, replay_all: bool) -> int:
    """Enqueue one dead letter (``ID``) or all of them again: 0 done, 66 unknown id, 65 refused, 75 Redis."""
    from workers.bootstrap import build

    if not replay_all and not ident:
        print("qmark: name a dead letter's id, or --all", file=sys.stderr)
        return EX_DATAERR
    app = build(settings=settings)
    try:
        if ident and not replay_all and ident.strip().startswith(MAIL_PREFIX):
            with app.services.db.read() as session:  # a dead mail needs no Redis to be found
                letters = dead_mails(session)
        else:
            letters = list_dead(app.broker, db=app.services.db)
    except redis.RedisError as error:
        print(f"qmark: cannot read the dead-letter sets from Redis: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    if replay_all:
        chosen = letters
        if not chosen:
            print("no dead letters")
            return EX_OK
    else:
        assert ident is not None
        found = _select(letters, ident)
        if isinstance(found, str):
            print(
                f"qmark: {found or f'no dead letter {ident!r}; `qmark dead-letters list` shows them'}",
                file=sys.stderr,
            )
            return EX_DATAERR if found else EX_NOTFOUND
        chosen = found
    return _replay_each(app, chosen)


def _replay_each(app: App, chosen: list[DeadLetter]) -> int:
    code = EX_OK
    for letter in chosen:
        what = f"{letter.id} ({letter.actor}: {letter.belongs_to or _numbers('id', letter.ids)})"
        try:
            if letter.kind == "mail":
                queued = replay_mail(app, letter)
                print(
                    f"replayed {what}: pending again"
                    + ("" if queued else "; Redis is unavailable, the scheduler's sweeper will send it")
                )
            else:
                replay_job(app.broker, letter, db=app.services.db)
                done = (
                    ""
                    if letter.unfinished or not letter.ids
                    else "; its work was done since, so it does nothing"
                )
                print(f"replayed {what}: back on queue {letter.queue!r} with fresh retries{done}")
        except Refused as error:
            print(f"qmark: {error}", file=sys.stderr)
            code = max(code, EX_DATAERR)
        except redis.RedisError as error:
            print(f"qmark: {letter.id} not replayed, Redis is unavailable: {error}", file=sys.stderr)
            code = EX_TEMPFAIL
    return code
