"""The executive's side of a reply: "?" reopens or sends back, an approval closes, words reach the owner.

"?" on a closed escalation reopens it with a new deadline; "?" on a writeup that
awaits approval sends it back to the owner; "approve", "ok" or "👍" closes one
that awaits approval; anything else on an open escalation is passed to the owner,
and on a closed one recorded without a mail.
"""

from __future__ import annotations

from pipeline.decide.closing import closing_mails
from pipeline.decide.context import Answer, Context, Reply, deadline_in, ref_of, route_deadline
from pipeline.inbound.commands import is_approval, is_question
from pipeline.model.escalation import Escalation, State
from pipeline.model.rootcause import render_sections
from pipeline.outbound import followups


def answer_executive(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    actor = reply.sender.email
    asked, note = is_question(reply.words)
    if asked:  # in a reply, everything the executive wrote after the "?" is their note
        note = reply.words.strip().lstrip("?？!¡ \t").strip()
    if asked and escalation.state is State.CLOSED:
        deadline = deadline_in(ctx, escalation.owner, route_deadline(ctx))
        business = route_deadline(ctx).is_business
        escalation.reopen(now=ctx.now, actor=actor, note=note, deadline=deadline, business=business)
        mail = followups.render_reopened(ctx.thread, ctx.identity, note=note, deadline=deadline)
        return Answer("the executive's '?' reopened it; the owner is told", [mail])
    if asked and escalation.state is State.AWAITING_APPROVAL:
        escalation.send_back(now=ctx.now, actor=actor, note=note)
        mail = followups.render_sent_back(ctx.thread, ctx.identity, note=note)
        return Answer("the executive sent the writeup back to the owner", [mail])
    if is_approval(reply.words) and escalation.state is State.AWAITING_APPROVAL:
        escalation.approve(now=ctx.now, actor=actor, rca=ctx.rules.rca)
        writeup = render_sections(escalation.writeup, ctx.rules.rca)
        return Answer(
            "approved by the executive; closed", closing_mails(escalation, ctx, reply.sender, writeup)
        )
    if not escalation.is_open:
        escalation.record("note_after_close", ctx.now, actor, words=reply.words[:2000])
        return Answer(f"{ref_of(escalation)} is closed and the reply is not '?': recorded, nothing sent")
    if is_approval(reply.words):
        escalation.record("executive_note", ctx.now, actor, words=reply.words[:2000])
        return Answer("the executive's acknowledgement, recorded")
    text = note if asked else reply.words
    escalation.record("executive_note", ctx.now, actor, words=text[:2000])
    mail = followups.render_executive_note(ctx.thread, ctx.identity, note=text or "?")
    return Answer("the executive's note, passed to the owner", [mail])
