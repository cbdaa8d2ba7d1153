"""Render the mails that follow an escalation's opening: explanations, writeups, closing and changes.

Pure functions from a :class:`Thread` and the news to :class:`~pipeline.model.mail.OutgoingMail`;
deciding when to send which is the domain's job. Each mail kind has a constant
(its ``kind`` string) and a ``string.Template`` named after it in
``pipeline/templates``. :func:`pipeline.outbound.compose.compose` adds the DESIGN §4.4
headers and threads the mail under ``Thread.in_reply_to``/``references``.
Words from people (explanations, notes, writeups) pass through
:func:`pipeline.outbound.mailtext.plain` or :func:`~pipeline.outbound.mailtext.indented`; names,
titles and one-line texts through :func:`pipeline.outbound.headers.clean_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import mailtext
from pipeline.outbound.compose import Identity
from pipeline.outbound.headers import clean_text
from pipeline.outbound.thread import Thread, render_in_thread

EXPLANATION = "explanation"
WRITEUP_INCOMPLETE = "writeup_incomplete"
CLOSING_SUMMARY = "closing_summary"
CLOSED_CONFIRMATION = "closed_confirmation"
APPROVAL_REQUEST = "approval_request"
SENT_BACK = "sent_back"
REOPENED = "reopened"
REASSIGNED = "reassigned"
MORE_TIME = "more_time"
COMMAND_HELP = "command_help"
EXECUTIVE_NOTE = "executive_note"
KINDS = (
    EXPLANATION,
    WRITEUP_INCOMPLETE,
    CLOSING_SUMMARY,
    CLOSED_CONFIRMATION,
    APPROVAL_REQUEST,
    SENT_BACK,
    REOPENED,
    REASSIGNED,
    MORE_TIME,
    COMMAND_HELP,
    EXECUTIVE_NOTE,
)
_ONE_LINE = 300  # characters of a one-line text (a problem, a command) shown in a body


def render_explanation(
    thread: Thread, identity: Identity, *, author: Address, text: str, root_cause_due: datetime | None
) -> OutgoingMail:
    """The owner's explanation passed on to the executive, with what happens next."""
    if root_cause_due is None:
        next_step = f"{thread.ref} closes only after a root-cause writeup."
    else:
        due = thread.for_executive(root_cause_due)
        next_step = f"The root-cause writeup is due {due}.\n{thread.ref} closes only after it."
    return render_in_thread(
        thread,
        identity,
        EXPLANATION,
        thread.executive,
        f"{mailtext.name_of(author)}'s explanation",
        author=mailtext.display(author),
        text=mailtext.indented(text),
        next_step=next_step,
    )


def render_writeup_incomplete(
    thread: Thread, identity: Identity, *, to: Address, findings: str, missing_titles: Sequence[str]
) -> OutgoingMail:
    """What the writeup still lacks (``findings`` from ``describe_findings``) and a template to fill in."""
    titles = (clean_text(title, max_len=200) for title in missing_titles)
    return render_in_thread(
        thread,
        identity,
        WRITEUP_INCOMPLETE,
        to,
        "Root-cause writeup incomplete",
        findings=mailtext.plain(findings) or "- (no details recorded)",
        rca_template="".join(f"## {title}\n\n" for title in titles if title),
    )


def render_closing_summary(
    thread: Thread,
    identity: Identity,
    *,
    closed_by: Address,
    explanation: str,
    writeup: Sequence[tuple[str, str]],
) -> OutgoingMail:
    """The executive's summary of a closed escalation: who closed it, the explanation, the writeup."""
    return render_in_thread(
        thread,
        identity,
        CLOSING_SUMMARY,
        thread.executive,
        "Closed",
        closed_by=mailtext.display(closed_by),
        explanation=mailtext.indented(explanation),
        writeup=_writeup(writeup),
    )


def render_closed_confirmation(
    thread: Thread, identity: Identity, *, to: Address, actions: Sequence[str] = ()
) -> OutgoingMail:
    """A short note to the owner that the escalation is closed, and the actions qmark now chases."""
    chased = ""
    if actions:
        listed = "\n".join(f"- {clean_text(line, max_len=300)}" for line in actions)
        chased = (
            f"\nqmark now chases the {len(actions)} action(s) of the writeup until each is done:\n{listed}\n"
            "Each owner is reminded before the due date; answer an action mail with #done, #due or #drop.\n"
        )
    return render_in_thread(thread, identity, CLOSED_CONFIRMATION, to, "Closed", actions=chased)


