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

from pipeline.decide import owner_commands
from pipeline.decide.context import (
    Answer,
    Context,
    Reply,
    deadline_in,
    feedback,
    help_reply,
    ref_of,
    route_deadline,
)
from pipeline.inbound.acknowledgements import is_acknowledgement, is_approval
from pipeline.inbound.commands import (
    Command,
    CommandError,
    UnknownCommand,
    parse_command,
    parse_need_more_time,
    parse_reason,
    parse_reassign,
)
from pipeline.inbound.matching import Role
from pipeline.inbound.question import split_question
from pipeline.inbound.writeup import parse_writeup
from pipeline.model.escalation import Escalation, InvalidTransition, State
from pipeline.model.mail import Address, OutgoingMail
from pipeline.model.rootcause import describe_findings, render_sections
from pipeline.outbound import followups
from rules.schema import Rules


def answer(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    """Apply ``reply`` to ``escalation`` (mutated in place) and say what to send."""
    if reply.role is Role.EXECUTIVE:
        return _executive(escalation, reply, ctx)
    if reply.role is Role.OWNER:
        return _owner(escalation, reply, ctx)
    escalation.record("note", ctx.now, reply.sender.email, words=reply.words[:2000], role=reply.role.value)
    return Answer(f"a note from {reply.sender.email}, who no longer takes part in {ref_of(escalation)}")


# -- the owner's side -------------------------------------------------------------------------


def _owner(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    parsed = parse_command(reply.words)
    if isinstance(parsed, UnknownCommand):
        escalation.record("command_unknown", ctx.now, reply.sender.email, command=parsed.word)
        return help_reply(escalation, reply, ctx, parsed.problem, f"unknown command #{parsed.word}")
    if not escalation.is_open:
        escalation.record("note_after_close", ctx.now, reply.sender.email, words=reply.words[:2000])
        return Answer(f"{ref_of(escalation)} is closed; the owner's mail is recorded")
    resumed: list[OutgoingMail] = []
    if escalation.is_paused and not (parsed is not None and parsed.name == "waiting-on-customer"):
        resumed = owner_commands.resume(escalation, reply, ctx)
        if parsed is not None and parsed.name == "resume":
            return Answer("the owner resumed the clock", resumed)
    outcome = (
        _command(escalation, reply, ctx, parsed)
        if parsed is not None
        else _owner_words(escalation, reply, ctx)
    )
    outcome.mails[:0] = resumed
    if resumed:
        outcome.reason = "clock resumed; " + outcome.reason
    return outcome


def _owner_words(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    sections = _sections(reply.body, ctx.rules)
    if _is_writeup(sections, escalation.state):
        return _writeup(escalation, reply, ctx, sections, asked_to_close=False)
    if escalation.state is State.AWAITING_EXPLANATION:
        if is_acknowledgement(reply.words):
            escalation.acknowledge(now=ctx.now, actor=reply.sender.email, words=reply.words)
            return Answer("an acknowledgement, not an explanation: the clock runs on")
        return _explain(escalation, reply, ctx, reply.words)
    escalation.record("owner_note", ctx.now, reply.sender.email, words=reply.words[:2000])
    return Answer(f"a note from the owner's side while {escalation.state.value}")


def _explain(escalation: Escalation, reply: Reply, ctx: Context, text: str) -> Answer:
    root_cause_due = deadline_in(ctx, escalation.owner, ctx.rules.rca.deadline)
    escalation.explain(
        now=ctx.now,
        actor=reply.sender.email,
        text=text,
        root_cause_deadline=root_cause_due,
        business=ctx.rules.rca.deadline.is_business,
    )
    mail = followups.render_explanation(
        ctx.thread, ctx.identity, author=reply.sender, text=text, root_cause_due=root_cause_due
    )
    return Answer("the explanation, relayed to the executive", [mail])


def _writeup(
    escalation: Escalation, reply: Reply, ctx: Context, sections: dict[str, str], *, asked_to_close: bool
) -> Answer:
    outcome = Answer("")
    if escalation.state is State.AWAITING_EXPLANATION:
        # A writeup (or #close) before any explanation: its own words explain, else its first section.
        words = _without_first_line(reply.words) if asked_to_close else reply.words
        explanation = words if not is_acknowledgement(words) else next(iter(sections.values()), words)
        outcome.mails += _explain(escalation, reply, ctx, explanation).mails
    verdict = escalation.add_writeup(
        now=ctx.now, actor=reply.sender.email, sections=sections, rca=ctx.rules.rca
    )
    if not verdict.complete:
        missing = [finding.title for finding in verdict.findings]
        lacking = feedback(
            escalation,
            ctx,
            lambda: followups.render_writeup_incomplete(
                ctx.thread,
                ctx.identity,
                to=reply.sender,
                findings=describe_findings(verdict),
                missing_titles=missing,
            ),
        )
        outcome.mails += lacking
        outcome.reason = "root-cause writeup incomplete, lacking: " + ", ".join(missing)
        if not lacking:
            outcome.reason += " (owner not mailed: daily feedback cap reached)"
        return outcome
    escalation.submit(now=ctx.now, actor=reply.sender.email, rca=ctx.rules.rca)
    writeup = render_sections(escalation.writeup, ctx.rules.rca)
    if escalation.state is State.AWAITING_APPROVAL:
        outcome.mails.append(
            followups.render_approval_request(ctx.thread, ctx.identity, author=reply.sender, writeup=writeup)
        )
        outcome.reason = "root-cause writeup complete; sent to the executive for approval"
    else:
        outcome.mails += _closing_mails(escalation, ctx, reply.sender, writeup)
        outcome.reason = "root-cause writeup complete; closed"
    return outcome


def _command(escalation: Escalation, reply: Reply, ctx: Context, command: Command) -> Answer:
    actor = reply.sender.email
    escalation.record("command", ctx.now, actor, command=command.name, args=command.args[:500])
    if command.name == "close":
        if escalation.state is State.AWAITING_APPROVAL:
            approver = ctx.thread.executive.name or "the executive"
            problem = f"{ref_of(escalation)} already waits for {approver}'s approval"
            return help_reply(escalation, reply, ctx, problem, "#close while awaiting approval")
        return _writeup(escalation, reply, ctx, _sections(reply.body, ctx.rules), asked_to_close=True)
    if command.name == "resume":
        problem = "#resume: the clock is not paused"
        return help_reply(escalation, reply, ctx, problem, "#resume while not paused")
    try:
        if command.name == "waiting-on-customer":
            return owner_commands.pause(escalation, reply, ctx, parse_reason(command.args, command.rest))
        if command.name == "reassign":
            return owner_commands.reassign(escalation, reply, ctx, parse_reassign(command.args))
        if command.name == "need-more-time":
            duration, reason = parse_need_more_time(command.args, rest=command.rest)
            return owner_commands.more_time(escalation, reply, ctx, duration, reason)
    except (CommandError, InvalidTransition) as error:
        problem = f"#{command.name}: {error}"
        return help_reply(escalation, reply, ctx, problem, f"#{command.name} refused: {error}")
    raise AssertionError(f"command {command.name} has no handler")  # pragma: no cover


# -- the executive's side ---------------------------------------------------------------------


def _executive(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
    actor = reply.sender.email
    asked, note = split_question(reply.words)
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
            "approved by the executive; closed", _closing_mails(escalation, ctx, reply.sender, writeup)
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


def _closing_mails(
    escalation: Escalation, ctx: Context, closed_by: Address, writeup: list[tuple[str, str]]
) -> list[OutgoingMail]:
    summary = followups.render_closing_summary(
        ctx.thread, ctx.identity, closed_by=closed_by, explanation=escalation.explanation, writeup=writeup
    )
    confirmation = followups.render_closed_confirmation(ctx.thread, ctx.identity, to=ctx.thread.owner)
    return [summary, confirmation]


# -- helpers ----------------------------------------------------------------------------------


def _sections(body: str, rules: Rules) -> dict[str, str]:
    return parse_writeup(body, rules.rca.sections)


def _is_writeup(sections: dict[str, str], state: State) -> bool:
    """Typed sections make a writeup: one while the root cause is awaited, two before the explanation
    (a lone "Summary:" line in an explanation is not a writeup)."""
    typed = sum(1 for text in sections.values() if text.strip())
    if state is State.AWAITING_ROOT_CAUSE:
        return typed >= 1
    return state is State.AWAITING_EXPLANATION and typed >= 2


def _without_first_line(words: str) -> str:
    lines = words.strip().split("\n", 1)
    return lines[1].strip() if len(lines) > 1 else ""
