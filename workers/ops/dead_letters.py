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

Replaying is always safe: actors claim rows, so a job for finished work does
nothing. The database stays the source of truth: a process job's message that
is still pending is also re-enqueued by the scheduler's sweeper, and after
``worker.max_attempts`` the flow quarantines it (see ``qmark quarantine``).

This module is the two commands and replaying a dead mail. What Dramatiq keeps
of a dead job, and replaying one, is ``workers/ops/dead_jobs.py``; the dead letter itself
and what the database says about it is ``pipeline/ops/dead_letters.py``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import redis
from dramatiq.brokers.redis import RedisBroker

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.ops.dead_letters import MAIL_PREFIX, DeadLetter, ReplayRefused, dead_mails, numbered
from pipeline.store import deadmails
from pipeline.store.db import Database
from workers.ops.dead_jobs import list_dead, replay_job

if TYPE_CHECKING:
    from workers.bootstrap import App


logger = log.get(__name__)

EX_OK, EX_DATAERR, EX_NOTFOUND, EX_TEMPFAIL = 0, 65, 66, 75

_MIN_PREFIX = 6  # the shortest id prefix `replay` accepts


def replay_mail(app: App, letter: DeadLetter) -> bool:
    """Send a dead mail again; False when it is pending but Redis did not take the send job."""
    from pipeline.steps.services import utcnow

    [mail_id] = letter.ids
    with app.services.db.transaction() as conn:
        if not deadmails.revive(conn, mail_id=mail_id, now=utcnow()):
            raise ReplayRefused(f"{letter.id} is no longer dead")
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
        about = d.belongs_to or numbered("id", d.ids)
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
        what = f"{letter.id} ({letter.actor}: {letter.belongs_to or numbered('id', letter.ids)})"
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
        except ReplayRefused as error:
            print(f"qmark: {error}", file=sys.stderr)
            code = max(code, EX_DATAERR)
        except redis.RedisError as error:
            print(f"qmark: {letter.id} not replayed, Redis is unavailable: {error}", file=sys.stderr)
            code = EX_TEMPFAIL
    return code
