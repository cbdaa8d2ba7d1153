"""Render the mails of the action ledger: reminders, overdue chases, and what the executive hears.

Every action mail is written into its escalation's thread (subject ``[Q-<n>] [A-<m>] …``,
the Reply-To signed for its recipient), so a reply ``#done``/``#drop``/``#due`` comes back
to the escalation and names its action twice: in the subject tag and, when the writer
gives it, in the command. Pure: deciding when a mail is due is
:mod:`pipeline.decide.action_plan`'s job, what a reply does :mod:`pipeline.decide.action_reply`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pipeline.model.ids import action_ref
from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import mailtext
from pipeline.outbound.compose import Identity
from pipeline.outbound.headers import clean_text
from pipeline.outbound.thread import Thread, thread_mail

ACTION_REMINDER = "action_reminder"
ACTION_OVERDUE = "action_overdue"
ACTION_OVERDUE_NOTICE = "action_overdue_notice"
ACTION_DROPPED = "action_dropped"
ACTION_ALL_DONE = "action_all_done"
ACTION_DUE_REQUEST = "action_due_request"
ACTION_UPDATE = "action_update"
KINDS = (
    ACTION_REMINDER,
    ACTION_OVERDUE,
    ACTION_OVERDUE_NOTICE,
    ACTION_DROPPED,
    ACTION_ALL_DONE,
    ACTION_DUE_REQUEST,
    ACTION_UPDATE,
)
_TITLE = 120  # characters of an action's title in a subject or a line


@dataclass(frozen=True)
class ActionFacts:
    """What a mail says about one action: its number, what, whose, and by when."""

    number: int
    title: str
    owner: Address
    due: date
    state: str = "open"
    evidence: str = ""

    @property
    def ref(self) -> str:
        return action_ref(self.number)

    @property
    def short(self) -> str:
        return clean_text(self.title, max_len=_TITLE) or "(untitled)"


def render_reminder(thread: Thread, identity: Identity, action: ActionFacts) -> OutgoingMail:
    """The action's owner reminded that it is due soon, and how to answer."""
    return _mail(
        thread,
        identity,
        ACTION_REMINDER,
        action.owner,
        f"[{action.ref}] Reminder: due {_day(action.due)}: {action.short}",
        action,
    )


def render_overdue(
    thread: Thread, identity: Identity, action: ActionFacts, *, to: Address, level: int, now: datetime
) -> OutgoingMail:
    """A rung of the action owner's ladder told the action is overdue (level 1: their manager)."""
    owner = mailtext.name_of(action.owner)
    why = (
        f"You get this as {owner}'s manager."
        if level == 1
        else f"You get this as the manager {level} levels above {owner}."
    )
    return _mail(
        thread,
        identity,
        ACTION_OVERDUE,
        to,
        f"[{action.ref}] Overdue: {owner}'s action {action.short}",
        action,
        why=why,
        late=f"{(now.date() - action.due).days} day(s) past its due date"
        if now.date() > action.due
        else "due today",
    )


def render_overdue_notice(
    thread: Thread, identity: Identity, action: ActionFacts, *, chased: Sequence[Address]
) -> OutgoingMail:
    """The executive told, in one line, that an action of their escalation is overdue."""
    who = ", ".join(mailtext.display(a) for a in chased) or "ops (nobody above the owner)"
    return _mail(
        thread,
        identity,
        ACTION_OVERDUE_NOTICE,
        thread.executive,
        f"[{action.ref}] Overdue: {action.short}",
        action,
        chased=who,
    )


def render_dropped(
    thread: Thread, identity: Identity, action: ActionFacts, *, by: Address, reason: str
) -> OutgoingMail:
    """The executive told an action will not be done, by whom and why."""
    return _mail(
        thread,
        identity,
        ACTION_DROPPED,
        thread.executive,
        f"[{action.ref}] Dropped: {action.short}",
        action,
        by=mailtext.display(by),
        reason=mailtext.indented(reason, empty="(no reason)"),
    )


def render_all_done(thread: Thread, identity: Identity, actions: Sequence[ActionFacts]) -> OutgoingMail:
    """The executive told the last open action of their escalation is done, with what was done."""
    lines = [
        f"- {a.ref} {a.short} ({a.state}): {clean_text(a.evidence, max_len=300) or '-'}" for a in actions
    ]
    done = sum(1 for a in actions if a.state == "done")
    return thread_mail(
        thread,
        identity,
        ACTION_ALL_DONE,
        thread.executive,
        f"All actions done ({done} of {len(actions)}): {mailtext.subject(thread.subject)}",
        {"actions": "\n".join(lines), "done": str(done), "total": str(len(actions))},
    )


def render_due_request(
    thread: Thread, identity: Identity, action: ActionFacts, *, to: Address, asked: date, by: Address
) -> OutgoingMail:
    """The approver (the owner's manager) asked to move an action's due date a second time."""
    return _mail(
        thread,
        identity,
        ACTION_DUE_REQUEST,
        to,
        f"[{action.ref}] Move the due date to {_day(asked)}? {action.short}",
        action,
        by=mailtext.display(by),
        asked=_day(asked),
        asked_iso=asked.isoformat(),
    )


def render_update(
    thread: Thread, identity: Identity, action: ActionFacts | None, *, to: Address, outcome: str
) -> OutgoingMail:
    """The writer of a ``#done``/``#drop``/``#due`` told what it did, or why nothing changed."""
    tag = f"[{action.ref}] " if action is not None else ""
    title = action.short if action is not None else "actions"
    return thread_mail(
        thread,
        identity,
        ACTION_UPDATE,
        to,
        f"{tag}{title}",
        {"outcome": outcome, "action": action.ref if action is not None else "A-<n>"},
    )


def _mail(
    thread: Thread,
    identity: Identity,
    kind: str,
    to: Address,
    topic: str,
    action: ActionFacts,
    **values: str,
) -> OutgoingMail:
    facts = {
        "action": action.ref,
        "title": action.short,
        "owner": mailtext.display(action.owner),
        "due": _day(action.due),
        "subject": mailtext.subject(thread.subject),
    }
    return thread_mail(thread, identity, kind, to, topic, {**facts, **values})


def _day(day: date) -> str:
    """``Fri 18 Dec 2026``."""
    return day.strftime("%a %d %b %Y")
