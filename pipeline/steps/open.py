"""The opening step: an executive's "?" becomes an escalation, the owner's forward and the acknowledgement.

One escalation per executive mail (:func:`dedupe_key`): a second copy of the same
mail is recorded as a duplicate. The route, the number and the rendered mails are
worked out before the write transaction, which then holds only the inserts: the
escalation, its events, its mails (claimed by this worker, which sends them at
once) and the message's outcome. Before it, :mod:`pipeline.steps.related` looks up
the earlier escalations the complaint repeats ("Seen before" in both mails); when
one's fix did not hold, its event and its owner's mail go in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from pipeline import log
from pipeline.decide.classify import Disposition, Verdict
from pipeline.model.deadlines import deadline_for
from pipeline.model.escalation import Escalation
from pipeline.model.ids import ref
from pipeline.model.mail import Address, InboundMail, Original, OutgoingMail
from pipeline.model.related import SeenBefore, domain_of
from pipeline.outbound.opening import EscalationFacts, render_executive_ack, render_owner_forward
from pipeline.steps import related
from pipeline.steps.services import Services
from pipeline.steps.transition import stage
from pipeline.store import escalations, messages, outbox
from rules.routing import Complaint, RouteDecision, choose_route

logger = log.get(__name__)


@dataclass(frozen=True)
class _Opening:
    """An escalation about to be opened: the domain object, its number, its row and its mails."""

    number: int
    escalation: Escalation
    row: escalations.NewEscalation
    mails: list[OutgoingMail]
    fix_mail: OutgoingMail | None = None  # to the owner of the escalation whose fix did not hold


def dedupe_key(mail: InboundMail, message_id: int) -> str:
    """One escalation per executive mail: its Message-ID, else the stored message itself."""
    if mail.message_id:
        return f"mid:{mail.from_.email if mail.from_ else ''}:{mail.message_id}"[:1000]
    return f"msg:{message_id}"


def open_escalation(
    svc: Services, message_id: int, mail: InboundMail, disposition: Disposition
) -> list[outbox.ClaimedMail]:
    """Route, reserve a number, render the mails, then commit everything in one short transaction.

    Rendering happens outside the write transaction (it is the costly part), so
    the database's write lock is held only for the inserts.
    """
    key = dedupe_key(mail, message_id)
    with svc.db.read() as session:
        existing = escalations.get_by_dedupe_key(session, dedupe_key=key)
    if existing is not None:
        return _duplicate(svc, message_id, existing)
    opening = _prepare(svc, message_id, mail, disposition, key)
    reason = f"opened {ref(opening.number)} for {opening.escalation.owner} via route {opening.row.route}"
    try:
        claimed = _insert(svc, message_id, opening, reason)
    except IntegrityError:
        # Another copy of the same mail won the race for the dedupe key.
        with svc.db.read() as session:
            existing = escalations.get_by_dedupe_key(session, dedupe_key=key)
        if existing is None:
            raise
        return _duplicate(svc, message_id, existing)
    logger.info(
        "escalation_opened",
        escalation_id=ref(opening.number),
        owner=opening.escalation.owner,
        route=opening.row.route,
        deadline=opening.escalation.deadline.isoformat(),
    )
    return claimed


def _prepare(
    svc: Services, message_id: int, mail: InboundMail, disposition: Disposition, key: str
) -> _Opening:
    """Everything the opening writes, worked out before the write transaction."""
    assert mail.forwarded is not None and mail.from_ is not None
    original: Original = mail.forwarded
    executive = svc.rules.executives[mail.from_.email]
    customer = original.sender.email if original.sender else ""
    decision = choose_route(
        svc.rules, Complaint(original.subject, original.body, customer), addressed=disposition.addressed
    )
    now = svc.clock()
    deadline = deadline_for(decision.owner, now, decision.deadline, service_timezone=svc.timezone)
    escalation = Escalation.open(
        executive=executive.email,
        owner=decision.owner.email,
        deadline=deadline,
        now=now,
        route=decision.route,
        reasons=decision.reasons,
        comment=disposition.comment,
        business=decision.deadline.is_business,
    )
    lookup = related.look_up(svc, customer=customer, route=decision.route, complaint=original, now=now)
    _record_lookup(escalation, lookup, now)
    with svc.db.statement() as conn:
        number = escalations.reserve_number(conn)
    facts = _facts(svc, number, mail, decision, escalation, lookup.seen())
    mails = [render_owner_forward(facts, svc.identity)]
    if svc.rules.defaults.acknowledge_executive:
        mails.append(render_executive_ack(facts, svc.identity))
    stage(svc, escalation, mails, now)
    row = escalations.NewEscalation(
        executive_name=executive.name,
        owner_name=decision.owner.name,
        route=decision.route,
        subject=original.subject,
        customer=customer,
        executive_note=mail.note,
        source_message_id=message_id,
        dedupe_key=key,
        customer_domain=domain_of(customer),
        complaint_key=lookup.probe.complaint_key,
        recurred_after=lookup.related.recurred_after,
    )
    fix_mail = related.fix_mail(
        svc, lookup, number=number, owner=facts.owner, customer=customer, subject=original.subject
    )
    return _Opening(number, escalation, row, mails, fix_mail)


def _record_lookup(escalation: Escalation, lookup: related.Lookup, now: datetime) -> None:
    """The matches, and the fix that did not hold, on the new escalation's audit trail."""
    found = lookup.related
    if found.matches:
        shown = [{"id": ref(match.number), "why": match.why} for match in found.matches]
        escalation.record("seen_before", now, "qmark", related=shown)
    if found.recurred_after is not None:
        escalation.record("recurred_after_fix", now, "qmark", earlier=ref(found.recurred_after))


def _facts(
    svc: Services,
    number: int,
    mail: InboundMail,
    decision: RouteDecision,
    escalation: Escalation,
    seen: tuple[SeenBefore, ...],
) -> EscalationFacts:
    """What the two opening mails say."""
    assert mail.forwarded is not None and mail.from_ is not None
    executive = svc.rules.executives[mail.from_.email]
    owner = decision.owner
    return EscalationFacts(
        ref=ref(number),
        number=number,
        executive=Address(executive.email, executive.name),
        owner=Address(owner.email, owner.name),
        owner_timezone=owner.timezone,
        deadline=escalation.deadline,
        opened_at=escalation.opened_at,
        executive_note=mail.note.strip() or "?",
        complaint=mail.forwarded,
        route=decision.route,
        route_reasons=decision.reasons,
        rca_sections=tuple(section.title for section in svc.rules.rca.sections),
        seen_before=seen,
    )


def _insert(svc: Services, message_id: int, opening: _Opening, reason: str) -> list[outbox.ClaimedMail]:
    """The one write transaction: the escalation, its mails (claimed for this worker), the outcome."""
    now = opening.escalation.opened_at
    with svc.db.transaction() as session:
        escalations.add(session, number=opening.number, escalation=opening.escalation, facts=opening.row)
        claimed = outbox.add_claimed(
            session, escalation_id=opening.number, mails=opening.mails, now=now, lease=svc.lease
        )
        earlier = opening.row.recurred_after
        if earlier is not None and opening.fix_mail is not None:
            claimed += related.record_on_earlier(
                svc, session, earlier=earlier, later=opening.number, mail=opening.fix_mail, now=now
            )
        messages.finish(
            session,
            message_id=message_id,
            outcome=Verdict.ESCALATE.value,
            reason=reason,
            now=now,
            escalation_id=opening.number,
        )
    return claimed


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
