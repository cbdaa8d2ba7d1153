"""The reply step: tie a reply (or a bounce, an auto-reply) to its escalation and act on it.

:func:`handle_reply` matches a reply by token, threading or subject tag, checks
the sender takes part in the escalation and is authenticated like an executive
(DESIGN §6), then — in one transaction holding the escalation's row — lets
``pipeline.decide.answer`` apply the transition, and commits the new state, its
events, the mails (claimed by this worker, one per kind and recipient for this
incoming message: I3) and the message's outcome. Forged tokens, strangers and
unauthenticated senders are quarantined and change nothing.

:func:`record_machine_mail` notes machine mail about an escalation (the owner's
out-of-office, a bounce of a qmark mail) without answering it or changing its state (I4).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection

from pipeline import log
from pipeline.decide import chase
from pipeline.decide.answer import answer
from pipeline.decide.classify import Disposition, Verdict
from pipeline.decide.context import FEEDBACK_KINDS, Answer, Context, Reply
from pipeline.inbound import authres, bounces
from pipeline.inbound.matching import ReplyMatch, Role, match_reply, role_of
from pipeline.inbound.quotes import latest_reply
from pipeline.model.escalation import Escalation, Event, InvalidTransition
from pipeline.model.ids import ref
from pipeline.model.mail import Address, Envelope, InboundMail
from pipeline.model.tokens import check_token, token_from_address
from pipeline.steps import thread as threads
from pipeline.steps.services import Services, finish, record_outcome
from pipeline.steps.thread import thread_for
from pipeline.store import escalations, outbox

logger = log.get(__name__)


def handle_reply(
    svc: Services, message_id: int, mail: InboundMail, envelope: Envelope
) -> list[outbox.ClaimedMail]:
    """Act on a reply to an escalation; returns the mails queued (already claimed) for sending."""
    match = _match(svc, mail, envelope)
    if match.forged:
        finish(svc, message_id, Verdict.QUARANTINE, f"{match.reason}; nothing changed")
        return []
    if match.number is None:
        finish(svc, message_id, Verdict.IGNORE, "looks like a reply, but no escalation matches it")
        return []
    sender = mail.from_.email if mail.from_ else ""
    if svc.policy.require_dmarc:
        verdict = authres.verify_sender(
            mail.header_all("authentication-results"), sender, svc.policy.trusted_authserv_ids
        )
        if not verdict.authenticated:
            who = sender or "(no From)"
            reason = f"possible spoof: reply to {ref(match.number)} from {who} but {verdict.reason}"
            finish(svc, message_id, Verdict.QUARANTINE, reason, escalation_id=None)
            return []
    words = latest_reply(mail.text)
    with log.bound(escalation_id=ref(match.number)), svc.db.transaction() as conn:
        return _answer(svc, conn, message_id, mail, match, match.number, sender, words)


def _answer(
    svc: Services,
    conn: Connection,
    message_id: int,
    mail: InboundMail,
    match: ReplyMatch,
    number: int,
    sender: str,
    words: str,
) -> list[outbox.ClaimedMail]:
    now = svc.clock()
    loaded = escalations.load(conn, number=number)
    if loaded is None:
        record_outcome(
            conn, svc, message_id, Verdict.IGNORE, f"{ref(number)} does not exist", escalation_id=None
        )
        return []
    escalation, row = loaded.escalation, loaded.row
    role = _role(svc, escalation, sender, match)
    if role is Role.STRANGER:
        who = sender or "(no From)"
        reason = f"{who} takes no part in {ref(number)} (matched by {match.reason}); nothing changed"
        record_outcome(conn, svc, message_id, Verdict.QUARANTINE, reason, escalation_id=number)
        logger.warning("reply_quarantined", reason=reason)
        return []
    thread = thread_for(svc, escalation, row, mail)
    ctx = Context(
        rules=svc.rules,
        identity=svc.identity,
        now=now,
        thread=thread,
        route=row["route"],
        feedback_today=outbox.count_recent(
            conn, escalation_id=number, kinds=FEEDBACK_KINDS, since=now - timedelta(days=1)
        ),
        complaint=lambda: threads.complaint(svc, conn, row),
        service_timezone=svc.timezone,
    )
    reply = Reply(
        sender=Address(sender, mail.from_.name if mail.from_ else ""), role=role, body=mail.text, words=words
    )
    try:
        outcome = answer(escalation, reply, ctx)
    except InvalidTransition as error:  # a race the checks did not foresee: record, change nothing
        fresh = escalations.load(conn, number=number)
        assert fresh is not None
        escalation = fresh.escalation
        escalation.record("reply_not_applied", now, sender, error=str(error))
        outcome = Answer(f"nothing changed: {error}")
    for outgoing in outcome.mails:
        escalation.record("mail_queued", now, "qmark", mail=outgoing.kind, to=outgoing.recipient)
    chase.reschedule(escalation, svc.rules, service_timezone=svc.timezone)
    escalations.save(conn, escalation=escalation, owner_name=outcome.owner_name)
    claimed = outbox.add_claimed(
        conn, escalation_id=number, mails=outcome.mails, now=now, lease=svc.lease, step=f"m{message_id}"
    )
    reason = f"{ref(number)}: {outcome.reason} (from the {role.value}, matched by {match.reason})"
    record_outcome(conn, svc, message_id, Verdict.REPLY, reason, escalation_id=number)
    logger.info(
        "reply_processed",
        role=role.value,
        state=escalation.state.value,
        mails=[m.kind for m in outcome.mails],
    )
    return claimed


def record_machine_mail(
    svc: Services,
    message_id: int,
    mail: InboundMail,
    envelope: Envelope,
    raw: bytes,
    disposition: Disposition,
) -> None:
    """Note machine mail on the escalation it concerns (never answered, no state change)."""
    reason = "; ".join(disposition.reasons)
    named = bounces.qmark_message_ids(raw, domain=svc.identity.domain)
    match = _match(svc, mail, envelope)
    kind = bounces.machine_kind(mail, envelope, raw=raw)
    sender = (mail.from_.email if mail.from_ else envelope.mail_from) or "(mailer)"
    now = svc.clock()
    with svc.db.transaction() as conn:
        mails = outbox.find_by_message_ids(conn, message_ids=named) if named else []
        number = mails[0][1] if mails else match.number
        loaded = escalations.load(conn, number=number) if number is not None else None
        if number is None or loaded is None:
            record_outcome(conn, svc, message_id, Verdict.MACHINE, reason, escalation_id=None)
            return
        events: list[tuple[str, dict[str, str]]] = []
        if kind == "bounce":
            if not mails and match.via == "token":
                mails = _mail_for_token(svc, conn, number, mail, envelope)
            for mail_id, _, mail_kind, recipient in mails:
                outbox.mark_bounced(conn, mail_id=mail_id, reason=reason)
                events.append(
                    ("delivery_bounced", {"mail": mail_kind, "to": recipient, "reason": reason[:500]})
                )
            if not mails:
                events.append(
                    ("delivery_bounced", {"mail": "unknown", "to": "unknown", "reason": reason[:500]})
                )
            for _, detail in events:  # ops must hear of it: an escalation must not sit undelivered
                logger.error("mail_bounced", escalation_id=ref(number), kind=detail["mail"], to=detail["to"])
            note = "a bounce: the delivery is marked failed"
        elif kind == "auto_reply":
            role = _role(svc, loaded.escalation, sender, match)
            event = "out_of_office" if role is Role.OWNER else "auto_reply"
            events.append((event, {"subject": mail.subject[:200], "role": role.value}))
            note = f"an auto-reply ({event.replace('_', ' ')}), recorded"
        else:
            events.append(("machine_mail", {"reason": reason[:500]}))
            note = "machine mail, recorded"
        escalations.append_events(
            conn, events=[(number, Event(name, now, sender, dict(detail))) for name, detail in events]
        )
        outcome = f"{reason}; {ref(number)}: {note}, not answered"
        record_outcome(conn, svc, message_id, Verdict.MACHINE, outcome, escalation_id=number)


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
            check_token(svc.identity.secret, token, recipient).recipient_ok for token in tokens
        ):
            return [(mail_id, number, kind, recipient)]
    return []


def _role(svc: Services, escalation: Escalation, sender: str, match: ReplyMatch) -> Role:
    ladder = [person.email for person in svc.rules.ladder(escalation.owner)]
    return role_of(
        sender,
        executive=escalation.executive,
        owner=escalation.owner,
        ladder=ladder,
        token_sender=match.token_sender,
    )


def _match(svc: Services, mail: InboundMail, envelope: Envelope) -> ReplyMatch:
    return match_reply(
        mail,
        envelope,
        reply_local=svc.identity.reply_local,
        domain=svc.identity.domain,
        secret=svc.identity.secret,
    )