def render_approval_request(
    thread: Thread, identity: Identity, *, author: Address, writeup: Sequence[tuple[str, str]]
) -> OutgoingMail:
    """The complete writeup put to the executive, with how to approve it or send it back."""
    return render_in_thread(
        thread,
        identity,
        APPROVAL_REQUEST,
        thread.executive,
        "Root cause for your approval",
        author=mailtext.display(author),
        writeup=_writeup(writeup),
        owner_name=mailtext.name_of(thread.owner),
    )


def render_sent_back(thread: Thread, identity: Identity, *, note: str) -> OutgoingMail:
    """The executive's note to the owner on a writeup they did not approve."""
    return render_in_thread(
        thread,
        identity,
        SENT_BACK,
        thread.owner,
        "Writeup sent back",
        executive=mailtext.display(thread.executive),
        executive_name=mailtext.name_of(thread.executive),
        note=mailtext.indented(note, empty="(no note)"),
    )


def render_reopened(thread: Thread, identity: Identity, *, note: str, deadline: datetime) -> OutgoingMail:
    """The owner told that the executive reopened the escalation: their note and the new deadline."""
    return render_in_thread(
        thread,
        identity,
        REOPENED,
        thread.owner,
        "Reopened",
        executive=mailtext.display(thread.executive),
        note=mailtext.indented(note, empty="(no note)"),
        deadline=thread.for_owner(deadline),
    )


def render_reassigned(
    thread: Thread,
    identity: Identity,
    *,
    old_owner: Address,
    new_owner: Address,
    by: Address,
    deadline: datetime,
) -> OutgoingMail:
    """The executive told who owns the escalation now, who moved it and the deadline."""
    new_owner_name = mailtext.name_of(new_owner)
    return render_in_thread(
        thread,
        identity,
        REASSIGNED,
        thread.executive,
        f"Reassigned to {new_owner_name}",
        by=mailtext.display(by),
        old_owner=mailtext.display(old_owner),
        new_owner=mailtext.display(new_owner),
        new_owner_name=new_owner_name,
        due=thread.for_executive(deadline),
    )


def render_more_time(
    thread: Thread, identity: Identity, *, reason: str, old_deadline: datetime, new_deadline: datetime
) -> OutgoingMail:
    """The executive told that the owner's deadline moved, and why."""
    owner_name = mailtext.name_of(thread.owner)
    return render_in_thread(
        thread,
        identity,
        MORE_TIME,
        thread.executive,
        f"More time for {owner_name}",
        owner=mailtext.display(thread.owner),
        reason=mailtext.indented(reason, empty="(no reason given)"),
        old_deadline=thread.for_executive(old_deadline),
        new_deadline=thread.for_executive(new_deadline),
    )


def render_command_help(
    thread: Thread,
    identity: Identity,
    *,
    to: Address,
    problem: str,
    commands: Sequence[tuple[str, str]],
) -> OutgoingMail:
    """A reply to a command qmark could not act on: the problem in one line, then the commands it knows."""
    listed = [
        f"{shown}\n    {clean_text(what, max_len=_ONE_LINE) or '(no description)'}"
        for usage, what in commands
        if (shown := clean_text(usage, max_len=_ONE_LINE))
    ]
    return render_in_thread(
        thread,
        identity,
        COMMAND_HELP,
        to,
        "About your command",
        problem=clean_text(problem, max_len=_ONE_LINE) or "qmark could not act on a command in your reply.",
        commands="\n".join(listed) or "(none)",
    )


def render_executive_note(thread: Thread, identity: Identity, *, note: str) -> OutgoingMail:
    """What the executive wrote about the escalation, passed on to the owner."""
    return render_in_thread(
        thread,
        identity,
        EXECUTIVE_NOTE,
        thread.owner,
        f"Note from {mailtext.name_of(thread.executive)}",
        executive=mailtext.display(thread.executive),
        note=mailtext.indented(note, empty="(no note)"),
    )


def _writeup(sections: Sequence[tuple[str, str]]) -> str:
    """Each section as ``## Title``, a blank line and its text; blank lines between sections."""
    shown = [
        f"## {clean_text(title, max_len=200) or '(untitled)'}\n\n{mailtext.plain(text) or '(empty)'}"
        for title, text in sections
    ]
    return "\n\n".join(shown) or "(no sections)"
