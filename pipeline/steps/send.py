"""The send step: hand queued mails to the relay and record every outcome in one transaction.

A mail is sent by the worker that claimed it: right after the step that queued
it (:func:`send_claimed`), or by a ``send`` job (:func:`deliver_mails`) when the
relay deferred it or nobody held it. A permanent refusal marks the mail dead and
records it on the escalation; a temporary one gives it back for a later job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pipeline import log
from pipeline.model.escalation import Event
from pipeline.model.ids import ref
from pipeline.outbound.delivery import DeliveryError, Transport
from pipeline.steps.services import Services
from pipeline.store import escalations, outbox

logger = log.get(__name__)


def deliver_mails(svc: Services, transport: Transport, mail_ids: Sequence[int]) -> None:
    """Claim and send queued mails (the send job); temporary failures raise so the job retries.

    Mails already sent, or held by another worker's live lease, are skipped.
    """
    with svc.db.statement() as conn:  # one UPDATE ... RETURNING
        claimed = outbox.claim_many(conn, mail_ids=mail_ids, now=svc.clock(), lease=svc.lease)
    deferred = send_claimed(svc, transport, claimed)
    if deferred:
        raise DeliveryError(f"{len(deferred)} mail(s) deferred; the job will retry", permanent=False)


def send_claimed(svc: Services, transport: Transport, claimed: Sequence[outbox.ClaimedMail]) -> list[int]:
    """Send mails this worker holds, record every outcome in one transaction; returns deferred ids.

    A permanent refusal marks the mail dead and records it on the escalation; a
    temporary one gives the mail back (pending) for a later send job.
    """
    outcomes = _Outcomes()
    try:
        for item in claimed:
            _send_one(svc, transport, item, outcomes)
    except BaseException as error:  # a bug or the time limit: give back what was not settled
        settled = outcomes.settled()
        why = f"{type(error).__name__}: {error}"
        outcomes.retry += [(item, why) for item in claimed if item.id not in settled]
        _settle(svc, outcomes)
        raise
    _settle(svc, outcomes)
    return [item.id for item, _ in outcomes.retry]


@dataclass
class _Outcomes:
    """What became of each mail of one send: sent (and when), refused for good, or deferred (and why)."""

    sent: list[tuple[outbox.ClaimedMail, datetime]] = field(default_factory=list)
    dead: list[tuple[outbox.ClaimedMail, str]] = field(default_factory=list)
    retry: list[tuple[outbox.ClaimedMail, str]] = field(default_factory=list)

    def settled(self) -> set[int]:
        return {item.id for item, _ in (*self.sent, *self.dead, *self.retry)}

    def events(self, now: datetime) -> list[tuple[int, Event]]:
        """``mail_sent`` and ``delivery_failed`` for the escalations' histories."""
        found = [
            (
                item.escalation_id,
                Event("mail_sent", at, "qmark", _detail(item, message_id=item.mail.message_id)),
            )
            for item, at in self.sent
        ]
        return found + [
            (item.escalation_id, Event("delivery_failed", now, "qmark", _detail(item, error=error)))
            for item, error in self.dead
        ]

    def log(self) -> None:
        for item, _ in self.sent:
            _log_mail(logger.info, "mail_sent", item)
        for item, error in self.dead:
            _log_mail(logger.error, "mail_delivery_failed", item, error=error)
        for item, error in self.retry:
            _log_mail(logger.warning, "mail_deferred", item, error=error, attempt=item.attempts)


def _send_one(svc: Services, transport: Transport, item: outbox.ClaimedMail, outcomes: _Outcomes) -> None:
    if item.attempts > svc.max_send_attempts:
        outcomes.dead.append(
            (item, f"gave up after {item.attempts - 1} attempts; last error: {item.last_error}")
        )
        return
    try:
        transport.send(item.mail)
    except DeliveryError as error:
        (outcomes.dead if error.permanent else outcomes.retry).append((item, str(error)))
    else:
        outcomes.sent.append((item, svc.clock()))


def _settle(svc: Services, outcomes: _Outcomes) -> None:
    """Record every outcome of one send job in one transaction, then log them."""
    if not outcomes.settled():
        return
    now = svc.clock()
    with svc.db.transaction() as conn:
        outbox.mark_sent(conn, mail_ids=[item.id for item, _ in outcomes.sent], now=now)
        for item, error in outcomes.dead:
            outbox.mark_dead(conn, mail_id=item.id, error=error)
        for item, error in outcomes.retry:
            outbox.release(conn, mail_id=item.id, error=error)
        escalations.append_events(conn, events=outcomes.events(now))
    outcomes.log()


def _log_mail(emit: Callable[..., None], event: str, item: outbox.ClaimedMail, **extra: object) -> None:
    emit(event, escalation_id=ref(item.escalation_id), mail_id=item.id, kind=item.mail.kind, **extra)


def _detail(item: outbox.ClaimedMail, **extra: str) -> dict[str, str]:
    return {"mail": item.mail.kind, "to": item.mail.recipient, **extra}
