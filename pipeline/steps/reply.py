"""The reply step: tie a reply to its escalation, check who sent it, and apply what it says.

:func:`handle_reply` matches a reply by token, threading or subject tag, checks
the sender takes part in the escalation and is authenticated like an executive
(DESIGN §6), then — in one transaction holding the escalation's row — lets
:func:`pipeline.decide.answer.answer` decide the transition and commits it with
:func:`pipeline.steps.transition.commit`: the new state, its events, the mails
(claimed by this worker, one per kind and recipient for this incoming message:
I3) and the message's outcome. Forged tokens, strangers and unauthenticated
senders are quarantined and change nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection

from pipeline import log
from pipeline.decide.action_reply import ACTION_COMMANDS
from pipeline.decide.answer import answer
from pipeline.decide.classify import Verdict
from pipeline.decide.context import Answer, Context, Reply
from pipeline.inbound import authres
from pipeline.inbound.commands import Command, parse_command
from pipeline.inbound.matching import ReplyMatch, Role, match_reply, role_of
from pipeline.inbound.quotes import latest_reply
from pipeline.model.escalation import Escalation, InvalidTransition
from pipeline.model.ids import ref
from pipeline.model.mail import Address, Envelope, InboundMail
from pipeline.steps.action_reply import answer_action_reply
from pipeline.steps.services import Services, finish, record_outcome
from pipeline.steps.transition import commit, context_for
from pipeline.store import escalations, outbox

logger = log.get(__name__)


def handle_reply(
    svc: Services, message_id: int, mail: InboundMail, envelope: Envelope
) -> list[outbox.ClaimedMail]:
    """Act on a reply to an escalation; returns the mails queued (already claimed) for sending."""
    match = match_for(svc, mail, envelope)
    if match.forged:
        finish(svc, message_id, Verdict.QUARANTINE, f"{match.reason}; nothing changed")
        return []
    if match.number is None:
        finish(svc, message_id, Verdict.IGNORE, "looks like a reply, but no escalation matches it")
        return []
    sender = mail.from_.email if mail.from_ else ""
    unauthenticated = _unauthenticated(svc, mail, sender, match.number)
    if unauthenticated:
        finish(svc, message_id, Verdict.QUARANTINE, unauthenticated, escalation_id=None)
        return []
    words = latest_reply(mail.text)
    with log.bound(escalation_id=ref(match.number)), svc.db.transaction() as conn:
        return _answer(svc, conn, message_id, mail, match, match.number, sender, words)


def _unauthenticated(svc: Services, mail: InboundMail, sender: str, number: int) -> str:
    """Why the sender is not trusted (DMARC or aligned DKIM did not pass), or "" when they are."""
    if not svc.policy.require_dmarc:
        return ""
    check = authres.verify_sender(
        mail.header_all("authentication-results"), sender, svc.policy.trusted_authserv_ids
    )
    if check.authenticated:
        return ""
    return f"possible spoof: reply to {ref(number)} from {sender or '(no From)'} but {check.reason}"


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
    role = role_in(svc, loaded.escalation, sender, match)
    command = parse_command(words)
    if isinstance(command, Command) and command.name in ACTION_COMMANDS:
        writer = Address(sender, mail.from_.name if mail.from_ else "")
        participant = role is not Role.STRANGER
        return answer_action_reply(
            svc, conn, message_id, mail, loaded, command, sender=writer, participant=participant, match=match
        )
    if role is Role.STRANGER:
        who = sender or "(no From)"
        reason = f"{who} takes no part in {ref(number)} (matched by {match.reason}); nothing changed"
        record_outcome(conn, svc, message_id, Verdict.QUARANTINE, reason, escalation_id=number)
        logger.warning("reply_quarantined", reason=reason)
        return []
    reply = Reply(
        sender=Address(sender, mail.from_.name if mail.from_ else ""), role=role, body=mail.text, words=words
    )
    escalation, outcome = _decide(conn, loaded, reply, context_for(svc, conn, loaded, now, answering=mail))
    claimed = commit(
        svc, conn, escalation, outcome.mails, now=now, step=f"m{message_id}", owner_name=outcome.owner_name
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


def _decide(
    conn: Connection, loaded: escalations.Loaded, reply: Reply, ctx: Context
) -> tuple[Escalation, Answer]:
    """The decision on the loaded escalation; a transition refused by a race is recorded, nothing else."""
    try:
        return loaded.escalation, answer(loaded.escalation, reply, ctx)
    except InvalidTransition as error:  # a race the checks did not foresee: record, change nothing
        fresh = escalations.load(conn, number=ctx.thread.number)
        assert fresh is not None
        fresh.escalation.record("reply_not_applied", ctx.now, reply.sender.email, error=str(error))
        return fresh.escalation, Answer(f"nothing changed: {error}")


def role_in(svc: Services, escalation: Escalation, sender: str, match: ReplyMatch) -> Role:
    ladder = [person.email for person in svc.rules.ladder(escalation.owner)]
    return role_of(
        sender,
        executive=escalation.executive,
        owner=escalation.owner,
        ladder=ladder,
        token_sender=match.token_sender,
    )


def match_for(svc: Services, mail: InboundMail, envelope: Envelope) -> ReplyMatch:
    return match_reply(
        mail,
        envelope,
        reply_local=svc.identity.reply_local,
        domain=svc.identity.domain,
        secrets=svc.identity.verifying_secrets,
    )
