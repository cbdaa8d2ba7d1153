"""``qmark dead-letters list|replay``: the jobs Dramatiq gave up on and the mails the relay refused for
good, as a table or JSON, and putting them back to work.

Which dead letters there are is :mod:`workers.ops.dead_letters`' (what each one is,
:mod:`pipeline.ops.dead_letters`'); this module prints them, replays them and rings the send
queue for a revived mail. Redis and Dramatiq are imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING

from pipeline.config.settings import Settings
from pipeline.ops.dead_letters import DeadLetter, ReplayRefused, numbered
from workers.cli.db import ready
from workers.cli.output import (
    EX_DATAERR,
    EX_NOTFOUND,
    EX_OK,
    EX_TEMPFAIL,
    cut,
    fail,
    minute,
    print_json,
)
from workers.graph import ring

if TYPE_CHECKING:
    from workers.bootstrap import App


def _print_table(letters: list[DeadLetter]) -> None:
    """One line per dead letter (id, when, actor, reason), then what it belongs to, sender and subject."""
    print(f"{'ID':<36}  {'DEAD (UTC)':<16}  {'ACTOR':<17}  REASON")
    for d in letters:
        when = minute(d.dead_at or d.enqueued_at)
        print(f"{d.id:<36}  {when:<16}  {d.actor:<17}  {d.reason}")
        about = d.belongs_to or numbered("id", d.ids)
        sender = f"from {d.sender}: " if d.sender and d.sender != "qmark" else ""
        headline = f"{sender}{d.subject}" if sender or d.subject else ""
        print(f"    {about}" + (f" — {cut(headline, 100)}" if headline else ""))


def list_command(settings: Settings, *, as_json: bool) -> int:
    """Every dead letter: id, when, actor, what it belongs to, sender, subject and the error in words.

    0; 75 when Redis cannot be read (the dead mails, from the database, are still listed).
    """
    from workers.ops.dead_letters import list_all

    found = list_all(settings)
    if as_json:
        print_json([d.as_json() for d in found.letters])
    elif found.letters:
        _print_table(found.letters)
        print(
            f"\n{len(found.letters)} dead letter(s). `qmark dead-letters replay ID` (or --all) enqueues them "
            f"again; Dramatiq deletes dead jobs {found.kept_days:g} days after they died."
        )
    else:
        print("no dead letters")
    if found.problem:
        return fail(EX_TEMPFAIL, found.problem)
    return EX_OK


def replay_command(settings: Settings, *, ident: str | None, replay_all: bool) -> int:
    """Enqueue one dead letter (``ID``) or all of them again: 0 done, 66 unknown id, 65 refused, 75 Redis."""
    from workers.bootstrap import build

    if not replay_all and not ident:
        return fail(EX_DATAERR, "name a dead letter's id, or --all")
    app = build(settings=settings)
    chosen = _chosen(app, None if replay_all else ident)
    if isinstance(chosen, int):
        return chosen
    if not chosen:
        print("no dead letters")
    codes = [_replay(app, letter) for letter in chosen]
    return max(codes, default=EX_OK)  # Redis down (75) outranks a refusal (65)


def _chosen(app: App, ident: str | None) -> list[DeadLetter] | int:
    """The dead letters ``ident`` names (all of them for None), else the exit code after saying why not:
    75 Redis cannot be read, 65 the id is the start of several, 66 no dead letter has it."""
    import redis

    from workers.ops.dead_letters import candidates, select

    try:
        letters = candidates(app, ident)
    except redis.RedisError as error:
        return fail(EX_TEMPFAIL, f"cannot read the dead-letter sets from Redis: {error}")
    if ident is None:
        return letters
    found = select(letters, ident)
    if not isinstance(found, str):
        return found
    if found:
        return fail(EX_DATAERR, found)
    return fail(EX_NOTFOUND, f"no dead letter {ident!r}; `qmark dead-letters list` shows them")


def _replay(app: App, letter: DeadLetter) -> int:
    """Replay one dead letter and say so; 65 refused, 75 Redis unavailable."""
    import redis

    what = f"{letter.id} ({letter.actor}: {letter.belongs_to or numbered('id', letter.ids)})"
    try:
        print(f"replayed {what}: {_put_back(app, letter)}")
    except ReplayRefused as error:
        return fail(EX_DATAERR, str(error))
    except redis.RedisError as error:
        return fail(EX_TEMPFAIL, f"{letter.id} not replayed, Redis is unavailable: {error}")
    return EX_OK


def _put_back(app: App, letter: DeadLetter) -> str:
    """Revive a dead mail and ring the send queue, or put a dead job back on its queue; what became of it."""
    from workers.ops.dead_jobs import replay_job
    from workers.ops.dead_letters import revive_mail

    if letter.kind == "mail":
        mail_id = revive_mail(app, letter)
        enqueue = functools.partial(app.graph.enqueue_send, [mail_id])
        queued = ring(enqueue, what="send", ids=[mail_id]) is None
        return "pending again" + (
            "" if queued else "; Redis is unavailable, the scheduler's sweeper will send it"
        )
    replay_job(app.broker, letter, db=app.services.db)
    done = "" if letter.unfinished or not letter.ids else "; its work was done since, so it does nothing"
    return f"back on queue {letter.queue!r} with fresh retries{done}"


def run_list(args: argparse.Namespace) -> int:
    """``qmark dead-letters list [--json]``."""
    return list_command(ready(args), as_json=args.json)


def run_replay(args: argparse.Namespace) -> int:
    """``qmark dead-letters replay ID|--all``."""
    return replay_command(ready(args), ident=args.id, replay_all=args.all)
