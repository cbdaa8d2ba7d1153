"""Closing an escalation: the two mails every close sends, and ops closing with a writeup from elsewhere.

However an escalation closes — the owner's complete writeup, the executive's
approval, or ops with ``qmark escalations close`` — the executive gets the
closing summary (the explanation and the writeup) and the owner a confirmation,
from :func:`closing_mails`. The root-cause gate itself is the domain's
(:meth:`pipeline.model.escalation.Escalation.close`, I5).
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.decide.context import Answer, Context, ref_of
from pipeline.inbound.actions import read_writeup_actions
from pipeline.inbound.writeup import parse_writeup
from pipeline.model.action_items import ActionReading
from pipeline.model.due_dates import local_date
from pipeline.model.escalation import Escalation, RootCauseMissing, State
from pipeline.model.mail import Address, OutgoingMail
from pipeline.model.rootcause import check_sections, describe_findings, merge_sections, render_sections
from pipeline.outbound import followups

#: What the summary says when the escalation closes without an explanation by email.
NO_EXPLANATION = "(none was sent by email)"


class CloseRefused(Exception):
    """The escalation cannot be closed; str() says why and what is missing."""


def closing_mails(
    escalation: Escalation, ctx: Context, closed_by: Address, writeup: list[tuple[str, str]]
) -> list[OutgoingMail]:
    """The executive's closing summary and the owner's confirmation."""
    summary = followups.render_closing_summary(
        ctx.thread,
        ctx.identity,
        closed_by=closed_by,
        explanation=escalation.explanation or NO_EXPLANATION,
        writeup=writeup,
    )
    planned = [f"{a.title} — {a.owner}, due {a.due.isoformat()}" for a in escalation.planned_actions]
    confirmation = followups.render_closed_confirmation(
        ctx.thread, ctx.identity, to=ctx.thread.owner, actions=planned
    )
    return [summary, confirmation]


def read_planned(found: Mapping[str, str], ctx: Context, writer: str) -> ActionReading:
    """The actions the writeup sections in ``found`` plan, dates read as of the writer's today."""
    today = local_date(ctx.rules.person(writer), ctx.now, service_timezone=ctx.service_timezone)
    return read_writeup_actions(found, ctx.rules, writer=writer, today=today)


def close_by_operator(escalation: Escalation, ctx: Context, *, text: str, actor: str) -> Answer:
    """Ops close with a writeup that reached them another way, merged into what the owner sent.

    Raises :class:`CloseRefused` (and changes nothing the caller commits) when the
    escalation is closed already or the merged writeup is not complete.
    """
    rca = ctx.rules.rca
    if escalation.state is State.CLOSED:
        raise CloseRefused(f"{ref_of(escalation)} is already closed")
    merged = merge_sections(escalation.writeup, parse_writeup(text, rca.sections), rca)
    verdict = check_sections(merged, rca, read_planned(merged, ctx, actor))
    if not verdict.complete:
        raise CloseRefused(
            f"{ref_of(escalation)} stays open; the writeup lacks:\n{describe_findings(verdict)}"
        )
    escalation.writeup = merged
    escalation.planned_actions = list(verdict.actions)
    escalation.record("writeup_received", ctx.now, actor, sections=sorted(merged), complete=True, via="cli")
    try:
        escalation.close(now=ctx.now, actor=actor, rca=rca)
    except RootCauseMissing as error:  # pragma: no cover - checked just above; the gate has the last word
        raise CloseRefused(str(error)) from error
    mails = closing_mails(escalation, ctx, Address(actor), render_sections(merged, rca))
    return Answer(f"closed by {actor} from the command line", mails)
