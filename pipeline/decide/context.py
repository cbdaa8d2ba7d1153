"""What deciding on a reply works with: the reply, its context, the answer, and the shared helpers.

``pipeline.decide.answer`` picks the side (``owner``, ``executive``); the owner's
commands are ``pipeline.decide.owner_commands``; a close's mails are
``pipeline.decide.closing``'s. All build on these. :func:`feedback` caps the mails
that answer the owner's own mail, per escalation and day, so an unmarked
auto-responder cannot start a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.inbound.commands import COMMANDS
from pipeline.inbound.matching import Role
from pipeline.model.deadlines import deadline_for
from pipeline.model.escalation import Escalation
from pipeline.model.ids import ref
from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.outbound import actions as action_mails
from pipeline.outbound import followups
from pipeline.outbound.compose import Identity
from pipeline.outbound.thread import Thread
from rules.durations import Duration
from rules.schema import Rules

#: Mails answering the owner's own mail (lacking sections, command help) per escalation per day.
FEEDBACK_PER_DAY = 5
FEEDBACK_KINDS = frozenset({followups.WRITEUP_INCOMPLETE, followups.COMMAND_HELP, action_mails.ACTION_UPDATE})


@dataclass(frozen=True)
class Reply:
    """One authorised reply: who sent it, in what role, the whole text and its new words."""

    sender: Address
    role: Role
    body: str
    words: str


@dataclass(frozen=True)
class Context:
    """What answering needs besides the reply; ``complaint`` re-reads the original on demand."""

    rules: Rules
    identity: Identity
    now: datetime
    thread: Thread
    route: str
    feedback_today: int
    complaint: Callable[[], Original]
    service_timezone: str = "UTC"


@dataclass
class Answer:
    """What answering did: the reason recorded on the message, and the mails to queue."""

    reason: str
    mails: list[OutgoingMail] = field(default_factory=list)
    owner_name: str | None = None


def help_reply(escalation: Escalation, reply: Reply, ctx: Context, problem: str, reason: str) -> Answer:
    commands = [(spec.usage, spec.does) for spec in COMMANDS]
    mails = feedback(
        escalation,
        ctx,
        lambda: followups.render_command_help(
            ctx.thread, ctx.identity, to=reply.sender, problem=problem, commands=commands
        ),
    )
    return Answer(reason if mails else reason + " (not answered: daily feedback cap reached)", mails)


def feedback(escalation: Escalation, ctx: Context, render: Callable[[], OutgoingMail]) -> list[OutgoingMail]:
    """A mail answering the owner's own mail, unless the day's cap is reached (loop guard)."""
    if ctx.feedback_today >= FEEDBACK_PER_DAY:
        escalation.record("feedback_suppressed", ctx.now, "qmark", cap=FEEDBACK_PER_DAY)
        return []
    return [render()]


def route_deadline(ctx: Context) -> Duration:
    route = next((r for r in ctx.rules.routes if r.name == ctx.route), None)
    return route.deadline if route is not None else ctx.rules.defaults.deadline


def deadline_in(ctx: Context, owner: str, duration: Duration) -> datetime:
    person = ctx.rules.person(owner)
    return deadline_for(person, ctx.now, duration, service_timezone=ctx.service_timezone)


def ref_of(escalation: Escalation) -> str:
    return ref(escalation.number) if escalation.number is not None else "the escalation"
