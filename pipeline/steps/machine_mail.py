"""Machine mail about an escalation: note the owner's out-of-office or a bounce of qmark's mail.

:func:`record_machine_mail` ties a bounce (by the Message-IDs it names, else by
the token it was sent to) or an auto-reply to its escalation and records it: a
bounced mail is marked ``bounced`` and ops hear of it at error level; an
auto-reply is an ``out_of_office`` (from the owner) or ``auto_reply`` event.
Machine mail is never answered and never changes an escalation's state (I4).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from pipeline import log
from pipeline.decide.classify import Disposition, Verdict
from pipeline.inbound import bounces
from pipeline.inbound.matching import ReplyMatch, Role
from pipeline.model.escalation import Escalation, Event
from pipeline.model.ids import ref
from pipeline.model.mail import Envelope, InboundMail
from pipeline.model.tokens import check_token_with_keys, token_from_address
from pipeline.steps.reply import match_for, role_in
from pipeline.steps.services import Services, record_outcome
from pipeline.store import escalations, outbox

logger = log.get(__name__)


@dataclass(frozen=True)
class _Machine:
    """One piece of machine mail as the step sees it: what it is and what it names."""

    mail: InboundMail
    envelope: Envelope
    match: ReplyMatch
    kind: str  # "bounce", "auto_reply", "delay" or "other" (pipeline.inbound.bounces)
    reason: str
    sender: str
    named: tuple[str, ...]  # qmark's own Message-IDs it names


def _read(
    svc: Services, mail: InboundMail, envelope: Envelope, raw: bytes, disposition: Disposition
) -> _Machine:
    return _Machine(
        mail=mail,
        envelope=envelope,
        match=match_for(svc, mail, envelope),
        kind=bounces.machine_kind(mail, envelope, raw=raw),
        reason="; ".join(disposition.reasons),
        sender=(mail.from_.email if mail.from_ else envelope.mail_from) or "(mailer)",
        named=bounces.qmark_message_ids(raw, domain=svc.identity.domain),
    )


Events = list[tuple[str, dict[str, str]]]


def record_machine_mail(
    svc: Services,
    message_id: int,
    mail: InboundMail,
    envelope: Envelope,
    raw: bytes,
    disposition: Disposition,
) -> None:
    """Note machine mail on the escalation it concerns (never answered, no state change)."""
    machine = _read(svc, mail, envelope, raw, disposition)
    now = svc.clock()
    with svc.db.transaction() as conn:
        mails = outbox.find_by_message_ids(conn, message_ids=machine.named) if machine.named else []
        number = mails[0][1] if mails else machine.match.number
        loaded = escalations.load(conn, number=number) if number is not None else None
        if loaded is None:
            record_outcome(conn, svc, message_id, Verdict.MACHINE, machine.reason, escalation_id=None)
            return
        assert number is not None
        if machine.kind == "bounce":
            events, note = _bounce(svc, conn, number, machine, mails)
        elif machine.kind == "auto_reply":
            events, note = _auto_reply(svc, loaded.escalation, machine)
        else:
            events, note = [("machine_mail", {"reason": machine.reason[:500]})], "machine mail, recorded"
        escalations.append_events(
            conn, events=[(number, Event(name, now, machine.sender, dict(detail))) for name, detail in events]
        )
        outcome = f"{machine.reason}; {ref(number)}: {note}, not answered"
        record_outcome(conn, svc, message_id, Verdict.MACHINE, outcome, escalation_id=number)


def _bounce(
    svc: Services, conn: Connection, number: int, machine: _Machine, mails: list[tuple[int, int, str, str]]
) -> tuple[Events, str]:
    """Mark the bounced mails (those the bounce names, else the one its token was sent to) as bounced."""
    if not mails and machine.match.via == "token":
        mails = _mail_for_token(svc, conn, number, machine.mail, machine.envelope)
    reason = machine.reason[:500]
    events: Events = []
    for mail_id, _, mail_kind, recipient in mails:
        outbox.mark_bounced(conn, mail_id=mail_id, reason=machine.reason)
        events.append(("delivery_bounced", {"mail": mail_kind, "to": recipient, "reason": reason}))
    if not mails:
        events.append(("delivery_bounced", {"mail": "unknown", "to": "unknown", "reason": reason}))
    for _, detail in events:  # ops must hear of it: an escalation must not sit undelivered
        logger.error("mail_bounced", escalation_id=ref(number), kind=detail["mail"], to=detail["to"])
    return events, "a bounce: the delivery is marked failed"


def _auto_reply(svc: Services, escalation: Escalation, machine: _Machine) -> tuple[Events, str]:
    """The owner's out-of-office, or someone else's auto-reply."""
    role = role_in(svc, escalation, machine.sender, machine.match)
    event = "out_of_office" if role is Role.OWNER else "auto_reply"
    events: Events = [(event, {"subject": machine.mail.subject[:200], "role": role.value})]
    return events, f"an auto-reply ({event.replace('_', ' ')}), recorded"


def _mail_for_token(
    svc: Services, conn: Connection, number: int, mail: InboundMail, envelope: Envelope
) -> list[tuple[int, int, str, str]]:
    """The newest mail of the escalation whose recipient the bounce's token was issued to."""
    tokens = [
        token
        for address in (*envelope.rcpt_tos, *(a.email for a in mail.to))
        if (token := token_from_address(address, local=svc.identity.reply_local, domain=svc.identity.domain))
    ]
    for mail_id, kind, recipient, state in reversed(outbox.list_for_escalation(conn, escalation_id=number)):
        if state in {"sent", "sending", "pending"} and any(
            check_token_with_keys(svc.identity.verifying_secrets, token, recipient).recipient_ok
            for token in tokens
        ):
            return [(mail_id, number, kind, recipient)]
    return []
