"""``qmark digest send``: today's digest now, whatever the time, still at most once per day.

When it is due, claiming the day and sending it are :mod:`workers.ticks.digest`'s; this
module says what became of the attempt. Exit 0 when it was sent now or before, 75 when
nobody could be reached or another process is sending it right now, 78 when there is
nobody to send it to.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.config.settings import Settings
from pipeline.store.digests import FAILED, SENT
from workers.cli.db import ready
from workers.cli.output import EX_CONFIG, EX_OK, EX_TEMPFAIL, fail, minute

if TYPE_CHECKING:
    from workers.ticks.digest import DigestAttempt

NOBODY = 'nobody to send it to. Fix: set [digest] recipients = ["ops@example.com"] or executives = true'


def send_command(settings: Settings, *, now: datetime | None = None) -> int:
    """Send today's digest (a day that failed or was abandoned too; never a sent day again)."""
    from workers.bootstrap import build
    from workers.ticks.digest import local_day, recipients, send_day

    app = build(settings=settings)
    to = recipients(settings, app.services.rules)
    if not to:
        return fail(EX_CONFIG, NOBODY, command="qmark digest")
    now = now or app.services.clock()
    outcome = send_day(app, local_day(settings, now), to, now=now, retry=True)
    return _told(outcome) if outcome.claimed else _taken(outcome)


def _taken(outcome: DigestAttempt) -> int:
    """Another process claimed the day: sent already (0), or being sent right now (75)."""
    when = f" at {minute(outcome.at)} UTC" if outcome.at else ""
    if outcome.state == SENT:
        print(f"the digest for {outcome.day} was already sent{when}; it goes once a day")
        return EX_OK
    return fail(
        EX_TEMPFAIL,
        f"the digest for {outcome.day} is being sent by another process (claimed{when}); "
        "try again in a few minutes",
        command="qmark digest",
    )


def _told(outcome: DigestAttempt) -> int:
    """This attempt sent it: to whom, and whom it could not reach (75 when nobody)."""
    for error in outcome.errors:
        fail(EX_TEMPFAIL, f"not delivered: {error}", command="qmark digest")
    if outcome.state == FAILED:
        return EX_TEMPFAIL
    print(f"the digest for {outcome.day} was sent to {len(outcome.delivered)} recipient(s)")
    return EX_OK


def run_send(args: argparse.Namespace) -> int:
    """``qmark digest send``."""
    return send_command(ready(args))
