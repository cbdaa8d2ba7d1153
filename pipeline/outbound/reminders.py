"""Render the mails that chase a deadline: reminders, breaches up the ladder, pauses and resumptions.

Pure functions from a :class:`~pipeline.outbound.thread.Thread` and the facts of the
chase to :class:`~pipeline.model.mail.OutgoingMail`; deciding when a reminder or a
breach is due is the job of :mod:`pipeline.model.deadlines` and the domain. Each mail
kind has a constant (its ``kind`` string) and a ``string.Template`` named after
it in ``pipeline/templates``. :func:`pipeline.outbound.compose.compose` adds the DESIGN
§4.4 headers, signs the Reply-To for the recipient and threads the mail under
``Thread.in_reply_to``/``references``. Words from people (notes, reasons, the
complaint) pass through :func:`pipeline.outbound.mailtext.indented`; names and one-line
texts (history lines) through :func:`pipeline.outbound.headers.clean_text`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from string import Template
from typing import Literal

from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.outbound import mailtext
from pipeline.outbound.compose import Identity
from pipeline.outbound.headers import clean_text
from pipeline.outbound.thread import Thread, thread_mail

Phase = Literal["explanation", "root_cause"]

REMINDER = "reminder"
BREACH = "breach"
BREACH_NOTICE = "breach_notice"
PAUSED = "paused"
RESUMED = "resumed"
KINDS = (REMINDER, BREACH, BREACH_NOTICE, PAUSED, RESUMED)
_ONE_LINE = 500  # characters of one history summary shown in a body


@dataclass(frozen=True)
class HistoryLine:
    """One event of an escalation's audit trail, already summarised in words; ``at`` is timezone-aware."""

    at: datetime
    kind: str
    actor: str
    summary: str


@dataclass(frozen=True)
class _Wording:
    """How one phase is put: to the owner, in a subject, and to a manager or the executive."""

    yours: str  # "your explanation is due ..."
    missed: str  # "Pat Owner has not explained <subject>"
    awaited: str  # "... missed the deadline for <awaited>"
    how_owner: str  # the reminder's last paragraph
    reply_counts: str  # what a manager's reply does


_WORDING: dict[str, _Wording] = {
    "explanation": _Wording(
        yours="explanation",
        missed="has not explained",
        awaited="an explanation (what happened and what they are doing about it)",
        how_owner=(
            "Say what happened and what you are doing about it.\n"
            "qmark passes your explanation to $executive_name."
        ),
        reply_counts=(
            "Reply to this mail with what happened and what is being done about it.\n"
            "Your reply counts as the explanation of $ref and qmark passes it to $executive_name."
        ),
    ),
    "root_cause": _Wording(
        yours="root-cause writeup",
        missed="has not sent the root-cause writeup for",
        awaited=(
            "the root-cause writeup (what happened, impact, five whys to the root cause,\n"
            "corrective and preventive actions)"
        ),
        how_owner=(
            "Fill in the root-cause writeup template at the end of qmark's first mail\n"
            "about $ref and send it as your reply. $ref stays open until every section is there."
        ),
        reply_counts=(
            "Reply to this mail: qmark passes your reply to $executive_name.\n"
            "$ref still closes only after a complete root-cause writeup."
        ),
    ),
}


def render_reminder(
    thread: Thread,
    identity: Identity,
    *,
    phase: Phase,
    deadline: datetime,
    share: float,
    now: datetime | None = None,
) -> OutgoingMail:
    """The owner reminded that ``phase`` is due: when, how long is left, and how to answer.

    ``share`` is the part of the time to the deadline that has passed when the
    reminder goes (0.5 reads "halfway to the deadline"); ``now`` defaults to the
    current time and is what "in 2 hours" counts from.
    """
    wording = _wording(phase)
    if not 0.0 <= share <= 1.0:  # also refuses NaN
        raise ValueError(f"share {share!r} must be a fraction of the deadline from 0 to 1")
    due = thread.for_owner(deadline)  # refuses a deadline without a timezone first
    left = deadline - (datetime.now(UTC) if now is None else now)
    remaining = f"in {_duration(left)}" if left > timedelta(0) else "already due"
    owner_zone = thread.owner_timezone
    subject = f"Reminder: your {wording.yours} is due {mailtext.when(deadline, owner_zone)} ({remaining})"
    return thread_mail(
        thread,
        identity,
        REMINDER,
        thread.owner,
        subject,
        dict(
            executive=mailtext.display(thread.executive),
            awaited=wording.yours,
            subject=mailtext.subject(thread.subject),
            progress=_progress(share),
            deadline=due,
            remaining=remaining,
            how=_fill(wording.how_owner, thread),
        ),
    )


