"""The steps of the flow, each one transaction: process a stored message, deliver a queued mail.

This is the service layer the actors call. A step claims its input row, does
its work, and commits its result together with the next step's rows (the
transactional outbox); it returns the ids the caller should enqueue next.
Every step is safe to run twice: a second run finds nothing to claim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline import log
from pipeline.classify import Disposition, Policy, Verdict, classify
from pipeline.deadlines import deadline_after
from pipeline.escalation import Escalation, ref
from pipeline.mail import Address, InboundMail, Original
from pipeline.outbound import EscalationFacts, Identity, render_executive_ack, render_owner_forward
from pipeline.parse import ParseLimits, Unparseable, parse_mail
from pipeline.store import escalations, messages, outbox
from pipeline.store.db import Database
from pipeline.transport import DeliveryError, Transport
from rules.routing import Complaint, choose_route
from rules.schema import Rules

logger = log.get(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Everything the steps need, wired once at start-up."""

    db: Database
    rules: Rules
    policy: Policy
    identity: Identity
    limits: ParseLimits
    max_attempts: int
    lease: timedelta = timedelta(minutes=2)
    clock: Callable[[], datetime] = utcnow


def process_message(svc: Services, message_id: int) -> list[int]:
    """Parse, classify and act on stored message ``message_id``; returns mail ids to send."""
    now = svc.clock()
    with svc.db.transaction() as session:
        claimed = messages.claim(session, message_id=message_id, now=now, lease=svc.lease)
    if claimed is None:
        return []
    with log.bound(message_id=message_id):
        if claimed.attempts > svc.max_attempts:
            reason = f"processing failed {claimed.attempts - 1} times; last error: {claimed.last_error}"
            _finish(svc, message_id, Verdict.QUARANTINE, reason)
            return []
        try:
            return _process(svc, claimed)
        except BaseException as error:  # also dramatiq's time limit, so the error is on record
            with svc.db.transaction() as session:
                messages.release(session, message_id=message_id, error=f"{type(error).__name__}: {error}")
            raise


def _process(svc: Services, claimed: messages.Claimed) -> list[int]:
    try:
        mail = parse_mail(claimed.raw, svc.limits)
    except Unparseable as error:
        _finish(svc, claimed.id, Verdict.QUARANTINE, f"unparseable: {error.reason}")
        return []
    disposition = classify(mail, claimed.envelope, svc.rules, svc.policy)
    if disposition.verdict is not Verdict.ESCALATE:
        _finish(svc, claimed.id, disposition.verdict, "; ".join(disposition.reasons))
        return []
    return _open_escalation(svc, claimed.id, mail, disposition)


def _finish(svc: Services, message_id: int, verdict: Verdict, reason: str) -> None:
    with svc.db.transaction() as session:
        messages.finish(session, message_id=message_id, outcome=verdict.value, reason=reason, now=svc.clock())
    level = "warning" if verdict is Verdict.QUARANTINE else "info"
    getattr(logger, level)("message_processed", outcome=verdict.value, reason=reason)


def dedupe_key(mail: InboundMail, message_id: int) -> str:
    """One escalation per executive mail: its Message-ID, else the stored message itself."""
    if mail.message_id:
        return f"mid:{mail.from_.email if mail.from_ else ''}:{mail.message_id}"[:1000]
    return f"msg:{message_id}"


