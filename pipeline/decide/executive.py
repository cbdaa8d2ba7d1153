"""The executive's side of a reply: "?" reopens or sends back, an approval closes, words reach the owner.

"?" on a closed escalation reopens it with a new deadline; "?" on a writeup that
awaits approval sends it back to the owner; "approve", "ok" or "👍" closes one
that awaits approval; anything else on an open escalation is passed to the owner,
and on a closed one recorded without a mail.
"""

from __future__ import annotations

from pipeline.decide.closing import closing_mails
from pipeline.decide.context import Answer, Context, Reply, deadline_in, ref_of, route_deadline
from pipeline.inbound.acknowledgements import is_approval
from pipeline.inbound.question import split_question
from pipeline.model.escalation import Escalation, State
from pipeline.model.rootcause import render_sections
from pipeline.outbound import followups


def answer_executive(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    """Apply the executive's reply: a question, an approval, or words for the owner."""
    asked, _ = split_question(reply.words)
    if asked:  # in a reply, everything the executive wrote after the "?" is their note
        return _question(escalation, reply, ctx, reply.words.strip().lstrip("?？!¡ \t").strip())
    if is_approval(reply.words):
        return _approval(escalation, reply, ctx)
    return _words(escalation, reply, ctx, reply.words)


def _question(escalation: Escalation, reply: Reply, ctx: Context, note: str) -> Answer:
    """ "?" reopens a closed escalation, sends a writeup awaiting approval back, else asks the owner."""
    actor = reply.sender.email
    if escalation.state is State.CLOSED:
        deadline = deadline_in(ctx, escalation.owner, route_deadline(ctx))
        business = route_deadline(ctx).is_business
        escalation.reopen(now=ctx.now, actor=actor, note=note, deadline=deadline, business=business)
        mail = followups.render_reopened(ctx.thread, ctx.identity, note=note, deadline=deadline)
        return Answer("the executive's '?' reopened it; the owner is told", [mail])
    if escalation.state is State.AWAITING_APPROVAL:
        escalation.send_back(now=ctx.now, actor=actor, note=note)
        mail = followups.render_sent_back(ctx.thread, ctx.identity, note=note)
        return Answer("the executive sent the writeup back to the owner", [mail])
    return _words(escalation, reply, ctx, note)


def _approval(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    """ "ok" closes a writeup awaiting approval; on any other open escalation it is only recorded."""
    if escalation.state is State.AWAITING_APPROVAL:
        escalation.approve(now=ctx.now, actor=reply.sender.email, rca=ctx.rules.rca)
        writeup = render_sections(escalation.writeup, ctx.rules.rca)
        return Answer(
            "approved by the executive; closed", closing_mails(escalation, ctx, reply.sender, writeup)
        )
    if escalation.is_open:
        escalation.record("executive_note", ctx.now, reply.sender.email, words=reply.words[:2000])
        return Answer("the executive's acknowledgement, recorded")
    return _words(escalation, reply, ctx, reply.words)


def _words(escalation: Escalation, reply: Reply, ctx: Context, text: str) -> Answer:
    """The executive's words go to the owner; after the close they are recorded, nothing sent."""
    actor = reply.sender.email
    if not escalation.is_open:
        escalation.record("note_after_close", ctx.now, actor, words=reply.words[:2000])
        return Answer(f"{ref_of(escalation)} is closed and the reply is not '?': recorded, nothing sent")
    escalation.record("executive_note", ctx.now, actor, words=text[:2000])
    mail = followups.render_executive_note(ctx.thread, ctx.identity, note=text or "?")
    return Answer("the executive's note, passed to the owner", [mail])
