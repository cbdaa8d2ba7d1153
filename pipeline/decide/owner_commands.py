"""The owner's commands besides ``#close``: reassign, more time, and pausing the clock.

Each runs one domain transition and returns the mails that tell the people concerned:
the new owner gets the forward and the executive a notice (``#reassign``), the
executive hears of more time, a pause and a resume. A command used wrongly raises
``CommandError`` or ``InvalidTransition``; the caller answers with help.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.decide.context import Answer, Context, Reply, deadline_in, route_deadline
from pipeline.inbound.commands import CommandError
from pipeline.model.deadlines import deadline_for, working_seconds_between
from pipeline.model.escalation import Escalation, State
from pipeline.model.ids import ref
from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import followups, reminders
from pipeline.outbound.opening import EscalationFacts, render_owner_forward
from rules.durations import Duration
from rules.holidays import holidays_near
from rules.schema import Person


def reassign(escalation: Escalation, reply: Reply, ctx: Context, email: str) -> Answer:
    person = ctx.rules.person(email)
    if person is None:
        raise CommandError(f"{email} is not listed under people in people.yaml")
    old = ctx.thread.owner
    deadline = None
    if escalation.state is State.AWAITING_EXPLANATION:
        deadline = deadline_in(ctx, person.email, route_deadline(ctx))
    escalation.reassign(
        now=ctx.now,
        actor=reply.sender.email,
        new_owner=person.email,
        deadline=deadline,
        business=route_deadline(ctx).is_business,
    )
    new_owner = Address(person.email, person.name)
    forward = render_owner_forward(facts_for(escalation, ctx, person, by=reply.sender), ctx.identity)
    thread = replace(ctx.thread, owner=new_owner, owner_timezone=person.timezone)
    notice = followups.render_reassigned(
        thread,
        ctx.identity,
        old_owner=old,
        new_owner=new_owner,
        by=reply.sender,
        deadline=escalation.deadline,
    )
    return Answer(f"reassigned from {old.email} to {person.email}", [forward, notice], owner_name=person.name)


def pause(escalation: Escalation, reply: Reply, ctx: Context, reason: str) -> Answer:
    escalation.pause(now=ctx.now, actor=reply.sender.email, reason=reason)
    mail = reminders.render_paused(ctx.thread, ctx.identity, reason=reason, by=reply.sender)
    return Answer(f"clock paused, waiting on the customer: {reason}", [mail])


def resume(escalation: Escalation, reply: Reply, ctx: Context) -> list[OutgoingMail]:
    """Resume a paused clock with the paused time excluded: the same work time is left as at the pause."""
    assert escalation.paused_at is not None
    person = ctx.rules.person(escalation.owner)
    zone = person.timezone if person else ctx.service_timezone
    hours = person.working_hours if person else None
    days = holidays_near(person.holidays if person else None, ctx.now)
    if escalation.clock_business:
        left = working_seconds_between(
            escalation.paused_at, escalation.deadline, timezone=zone, working_hours=hours, holidays=days
        )
        duration = Duration(f"{left:.0f}s of work", business_hours=left / 3600)
    else:
        duration = Duration(
            "left", seconds=max((escalation.deadline - escalation.paused_at).total_seconds(), 0)
        )
    new = deadline_for(person, ctx.now, duration, service_timezone=ctx.service_timezone)
    paused = escalation.resume(
        now=ctx.now, actor=reply.sender.email, new_deadline=new, business=escalation.clock_business
    )
    return [
        reminders.render_resumed(ctx.thread, ctx.identity, deadline=escalation.deadline, paused_for=paused)
    ]


def more_time(escalation: Escalation, reply: Reply, ctx: Context, duration: Duration, reason: str) -> Answer:
    old = escalation.deadline
    person = ctx.rules.person(escalation.owner)
    new = deadline_for(person, max(old, ctx.now), duration, service_timezone=ctx.service_timezone)
    escalation.extend(
        now=ctx.now, actor=reply.sender.email, new_deadline=new, reason=reason, business=duration.is_business
    )
    mail = followups.render_more_time(
        ctx.thread, ctx.identity, reason=reason, old_deadline=old, new_deadline=new
    )
    return Answer(f"deadline extended to {new.isoformat()}: {reason}", [mail])


def facts_for(escalation: Escalation, ctx: Context, owner: Person, *, by: Address) -> EscalationFacts:
    assert escalation.number is not None
    return EscalationFacts(
        ref=ref(escalation.number),
        number=escalation.number,
        executive=ctx.thread.executive,
        owner=Address(owner.email, owner.name),
        owner_timezone=owner.timezone,
        deadline=escalation.deadline,
        opened_at=ctx.now,
        executive_note=f"{by.name or by.email} handed this escalation to you.",
        complaint=ctx.complaint(),
        route=ctx.route,
        route_reasons=(f"reassigned to you by {by.email} with #reassign",),
        rca_sections=tuple(section.title for section in ctx.rules.rca.sections),
    )
