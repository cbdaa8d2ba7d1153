"""The daily digest: when it is due, claiming the day once, and sending one mail per recipient.

Every scheduler tick calls :func:`tick`; ``qmark digest send`` (``workers/cli/digest.py``) calls
:func:`send_day` with ``retry``.
What it says is :mod:`pipeline.outbound.digest`'s; the statistics are :mod:`pipeline.store.stats`'.

Decisions:

* **When.** A day's digest (the day in ``[service] timezone``) is due once the local
  time is at or past ``[digest] time``. A scheduler that was down at that time sends
  it when it comes back, the same day.
* **Once per day.** The day is claimed by inserting its ``digests`` row; ``day`` is
  unique, so of two schedulers racing only one inserts and sends. The others see
  the row (or the unique-constraint error) and send nothing.
* **Failures.** Delivered to at least one recipient: ``sent``; the recipients it
  could not reach are in ``last_error`` and logged at error level. Delivered to
  nobody (relay down, every address refused): ``failed``, logged at error level.
  A tick never retries a day: a retry could repeat the mail to people who got it,
  and a relay that is down would be hit on every tick. ``qmark digest send``
  retries a ``failed`` day, or one left ``sending`` for over :data:`STALE` (its
  sender died); it never sends a ``sent`` day again.
* **Period.** Breaches and closures are those since the previous digest that went
  out (its claim time, at most :data:`LOOKBACK` ago), or the last 24 hours.
* **Statistics.** :func:`pipeline.store.stats.honest_stats` over 30 days. If they
  cannot be computed the digest still goes, saying so, and the error is logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.model.mail import Address
from pipeline.ops.digest import digest_data, overdue_actions
from pipeline.outbound import digest
from pipeline.store import digests
from pipeline.store.db import Database
from pipeline.store.models import DigestRow
from rules.schema import Rules
from rules.timezones import zone
from workers.bootstrap import App

logger = log.get(__name__)

STALE = timedelta(minutes=15)  # a day left "sending" this long was abandoned by its sender


@dataclass(frozen=True)
class DigestAttempt:
    """What became of one attempt at a day's digest. ``state`` is ``sent``, ``failed``, or for a
    day this attempt did not claim, that day's state as found (``sending`` or ``sent``)."""

    day: str
    state: str
    claimed: bool
    delivered: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    at: datetime | None = None  # for a day found taken: when it was claimed or sent


def recipients(settings: Settings, rules: Rules) -> tuple[Address, ...]:
    """``[digest] recipients``, then every executive when ``[digest] executives``; each address once."""
    found: dict[str, Address] = {}
    for email in settings.digest.recipients:
        found.setdefault(email.lower(), Address(email.lower()))
    if settings.digest.executives:
        for executive in rules.executives.values():
            found.setdefault(executive.email.lower(), Address(executive.email.lower(), executive.name))
    return tuple(found.values())


def local_day(settings: Settings, now: datetime) -> str:
    """``now``'s date in ``[service] timezone``, ``YYYY-MM-DD``."""
    return now.astimezone(zone(settings.service.timezone)).date().isoformat()


def due_day(settings: Settings, now: datetime | None = None) -> str | None:
    """The local day (``[service] timezone``) if its local time is at or past ``[digest] time``, else None."""
    now = now or datetime.now(UTC)
    local = now.astimezone(zone(settings.service.timezone))
    hours, minutes = (int(part) for part in settings.digest.time.split(":"))
    return local.date().isoformat() if (local.hour, local.minute) >= (hours, minutes) else None


def tick(app: App, now: datetime | None = None) -> bool:
    """Send today's digest if it is due, has recipients and no process has claimed the day; True when sent."""
    to = recipients(app.settings, app.services.rules)
    if not to:
        return False
    now = now or app.services.clock()
    day = due_day(app.settings, now)
    if day is None or _found(app.services.db, day) is not None:
        return False
    outcome = send_day(app, day, to, now=now)
    return outcome.claimed and outcome.state == digests.SENT


def send_day(
    app: App, day: str, to: Sequence[Address], *, now: datetime, retry: bool = False
) -> DigestAttempt:
    """Claim ``day`` and send its digest to ``to``; with ``retry`` also a failed or abandoned day."""
    db = app.services.db
    if not _claim(db, day, to, now, retry=retry):
        row = _found(db, day)
        state, at = (row.state, row.sent_at or row.claimed_at) if row is not None else (digests.SENDING, None)
        logger.info("digest_already_claimed", day=day, state=state)
        return DigestAttempt(day=day, state=state, claimed=False, at=at)
    delivered, errors = _deliver(app, day, to, now)
    state = digests.SENT if delivered else digests.FAILED
    _finish(db, day, state=state, now=now, error="; ".join(errors)[:2000] or None)
    if errors:
        event = "digest_failed" if state == digests.FAILED else "digest_not_delivered_to_some"
        logger.error(event, day=day, delivered=len(delivered), errors=errors[:20])
    else:
        logger.info("digest_sent", day=day, delivered=len(delivered))
    return DigestAttempt(day, state, True, tuple(delivered), tuple(errors), now)


def _deliver(app: App, day: str, to: Sequence[Address], now: datetime) -> tuple[list[str], list[str]]:
    """Build the digest and send it to each recipient: (addresses reached, errors in words)."""
    delivered: list[str] = []
    errors: list[str] = []
    try:
        facts, stats_lines = digest_data(
            app.services.db, day=day, now=now, sections=app.services.rules.rca.sections
        )
        late = overdue_actions(app.services.db, now=now)
        for recipient in to:
            try:
                mail = digest.render_digest(
                    facts,
                    stats_lines=stats_lines,
                    identity=app.services.identity,
                    recipient=recipient,
                    day=day,
                    timezone=app.settings.service.timezone,
                    actions=late,
                )
                app.transport().send(mail)
                delivered.append(recipient.email)
            except Exception as error:  # one refused address must not cost the others their digest
                errors.append(f"{recipient.email}: {_words(error)}")
    except Exception as error:  # collecting failed: nobody gets it; record why
        errors.append(f"digest not built: {_words(error)}")
    return delivered, errors


# --- the digests row -------------------------------------------------------------------------------


def _found(db: Database, day: str) -> DigestRow | None:
    with db.read() as session:
        return digests.get(session, day=day)


def _claim(db: Database, day: str, to: Sequence[Address], now: datetime, *, retry: bool) -> bool:
    """Insert ``day``'s row (the claim); with ``retry`` take over a failed or abandoned one instead."""
    emails = [a.email for a in to]
    with db.transaction() as conn:
        if digests.claim(conn, day=day, recipients=emails, now=now):
            return True
        return retry and digests.take_over(conn, day=day, recipients=emails, now=now, stale=STALE)


def _finish(db: Database, day: str, *, state: str, now: datetime, error: str | None) -> None:
    with db.transaction() as conn:
        digests.finish(conn, day=day, state=state, now=now, error=error)


def _words(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]
