"""Dramatiq's Redis dead-letter sets: read the jobs it gave up on, and put one back on its queue.

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
send jobs), which is why the reason in words is read there first
(``pipeline/ops/dead_letters.py``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
from dramatiq import Message
from dramatiq.brokers.redis import DEFAULT_DEAD_MESSAGE_TTL, RedisBroker
from dramatiq.common import q_name
from dramatiq.errors import ActorNotFound, DecodeError

from pipeline import log
from pipeline.ops.dead_letters import DeadLetter, ReplayRefused, dead_mails, first_line, with_rows
from pipeline.store import messages
from pipeline.store.db import Database
from workers.broker import QUEUES

logger = log.get("workers.ops.dead_letters")  # the logger name these log lines always had

NAMESPACE = "qmark"
# What a failure or a delay wrote on the message; a replay starts without them.
_SPENT_OPTIONS = frozenset({"retries", "traceback", "requeue_timestamp", "eta", "redis_message_id"})


def _from_millis(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


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
            letters = [with_rows(letter, session) for letter in letters]
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
    redis_id = _replayable(broker, letter)
    key = f"{broker.namespace}:{letter.queue}.XQ"
    with broker.client.pipeline(transaction=True) as pipe:
        pipe.zscore(key, redis_id)
        pipe.zrem(key, redis_id)
        pipe.hget(f"{key}.msgs", redis_id)
        pipe.hdel(f"{key}.msgs", redis_id)
        score, removed, data, _ = pipe.execute()
    if not removed or data is None:
        raise ReplayRefused(f"{letter.id} is no longer dead (replayed or expired meanwhile)")
    try:
        _enqueue_fresh(broker, letter, data, db)
    except BaseException:
        with broker.client.pipeline(transaction=True) as pipe:  # back where it was
            pipe.zadd(key, {redis_id: score})
            pipe.hset(f"{key}.msgs", redis_id, data)
            pipe.execute()
        raise
    logger.info("dead_letter_replayed", job_id=letter.id, actor=letter.actor, ids=list(letter.ids))


def _replayable(broker: RedisBroker, letter: DeadLetter) -> str:
    """The Redis id of a dead job this qmark can run; :class:`ReplayRefused` otherwise."""
    if letter.kind != "job" or letter.redis_id is None:
        raise ReplayRefused(f"{letter.id} is not a dead job")
    try:
        broker.get_actor(letter.actor)
    except ActorNotFound:
        raise ReplayRefused(f"{letter.id}: no actor {letter.actor!r} in this qmark; it cannot run") from None
    return letter.redis_id


def _enqueue_fresh(broker: RedisBroker, letter: DeadLetter, data: bytes, db: Database | None) -> None:
    """The stored job, without what failures wrote on it, back on its queue; its messages' attempts reset."""
    message: Message[Any] = Message.decode(data)
    options = {k: v for k, v in message.options.items() if k not in _SPENT_OPTIONS}
    fresh = dataclasses.replace(message, queue_name=q_name(message.queue_name), options=options)
    if db is not None and letter.actor == "process_messages":
        with db.transaction() as conn:
            messages.reset_attempts(conn, message_ids=letter.ids)
    broker.enqueue(fresh)
