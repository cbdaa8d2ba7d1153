"""The dead letters ``qmark dead-letters list|replay`` show: jobs Dramatiq gave up on, mails refused for good.

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

Replaying is always safe: actors claim rows, so a job for finished work does
nothing. The database stays the source of truth: a process job's message that
is still pending is also re-enqueued by the scheduler's sweeper, and after
``worker.max_attempts`` the flow quarantines it (see ``qmark quarantine``).

This module reads the dead letters for the two commands, picks the ones an id names and
revives a dead mail; ``workers/cli/dead_letters.py`` prints them and rings the queues.
What Dramatiq keeps of a dead job, and replaying one, is ``workers/ops/dead_jobs.py``; the
dead letter itself and what the database says about it is ``pipeline/ops/dead_letters.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.ops.dead_letters import MAIL_PREFIX, DeadLetter, ReplayRefused, dead_mails
from pipeline.store import outbox
from pipeline.store.db import open_database
from workers.ops.dead_jobs import list_dead

if TYPE_CHECKING:
    from workers.bootstrap import App


logger = log.get(__name__)

_MIN_PREFIX = 6  # the shortest id prefix `replay` accepts


@dataclass(frozen=True)
class Listing:
    """Every dead letter found; ``problem`` says why only the dead mails are there (Redis unreadable)."""

    letters: list[DeadLetter]
    kept_days: float  # how long Dramatiq keeps a dead job
    problem: str | None = None


def list_all(settings: Settings) -> Listing:
    """Every dead letter, oldest first; only the dead mails (from the database) when Redis cannot be read."""
    from workers.broker import build_broker

    broker, db = build_broker(settings.storage.redis_url), open_database(settings.storage)
    try:
        try:
            letters, problem = list_dead(broker, db=db), None
        except redis.RedisError as error:
            problem = f"cannot read the dead-letter sets from Redis: {error}"
            with db.read() as session:
                letters = dead_mails(session)
    finally:
        broker.client.close()
        db.dispose()
    return Listing(letters, kept_days=broker.dead_message_ttl / 86_400_000, problem=problem)


def candidates(app: App, ident: str | None) -> list[DeadLetter]:
    """The dead letters ``ident`` may name (all of them for None); a dead mail needs no Redis to be found.

    Raises ``redis.RedisError`` when Redis cannot be read.
    """
    if ident and ident.strip().startswith(MAIL_PREFIX):
        with app.services.db.read() as session:
            return dead_mails(session)
    return list_dead(app.broker, db=app.services.db)


def select(letters: list[DeadLetter], ident: str) -> list[DeadLetter] | str:
    """The dead letters ``ident`` names (an id, a Redis id, or a unique prefix), else why not
    (empty: nothing has that id)."""
    ident = ident.strip()
    exact = [d for d in letters if ident in (d.id, d.redis_id)]
    if exact:
        return exact
    if len(ident) < _MIN_PREFIX or ident.startswith(MAIL_PREFIX):
        return ""
    return _by_prefix(letters, ident)


def _by_prefix(letters: list[DeadLetter], prefix: str) -> list[DeadLetter] | str:
    matching = [d for d in letters if d.kind == "job" and d.id.startswith(prefix)]
    ids = {d.id for d in matching}
    if len(ids) > 1:
        return f"{prefix!r} is the start of {len(ids)} dead letters' ids; give more"
    return matching or ""


def revive_mail(app: App, letter: DeadLetter) -> int:
    """Set a dead mail pending again with fresh attempts; returns its id, for the send job.

    Raises :class:`ReplayRefused` when it is no longer dead.
    """
    from pipeline.steps.services import utcnow

    [mail_id] = letter.ids
    with app.services.db.transaction() as conn:
        if not outbox.revive(conn, mail_id=mail_id, now=utcnow()):
            raise ReplayRefused(f"{letter.id} is no longer dead")
    logger.info("dead_mail_replayed", mail_id=mail_id)
    return mail_id
