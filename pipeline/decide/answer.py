"""What qmark does with a participant's reply: the transition it makes and the mails it sends.

Pure: :func:`answer` gets the locked escalation, who wrote, and what they wrote,
applies the domain transitions, and returns the mails to queue and the reason in
words. The reply step (``pipeline.steps.reply``) loads, authorises, persists and sends.

The owner's side (the owner or their ladder): a first-line ``#command``; a
root-cause writeup (sections typed under their headings); an acknowledgement
("on it": recorded, the clock runs on); or the explanation, relayed to the
executive. The executive's side: "?" reopens a closed escalation or sends a
writeup awaiting approval back; "approve"/"ok"/"👍" closes one awaiting approval;
anything else is passed to the owner. Mails that answer the owner's own mail
(what the writeup lacks, command help) are capped per escalation and day, so an
unmarked auto-responder cannot start a loop.
"""

from __future__ import annotations

from pipeline.decide.context import Answer, Context, Reply, ref_of
from pipeline.decide.executive import answer_executive
from pipeline.decide.owner import answer_owner
from pipeline.inbound.matching import Role
from pipeline.model.escalation import Escalation


def answer(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    """Apply ``reply`` to ``escalation`` (mutated in place) and say what to send."""
    if reply.role is Role.EXECUTIVE:
        return answer_executive(escalation, reply, ctx)
    if reply.role is Role.OWNER:
        return answer_owner(escalation, reply, ctx)
    escalation.record("note", ctx.now, reply.sender.email, words=reply.words[:2000], role=reply.role.value)
    return Answer(f"a note from {reply.sender.email}, who no longer takes part in {ref_of(escalation)}")