def _open_escalation(
    svc: Services, message_id: int, mail: InboundMail, disposition: Disposition
) -> list[int]:
    assert mail.forwarded is not None and mail.from_ is not None
    original: Original = mail.forwarded
    executive = svc.rules.executives[mail.from_.email]
    customer = original.sender.email if original.sender else ""
    decision = choose_route(
        svc.rules, Complaint(original.subject, original.body, customer), addressed=disposition.addressed
    )
    owner = decision.owner
    now = svc.clock()
    deadline = deadline_after(
        now, decision.deadline, timezone=owner.timezone, working_hours=owner.working_hours
    )
    escalation = Escalation.open(
        executive=executive.email,
        owner=owner.email,
        deadline=deadline,
        now=now,
        route=decision.route,
        reasons=decision.reasons,
        comment=disposition.comment,
    )
    key = dedupe_key(mail, message_id)
    with svc.db.transaction() as session:
        existing = escalations.get_by_dedupe_key(session, dedupe_key=key)
        if existing is not None:
            reason = f"duplicate of the mail that opened {ref(existing)}"
            messages.finish(
                session,
                message_id=message_id,
                outcome="duplicate",
                reason=reason,
                now=now,
                escalation_id=existing,
            )
            logger.info("message_processed", outcome="duplicate", escalation_id=ref(existing))
            return []
        number = escalations.add(
            session,
            escalation=escalation,
            facts=escalations.NewEscalation(
                executive_name=executive.name,
                owner_name=owner.name,
                route=decision.route,
                subject=original.subject,
                customer=customer,
                executive_note=mail.note,
                source_message_id=message_id,
                dedupe_key=key,
            ),
        )
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
        mail_ids = []
        for outgoing in rendered:
            mail_ids.append(outbox.add(session, escalation_id=number, mail=outgoing, now=now))
            escalation.record("mail_queued", now, "qmark", mail=outgoing.kind, to=outgoing.recipient)
        escalations.save_events(session, escalation_id=number, events=escalation.new_events)
        messages.finish(
            session,
            message_id=message_id,
            outcome=Verdict.ESCALATE.value,
            reason=f"opened {ref(number)} for {owner.email} via route {decision.route}",
            now=now,
            escalation_id=number,
        )
    logger.info(
        "escalation_opened",
        escalation_id=ref(number),
        owner=owner.email,
        route=decision.route,
        deadline=deadline.isoformat(),
    )
    return mail_ids


def deliver_mail(svc: Services, transport: Transport, mail_id: int) -> None:
    """Send queued mail ``mail_id`` once; temporary failures raise so the job retries."""
    now = svc.clock()
    with svc.db.transaction() as session:
        claimed = outbox.claim(session, mail_id=mail_id, now=now, lease=svc.lease)
    if claimed is None:
        return
    mail, escalation_id, attempts = claimed
    with log.bound(escalation_id=ref(escalation_id), mail_id=mail_id):
        if attempts > svc.max_attempts:
            _give_up(svc, mail_id, escalation_id, mail.kind, mail.recipient, "out of attempts")
            return
        try:
            transport.send(mail)
        except DeliveryError as error:
            if error.permanent:
                _give_up(svc, mail_id, escalation_id, mail.kind, mail.recipient, str(error))
                return
            with svc.db.transaction() as session:
                outbox.release(session, mail_id=mail_id, error=str(error))
            logger.warning("mail_deferred", kind=mail.kind, error=str(error), attempt=attempts)
            raise
        except Exception as error:
            with svc.db.transaction() as session:
                outbox.release(session, mail_id=mail_id, error=f"{type(error).__name__}: {error}")
            raise
        done = svc.clock()
        with svc.db.transaction() as session:
            outbox.mark_sent(session, mail_id=mail_id, now=done)
            escalations.add_event(
                session,
                escalation_id=escalation_id,
                kind="mail_sent",
                at=done,
                actor="qmark",
                mail=mail.kind,
                to=mail.recipient,
                message_id=mail.message_id,
            )
        logger.info("mail_sent", kind=mail.kind)


def _give_up(svc: Services, mail_id: int, escalation_id: int, kind: str, recipient: str, error: str) -> None:
    now = svc.clock()
    with svc.db.transaction() as session:
        outbox.mark_dead(session, mail_id=mail_id, error=error)
        escalations.add_event(
            session,
            escalation_id=escalation_id,
            kind="delivery_failed",
            at=now,
            actor="qmark",
            mail=kind,
            to=recipient,
            error=error,
        )
    logger.error("mail_delivery_failed", kind=kind, error=error)
