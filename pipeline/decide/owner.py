"""The owner's side of a reply: a command, a root-cause writeup, an acknowledgement or the explanation.

The owner, or anyone on their management ladder, may answer. A first-line
``#command`` runs (``pipeline.decide.owner_commands``); typed sections make a
writeup, merged into what came before and judged against rca.yaml, which closes
the escalation (or asks the executive's approval) once complete; "on it" is an
acknowledgement that leaves the clock running; anything else is the explanation,
relayed to the executive. A paused clock resumes with the owner's next word.
"""

from __future__ import annotations

from pipeline.decide import owner_commands
from pipeline.decide.closing import closing_mails, read_planned
from pipeline.decide.context import Answer, Context, Reply, deadline_in, feedback, help_reply, ref_of
from pipeline.inbound.acknowledgements import is_acknowledgement
from pipeline.inbound.commands import (
    Command,
    CommandError,
    UnknownCommand,
    parse_command,
    parse_need_more_time,
    parse_reason,
    parse_reassign,
)
from pipeline.inbound.writeup import parse_writeup
from pipeline.model.escalation import Escalation, InvalidTransition, State
from pipeline.model.mail import OutgoingMail
from pipeline.model.rootcause import describe_findings, merge_sections, render_sections
from pipeline.outbound import followups
from rules.schema import Rules


def answer_owner(escalation: Escalation, reply: Reply, ctx: Context) -> Answer:
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
    rca = ctx.rules.rca
    planned = read_planned(merge_sections(escalation.writeup, sections, rca), ctx, reply.sender.email)
    verdict = escalation.add_writeup(
        now=ctx.now, actor=reply.sender.email, sections=sections, rca=rca, actions=planned
    )
    if not verdict.complete:
        titles = {section.key: section.title for section in rca.sections}
        missing = [finding.title for finding in verdict.findings]
        missing += [titles.get(p.section, p.section) for p in verdict.action_problems]
        missing = list(dict.fromkeys(missing))  # a section with several refused lines, once
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
        outcome.mails += closing_mails(escalation, ctx, reply.sender, writeup)
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
