"""The steps of the flow, each one transaction: process a stored message, deliver a queued mail.

This is the service layer the actors call. A step claims its input row, does
its work, and commits its result together with the next step's rows (the
transactional outbox); it returns the ids the caller should enqueue next.
Every step is safe to run twice: a second run finds nothing to claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from pipeline import log
from pipeline.decide import chase
from pipeline.decide.classify import Disposition, Verdict, classify
from pipeline.inbound.limits import Unparseable
from pipeline.inbound.parse import parse_mail
from pipeline.model.escalation import Escalation, Event
from pipeline.model.ids import ref
from pipeline.model.mail import Address, InboundMail, Original
from pipeline.model.worktime import deadline_for
from pipeline.outbound.opening import EscalationFacts, render_executive_ack, render_owner_forward
from pipeline.outbound.transport import DeliveryError, Transport
from pipeline.steps.reply import handle_reply, record_machine_mail
from pipeline.steps.services import Services, finish
from pipeline.store import escalations, messages, outbox
from rules.routing import Complaint, choose_route

logger = log.get(__name__)


def process_message(svc: Services, message_id: int) -> list[outbox.ClaimedMail]:
    """Parse, classify and act on stored message ``message_id``; see :func:`process_messages`."""
    return [mail for mails in process_messages(svc, [message_id]) for mail in mails]


def process_messages(svc: Services, message_ids: Sequence[int]) -> Iterator[list[outbox.ClaimedMail]]:
    """Claim the messages in one transaction, then parse, classify and act on each in turn.

    Yields, per message, the mails it queued, already claimed for this worker: the
    caller sends them at once with :func:`send_claimed` (no second job, no second
    claim) before the next message is processed. A message that fails does not
    hold up the others; the first failure is raised at the end, so the job is
    retried and the messages already done are skipped by their claim.
    """
    with svc.db.transaction() as conn:
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
    return _open_escalation(svc, claimed.id, mail, disposition)


def dedupe_key(mail: InboundMail, message_id: int) -> str:
    """One escalation per executive mail: its Message-ID, else the stored message itself."""
    if mail.message_id:
        return f"mid:{mail.from_.email if mail.from_ else ''}:{mail.message_id}"[:1000]
    return f"msg:{message_id}"


def _open_escalation(
    svc: Services, message_id: int, mail: InboundMail, disposition: Disposition
) -> list[outbox.ClaimedMail]:
    """Route, reserve a number, render the mails, then commit everything in one short transaction.

    Rendering happens outside the write transaction (it is the costly part), so
    the database's write lock is held only for the inserts.
    """
    assert mail.forwarded is not None and mail.from_ is not None
    original: Original = mail.forwarded
    key = dedupe_key(mail, message_id)
    with svc.db.read() as session:
        existing = escalations.get_by_dedupe_key(session, dedupe_key=key)
    if existing is not None:
        return _duplicate(svc, message_id, existing)
    executive = svc.rules.executives[mail.from_.email]
    customer = original.sender.email if original.sender else ""
    decision = choose_route(
        svc.rules, Complaint(original.subject, original.body, customer), addressed=disposition.addressed
    )
    owner = decision.owner
    now = svc.clock()
    deadline = deadline_for(owner, now, decision.deadline, service_timezone=svc.timezone)
    escalation = Escalation.open(
        executive=executive.email,
        owner=owner.email,
        deadline=deadline,
        now=now,
        route=decision.route,
        reasons=decision.reasons,
        comment=disposition.comment,
        business=decision.deadline.is_business,
    )
    chase.reschedule(escalation, svc.rules, service_timezone=svc.timezone)
    with svc.db.transaction() as session:
        number = escalations.reserve_number(session)
    facts = EscalationFacts(
        ref=ref(number),
        number=number,
        executive=Address(executive.email, executive.name),
        owner=Address(owner.email, owner.name),
        owner_timezone=owner.timezone,
        deadline=deadline,
        opened_at=now,
        executive_note=mail.note.strip() or "?",
        complaint=original,
        route=decision.route,
        route_reasons=decision.reasons,
        rca_sections=tuple(section.title for section in svc.rules.rca.sections),
    )
    rendered = [render_owner_forward(facts, svc.identity)]
    if svc.rules.defaults.acknowledge_executive:
        rendered.append(render_executive_ack(facts, svc.identity))
    for outgoing in rendered:
        escalation.record("mail_queued", now, "qmark", mail=outgoing.kind, to=outgoing.recipient)
    new = escalations.NewEscalation(
        executive_name=executive.name,
        owner_name=owner.name,
        route=decision.route,
        subject=original.subject,
        customer=customer,
        executive_note=mail.note,
        source_message_id=message_id,
        dedupe_key=key,
    )
    reason = f"opened {ref(number)} for {owner.email} via route {decision.route}"
    try:
        with svc.db.transaction() as session:
            escalations.add(session, number=number, escalation=escalation, facts=new)
            claimed = outbox.add_claimed(
                session, escalation_id=number, mails=rendered, now=now, lease=svc.lease
            )
            messages.finish(
                session,
                message_id=message_id,
                outcome=Verdict.ESCALATE.value,
                reason=reason,
                now=now,
                escalation_id=number,
            )
    except IntegrityError:
        # Another copy of the same mail won the race for the dedupe key.
        with svc.db.read() as session:
            existing = escalations.get_by_dedupe_key(session, dedupe_key=key)
        if existing is None:
            raise
        return _duplicate(svc, message_id, existing)
    logger.info(
        "escalation_opened",
        escalation_id=ref(number),
        owner=owner.email,
        route=decision.route,
        deadline=deadline.isoformat(),
    )
    return claimed


def _mail_detail(item: outbox.ClaimedMail, **extra: str) -> dict[str, str]:
    return {"mail": item.mail.kind, "to": item.mail.recipient, **extra}


def _duplicate(svc: Services, message_id: int, existing: int) -> list[outbox.ClaimedMail]:
    reason = f"duplicate of the mail that opened {ref(existing)}"
    with svc.db.transaction() as session:
        messages.finish(
            session,
            message_id=message_id,
            outcome="duplicate",
            reason=reason,
            now=svc.clock(),
            escalation_id=existing,
        )
    logger.info("message_processed", outcome="duplicate", escalation_id=ref(existing))
    return []


def deliver_mails(svc: Services, transport: Transport, mail_ids: Sequence[int]) -> None:
    """Claim and send queued mails (the send job); temporary failures raise so the job retries.

    Mails already sent, or held by another worker's live lease, are skipped.
    """
    with svc.db.transaction() as session:
        claimed = outbox.claim_many(session, mail_ids=mail_ids, now=svc.clock(), lease=svc.lease)
    deferred = send_claimed(svc, transport, claimed)
    if deferred:
        raise DeliveryError(f"{len(deferred)} mail(s) deferred; the job will retry", permanent=False)


def send_claimed(svc: Services, transport: Transport, claimed: Sequence[outbox.ClaimedMail]) -> list[int]:
    """Send mails this worker holds, record every outcome in one transaction; returns deferred ids.

    A permanent refusal marks the mail dead and records it on the escalation; a
    temporary one gives the mail back (pending) for a later send job.
    """
    sent: list[tuple[outbox.ClaimedMail, datetime]] = []
    dead: list[tuple[outbox.ClaimedMail, str]] = []
    retry: list[tuple[outbox.ClaimedMail, str]] = []
    try:
        for item in claimed:
            if item.attempts > svc.max_send_attempts:
                dead.append(
                    (item, f"gave up after {item.attempts - 1} attempts; last error: {item.last_error}")
                )
                continue
            try:
                transport.send(item.mail)
            except DeliveryError as error:
                (dead if error.permanent else retry).append((item, str(error)))
            else:
                sent.append((item, svc.clock()))
    except BaseException as error:  # a bug or the time limit: give back what was not settled
        settled = {item.id for item, _ in (*sent, *dead, *retry)}
        retry += [(item, f"{type(error).__name__}: {error}") for item in claimed if item.id not in settled]
        _settle(svc, sent, dead, retry)
        raise
    _settle(svc, sent, dead, retry)
    return [item.id for item, _ in retry]


def _settle(
    svc: Services,
    sent: list[tuple[outbox.ClaimedMail, datetime]],
    dead: list[tuple[outbox.ClaimedMail, str]],
    retry: list[tuple[outbox.ClaimedMail, str]],
) -> None:
    """Record every outcome of one send job in one transaction."""
    if not (sent or dead or retry):
        return
    now = svc.clock()
    events = [
        (
            item.escalation_id,
            Event("mail_sent", at, "qmark", _mail_detail(item, message_id=item.mail.message_id)),
        )
        for item, at in sent
    ]
    events += [
        (item.escalation_id, Event("delivery_failed", now, "qmark", _mail_detail(item, error=error)))
        for item, error in dead
    ]
    with svc.db.transaction() as conn:
        outbox.mark_sent(conn, mail_ids=[item.id for item, _ in sent], now=now)
        for item, error in dead:
            outbox.mark_dead(conn, mail_id=item.id, error=error)
        for item, error in retry:
            outbox.release(conn, mail_id=item.id, error=error)
        escalations.append_events(conn, events=events)
    for item, _ in sent:
        _log_mail(logger.info, "mail_sent", item)
    for item, error in dead:
        _log_mail(logger.error, "mail_delivery_failed", item, error=error)
    for item, error in retry:
        _log_mail(logger.warning, "mail_deferred", item, error=error, attempt=item.attempts)


def _log_mail(emit: Callable[..., None], event: str, item: outbox.ClaimedMail, **extra: object) -> None:
    emit(event, escalation_id=ref(item.escalation_id), mail_id=item.id, kind=item.mail.kind, **extra)