def render_breach(
    thread: Thread,
    identity: Identity,
    *,
    phase: Phase,
    to: Address,
    level: int,
    deadline: datetime,
    now: datetime,
    history: Sequence[HistoryLine],
    note: str,
    complaint: Original | None,
) -> OutgoingMail:
    """A manager on the owner's ladder (``level`` 1 is the owner's manager) told the owner is overdue.

    The mail holds who owns it, what is awaited, since when, the executive's
    note, the whole history (in the order given, times in UTC), the complaint
    text and what the manager can do. ``complaint.raw``, when there is one, is
    attached as message/rfc822.
    """
    wording = _wording(phase)
    if isinstance(level, bool) or level < 1:
        raise ValueError(f"ladder level {level!r} must be a positive integer")
    owner_name = mailtext.name_of(thread.owner)
    due = thread.for_executive(deadline)  # refuses a deadline without a timezone first
    mailtext.when(now, "UTC")
    late = now - deadline
    overdue = f"for {_duration(late)}" if late > timedelta(0) else "just now"
    return thread_mail(
        thread,
        identity,
        BREACH,
        to,
        f"Overdue: {owner_name} {wording.missed} {mailtext.subject(thread.subject)}",
        dict(
            owner=mailtext.display(thread.owner),
            owner_name=owner_name,
            awaited=wording.awaited,
            ladder=_ladder(owner_name, level),
            deadline=due,
            overdue=overdue,
            executive=mailtext.display(thread.executive),
            executive_name=mailtext.name_of(thread.executive),
            subject=mailtext.subject(thread.subject),
            note=mailtext.indented(note, empty="(no note)"),
            history=_history(history),
            complaint=_complaint(complaint),
            reply_counts=_fill(wording.reply_counts, thread),
        ),
        attachment=complaint.raw if complaint is not None else None,
    )


def render_breach_notice(
    thread: Thread, identity: Identity, *, phase: Phase, deadline: datetime, chased: Sequence[Address]
) -> OutgoingMail:
    """The executive told the owner missed the deadline, and whom qmark chases now (ops when nobody)."""
    wording = _wording(phase)
    owner_name = mailtext.name_of(thread.owner)
    names = [mailtext.display(addr) for addr in chased]
    if names:
        chase = f"qmark now chases {_and(names)}."
    else:
        chase = f"{owner_name} has no manager in people.yaml, so there is nobody to chase;\nops are told."
    return thread_mail(
        thread,
        identity,
        BREACH_NOTICE,
        thread.executive,
        f"Overdue: {mailtext.subject(thread.subject)}",
        dict(
            owner=mailtext.display(thread.owner),
            owner_name=owner_name,
            awaited=wording.awaited,
            deadline=thread.for_executive(deadline),
            chase=chase,
        ),
    )


def render_paused(thread: Thread, identity: Identity, *, reason: str, by: Address) -> OutgoingMail:
    """The executive told the clock is paused while the owner waits on the customer, and why."""
    return thread_mail(
        thread,
        identity,
        PAUSED,
        thread.executive,
        f"Clock paused: {mailtext.subject(thread.subject)}",
        dict(
            by=mailtext.display(by),
            owner_name=mailtext.name_of(thread.owner),
            reason=mailtext.indented(reason, empty="(no reason given)"),
        ),
    )


def render_resumed(
    thread: Thread, identity: Identity, *, deadline: datetime, paused_for: timedelta
) -> OutgoingMail:
    """The executive told the clock runs again after ``paused_for``, with the owner's new deadline."""
    if paused_for < timedelta(0):
        raise ValueError("a pause cannot last a negative time")
    return thread_mail(
        thread,
        identity,
        RESUMED,
        thread.executive,
        f"Clock running again: {mailtext.subject(thread.subject)}",
        dict(
            paused_for=_duration(paused_for),
            owner_name=mailtext.name_of(thread.owner),
            deadline=thread.for_executive(deadline),
        ),
    )


def _wording(phase: str) -> _Wording:
    try:
        return _WORDING[phase]
    except KeyError:
        raise ValueError(f"phase {phase!r}: use 'explanation' or 'root_cause'") from None


def _fill(text: str, thread: Thread) -> str:
    """A phase's fixed wording with the ref and the executive's name put in."""
    return Template(text).substitute(ref=thread.ref, executive_name=mailtext.name_of(thread.executive))


def _progress(share: float) -> str:
    """``You are halfway to the deadline.`` or ``90% of the time to the deadline has passed.``"""
    percent = round(share * 100)
    if percent == 0:
        return "The time to the deadline has just started."
    if percent == 50:
        return "You are halfway to the deadline."
    return f"{percent}% of the time to the deadline has passed."


def _ladder(owner_name: str, level: int) -> str:
    """Why this manager gets the mail, by their place on the owner's ladder."""
    if level == 1:
        return f"You get this as {owner_name}'s manager (level 1 of the management ladder)."
    return f"You get this as the manager {level} levels above {owner_name} (level {level} of the ladder)."


def _history(lines: Sequence[HistoryLine]) -> str:
    """One line per event in the order given: ``- <UTC time>  <kind> by <actor>: <summary>``."""
    shown = []
    for line in lines:
        text = f"- {mailtext.when(line.at, 'UTC')}  {clean_text(line.kind, max_len=60) or 'event'}"
        if actor := clean_text(line.actor, max_len=200):
            text += f" by {actor}"
        if summary := clean_text(line.summary, max_len=_ONE_LINE):
            text += f": {summary}"
        shown.append(text)
    return "\n".join(shown) or "(nothing recorded)"


def _complaint(complaint: Original | None) -> str:
    """The complaint's sender, subject and text indented; a line saying so when it is not on record."""
    if complaint is None:
        return "(the complaint is not on record)"
    sender = mailtext.display(complaint.sender) if complaint.sender is not None else "(unknown sender)"
    shown = [
        f"From: {sender}",
        f"Subject: {mailtext.subject(complaint.subject)}",
        "",
        mailtext.indented(complaint.body, empty="(no text)"),
    ]
    if complaint.raw is not None:
        shown += ["", "The original message is attached."]
    return "\n".join(shown)


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _duration(span: timedelta) -> str:
    """``2 hours 30 minutes``, ``1 day 3 hours``, ``less than a minute``; rounded to the minute."""
    minutes = math.floor(span.total_seconds() / 60 + 0.5)  # half a minute rounds up
    if minutes <= 0:
        return "less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n)
