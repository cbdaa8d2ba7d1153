"""What a ``#done``, ``#drop`` or ``#due`` reply does to an action of the ledger. Pure.

The action is the one the command names (``#done A-3 …``), else the one in the subject's
``[A-3]`` tag (every action mail carries it), else the writer's only open action of the
escalation. Who may do what:

* the action's owner: ``#done`` (what was done, at least 5 words), ``#drop`` (why; the
  executive is told) and one ``#due`` (a second move is not applied: it goes to the
  owner's manager, or to the executive when there is none, as a request);
* anyone on the owner's management ladder, and the executive when the owner has no
  manager (the approvers): all three, ``#due`` as often as they see fit;
* anyone else taking part in the escalation gets a mail saying who may; a stranger
  changes nothing and the step quarantines the mail, as for any reply.

When the last open action of the escalation is settled and at least one was done, the
executive hears it, with what was done.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pipeline.inbound.actions import days_ahead
from pipeline.inbound.commands import Command
from pipeline.inbound.due_phrases import parse_due
from pipeline.model.action import Action
from pipeline.model.escalation import InvalidTransition
from pipeline.model.ids import action_ref, parse_action_ref
from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import actions as action_mails
from pipeline.outbound.actions import ActionFacts
from pipeline.outbound.compose import Identity
from pipeline.outbound.thread import Thread
from rules.schema import Rules

#: The commands of the ledger, answered here rather than by the escalation's owner side.
ACTION_COMMANDS = frozenset({"done", "drop", "due"})
_TAG = re.compile(r"\[A-([1-9][0-9]{0,11})\]", re.I)


@dataclass(frozen=True)
class ActionContext:
    """What deciding on an action reply needs: rules, the thread, the time, how to date and describe."""

    rules: Rules
    identity: Identity
    thread: Thread
    now: datetime
    today: Callable[[str], date]  # a person's local date now
    due_at: Callable[[str, date], datetime]  # when an action of this owner due on that date is overdue
    facts: Callable[[Action], ActionFacts]
    participant: bool  # the writer takes part in the escalation (executive, owner or their ladder)


@dataclass
class ActionAnswer:
    """The outcome: the reason in words, the mails, the actions changed; ``stranger`` to quarantine."""

    reason: str
    mails: list[OutgoingMail] = field(default_factory=list)
    changed: list[Action] = field(default_factory=list)
    stranger: bool = False


def answer_action(
    actions: Sequence[Action], command: Command, *, sender: Address, subject: str, ctx: ActionContext
) -> ActionAnswer:
    """Apply ``command`` from ``sender`` to the action it names among the escalation's ``actions``."""
    args, number = _named(command.args)
    number = number or _tagged(subject)
    action, problem = _pick(actions, number, sender.email)
    if action is None:
        if not ctx.participant and not _on_any(actions, sender.email, ctx.rules):
            return ActionAnswer(
                f"#{command.name} from {sender.email}, who owns no action here", stranger=True
            )
        return _told(ctx, None, sender, problem, f"#{command.name} not applied: {problem}")
    who = _standing(action, sender.email, ctx)
    if who == "nobody":
        if not ctx.participant:
            return ActionAnswer(f"#{command.name} {action_ref(action.number)} from a stranger", stranger=True)
        problem = f"only {action.owner} or their manager can change {action_ref(action.number)}"
        return _told(ctx, action, sender, problem, f"#{command.name} not applied: {problem}")
    words = " ".join(part for part in (args, command.rest) if part.strip())
    try:
        if command.name == "done":
            return _done(actions, action, sender, words, ctx)
        if command.name == "drop":
            return _drop(actions, action, sender, words, ctx)
        return _due(action, sender, args, who, ctx)
    except InvalidTransition as error:
        return _told(ctx, action, sender, f"#{command.name}: {error}", f"#{command.name} refused: {error}")


def _done(
    actions: Sequence[Action], action: Action, sender: Address, words: str, ctx: ActionContext
) -> ActionAnswer:
    action.done(now=ctx.now, actor=sender.email, evidence=words)
    outcome = _told(ctx, action, sender, f"{action_ref(action.number)} is done. Thank you.", "action done")
    outcome.changed.append(action)
    outcome.mails += _all_settled(actions, ctx)
    return outcome


def _drop(
    actions: Sequence[Action], action: Action, sender: Address, words: str, ctx: ActionContext
) -> ActionAnswer:
    action.drop(now=ctx.now, actor=sender.email, reason=words)
    about = ctx.facts(action)
    outcome = _told(
        ctx, action, sender, f"{action_ref(action.number)} is dropped; the executive is told.", ""
    )
    outcome.reason = "action dropped"
    outcome.changed.append(action)
    outcome.mails.append(
        action_mails.render_dropped(ctx.thread, ctx.identity, about, by=sender, reason=words)
    )
    outcome.mails += _all_settled(actions, ctx)
    return outcome


