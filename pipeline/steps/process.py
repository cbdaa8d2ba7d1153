"""The process step: parse, classify and act on stored messages, a few per job.

This is the service layer the actors call. A step claims its input rows, does
its work, and commits its result together with the next step's rows (the
transactional outbox); the mails it queues come back already claimed, for the
caller to send at once (:func:`pipeline.steps.send.send_claimed`). Every step is
safe to run twice: a second run finds nothing to claim.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pipeline import log
from pipeline.decide.classify import Verdict, classify
from pipeline.inbound.limits import Unparseable
from pipeline.inbound.parse import parse_mail
from pipeline.steps.machine_mail import record_machine_mail
from pipeline.steps.open import open_escalation
from pipeline.steps.reply import handle_reply
from pipeline.steps.services import Services, finish
from pipeline.store import messages, outbox

logger = log.get(__name__)


def process_message(svc: Services, message_id: int) -> list[outbox.ClaimedMail]:
    """Parse, classify and act on stored message ``message_id``; see :func:`process_messages`."""
    return [mail for mails in process_messages(svc, [message_id]) for mail in mails]


def process_messages(svc: Services, message_ids: Sequence[int]) -> Iterator[list[outbox.ClaimedMail]]:
    """Claim the messages in one transaction, then parse, classify and act on each in turn.

    Yields, per message, the mails it queued, already claimed for this worker: the
    caller sends them at once with :func:`~pipeline.steps.send.send_claimed` (no second job, no second
    claim) before the next message is processed. A message that fails does not
    hold up the others; the first failure is raised at the end, so the job is
    retried and the messages already done are skipped by their claim.
    """
    with svc.db.statement() as conn:  # one UPDATE ... RETURNING
        batch = messages.claim_many(conn, message_ids=message_ids, now=svc.clock(), lease=svc.lease)
    failure: Exception | None = None
    done = 0
    try:
        for claimed in batch:
            try:
                mails = _process_claimed(svc, claimed)
            except Exception as error:
                failure = failure or error
                mails = []
            done += 1
            yield mails
    finally:
        if done < len(batch):  # the caller stopped early: give the rest back at once
            with svc.db.transaction() as conn:
                for claimed in batch[done:]:
                    messages.release(conn, message_id=claimed.id, error="the job stopped before this message")
    if failure is not None:
        raise failure


def _process_claimed(svc: Services, claimed: messages.Claimed) -> list[outbox.ClaimedMail]:
    with log.bound(message_id=claimed.id):
        if claimed.attempts > svc.max_attempts:
            reason = f"processing failed {claimed.attempts - 1} times; last error: {claimed.last_error}"
            finish(svc, claimed.id, Verdict.QUARANTINE, reason)
            return []
        try:
            return _process(svc, claimed)
        except BaseException as error:  # also dramatiq's time limit, so the error is on record
            with svc.db.transaction() as conn:
                messages.release(conn, message_id=claimed.id, error=f"{type(error).__name__}: {error}")
            raise


def _process(svc: Services, claimed: messages.Claimed) -> list[outbox.ClaimedMail]:
    try:
        mail = parse_mail(claimed.raw, svc.limits)
    except Unparseable as error:
        finish(svc, claimed.id, Verdict.QUARANTINE, f"unparseable: {error.reason}")
        return []
    disposition = classify(mail, claimed.envelope, svc.rules, svc.policy)
    if disposition.verdict is Verdict.REPLY:
        return handle_reply(svc, claimed.id, mail, claimed.envelope)
    if disposition.verdict is Verdict.MACHINE and disposition.rule != "own_mail":
        record_machine_mail(svc, claimed.id, mail, claimed.envelope, claimed.raw, disposition)
        return []
    if disposition.verdict is not Verdict.ESCALATE:
        finish(svc, claimed.id, disposition.verdict, "; ".join(disposition.reasons))
        return []
    return open_escalation(svc, claimed.id, mail, disposition)