def _due(action: Action, sender: Address, args: str, who: str, ctx: ActionContext) -> ActionAnswer:
    today = ctx.today(action.owner)
    new = parse_due(args, today)
    ref = action_ref(action.number)
    if new is None:
        problem = f'"{args[:60]}" is no date; write e.g. "#due {ref} 2026-12-20" or "#due {ref} in 2 weeks"'
        return _told(ctx, action, sender, f"#due: {problem}", "#due refused: no date")
    latest = today + timedelta(days=days_ahead(ctx.rules.rca.actions.max_due, today))
    if not today <= new <= latest:
        problem = f"{new.isoformat()} is not between today and {latest.isoformat()} (actions.max_due)"
        return _told(ctx, action, sender, f"#due: {problem}", "#due refused: out of range")
    if who == "owner" and action.due_moves >= 1:
        return _ask_approver(action, sender, new, ctx)
    action.move(now=ctx.now, actor=sender.email, due=new, due_at=ctx.due_at(action.owner, new))
    outcome = _told(ctx, action, sender, f"{ref} is now due on {new.isoformat()}.", "action due date moved")
    outcome.changed.append(action)
    return outcome


def _ask_approver(action: Action, sender: Address, new: date, ctx: ActionContext) -> ActionAnswer:
    ladder = ctx.rules.ladder(action.owner)
    approver = Address(ladder[0].email, ladder[0].name) if ladder else ctx.thread.executive
    action.record("action_due_move_requested", ctx.now, sender.email, due=new.isoformat(), to=approver.email)
    about = ctx.facts(action)
    request = action_mails.render_due_request(
        ctx.thread, ctx.identity, about, to=approver, asked=new, by=sender
    )
    ref = action_ref(action.number)
    told = f"{ref} was moved once already; {approver.email} is asked to agree to {new.isoformat()}."
    outcome = _told(ctx, action, sender, told, f"second #due: {approver.email} asked")
    outcome.mails.append(request)
    outcome.changed.append(action)
    return outcome


def _all_settled(actions: Sequence[Action], ctx: ActionContext) -> list[OutgoingMail]:
    """The executive's mail when no action is open any more and at least one was done."""
    if any(a.is_open for a in actions) or not any(a.state.value == "done" for a in actions):
        return []
    return [action_mails.render_all_done(ctx.thread, ctx.identity, [ctx.facts(a) for a in actions])]


def _told(ctx: ActionContext, action: Action | None, to: Address, outcome: str, reason: str) -> ActionAnswer:
    about = ctx.facts(action) if action is not None else None
    mail = action_mails.render_update(ctx.thread, ctx.identity, about, to=to, outcome=outcome)
    return ActionAnswer(reason or outcome, [mail])


def _named(args: str) -> tuple[str, int | None]:
    """The arguments without a leading ``A-<n>``, and that number."""
    first, _, rest = args.strip().partition(" ")
    number = parse_action_ref(first.rstrip(":,;"))
    return (rest.strip(), number) if number is not None else (args.strip(), None)


def _tagged(subject: str) -> int | None:
    found = _TAG.search(subject)
    return int(found.group(1)) if found else None


def _pick(actions: Sequence[Action], number: int | None, sender: str) -> tuple[Action | None, str]:
    if number is not None:
        chosen = next((a for a in actions if a.number == number), None)
        return (chosen, "") if chosen else (None, f"{action_ref(number)} is no action of this escalation")
    own = [a for a in actions if a.is_open and a.owner == sender.lower()]
    if len(own) == 1:
        return own[0], ""
    if not own:
        return None, "you own no open action of this escalation"
    refs = ", ".join(action_ref(a.number) for a in own)
    return None, f"say which action: you own {refs}, e.g. #done {action_ref(own[0].number)} what was done"


def _standing(action: Action, sender: str, ctx: ActionContext) -> str:
    """``owner``, ``approver`` (the owner's ladder, or the executive when they have none) or ``nobody``."""
    sender = sender.lower()
    if sender == action.owner:
        return "owner"
    ladder = [person.email for person in ctx.rules.ladder(action.owner)]
    if sender in ladder or (not ladder and sender == ctx.thread.executive.email.lower()):
        return "approver"
    return "nobody"


def _on_any(actions: Sequence[Action], sender: str, rules: Rules) -> bool:
    """Whether ``sender`` owns, or is on the ladder of, any action of the escalation."""
    sender = sender.lower()
    return any(sender == a.owner or sender in {p.email for p in rules.ladder(a.owner)} for a in actions)
