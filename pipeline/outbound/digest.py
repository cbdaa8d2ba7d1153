"""The daily digest mail for ops and executives: what is overdue, open, breached and closed, in one mail.

:func:`render_digest` turns the facts (:class:`~pipeline.model.digest.DigestFacts`,
read by :mod:`pipeline.store.reports`), the honest statistics' lines and one
recipient into an :class:`~pipeline.model.mail.OutgoingMail`; each closed
escalation's root cause is shown in one line (:func:`one_line`); the corrective actions
overdue (:class:`OverdueActions`, most overdue first) have a section of their own when given. Deciding when a
digest is due and sending it is ``workers.ticks.digest``'s job. The digest is
about no one escalation, so it is not built with
:func:`pipeline.outbound.compose.compose`: it has no ``[Q-<n>]`` tag, no
``X-Qmark-Escalation`` and no signed Reply-To (a reply reaches the intake address
and is treated like any mail that is not about an escalation). Its Message-ID
``<qmark.digest.<day>.<hex>@<domain>>`` is one
:func:`~pipeline.model.ids.parse_message_id` does not take for an escalation's.
Words from people (subjects, names, root causes) pass through
:func:`~pipeline.outbound.headers.clean_text`: one line each, no control characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import format_datetime

from pipeline.model.digest import CHASED, Breach, ClosedItem, DigestFacts, OpenItem
from pipeline.model.escalation import State
from pipeline.model.ids import make_digest_message_id
from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import mailtext
from pipeline.outbound.compose import Identity, text_message
from pipeline.outbound.headers import HeaderBlock, check_generated, clean_address, clean_text
from rules.timezones import zone

DIGEST = "digest"  # the OutgoingMail kind
MAX_LINES = 20  # items shown per list; the rest is "and N more"
ROOT_CAUSE_CHARS = 140  # the one line of root cause shown per closed escalation
SUBJECT_CHARS = 80  # an escalation's subject as shown in a list
NO_ROOT_CAUSE = "(no root-cause section in the writeup)"
_AWAITED = {
    State.AWAITING_EXPLANATION.value: "explanation",
    State.AWAITING_ROOT_CAUSE.value: "root cause",
    State.AWAITING_APPROVAL.value: "approval",
}
_PHASES = {"explanation": "explanation", "root_cause": "root-cause"}
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True)
class LateAction:
    """An overdue corrective action as the digest lists it: ``A-<n>``, its ``Q-<n>``, what, who, due when."""

    ref: str
    escalation: str
    title: str
    owner: str
    due_at: datetime


@dataclass(frozen=True)
class OverdueActions:
    """The most overdue actions (most overdue first, a few) and how many are overdue in all."""

    items: tuple[LateAction, ...] = ()
    total: int = 0


def one_line(text: str, *, limit: int = ROOT_CAUSE_CHARS) -> str:
    """``text`` as one line of at most ``limit`` characters: the whole sentences from the start that
    fit, else the first sentence cut at a word with "…"."""
    flat = clean_text(text, max_len=max(limit * 4, 1000))
    if len(flat) <= limit:
        return flat
    ends = [match.end() for match in _SENTENCE_END.finditer(flat, 0, limit + 1)]
    if ends:
        return flat[: ends[-1]]
    cut = flat[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def subject_line(facts: DigestFacts, day: str) -> str:
    """``qmark digest 2026-11-24: 3 open, 1 overdue``."""
    return f"qmark digest {day}: {len(facts.open)} open, {len(facts.overdue)} overdue"


def render_digest(
    facts: DigestFacts,
    *,
    stats_lines: Sequence[str],
    identity: Identity,
    recipient: Address,
    day: str,
    timezone: str = "UTC",
    actions: OverdueActions | None = None,
) -> OutgoingMail:
    """The digest for ``day`` (``YYYY-MM-DD``) to ``recipient``; times shown in ``timezone``.

    ValueError when ``day`` is not a date or an address is unsafe.
    """
    if not _DAY.fullmatch(day):
        raise ValueError(f"day {day!r} is not YYYY-MM-DD")
    date.fromisoformat(day)
    zone(timezone)
    recipient = clean_address(recipient)
    sender = clean_address(identity.from_address)
    message_id = make_digest_message_id(day, domain=identity.domain)
    head = HeaderBlock()
    head.address("From", sender)
    head.address("To", recipient)
    head.text("Subject", subject_line(facts, day))
    head.token("Date", format_datetime(facts.now))
    head.token("Message-ID", message_id)
    head.text("X-Qmark-Digest", day)
    head.token("Auto-Submitted", "auto-generated")
    head.token("X-Auto-Response-Suppress", "All")
    head.token("MIME-Version", "1.0")
    raw = text_message(head, _body(facts, stats_lines, day, timezone, actions))
    check_generated(raw, head.names)
    return OutgoingMail(
        kind=DIGEST, recipient=recipient.email, message_id=message_id, raw=raw, envelope_from=sender.email
    )


# --- the body --------------------------------------------------------------------------------------


def _body(
    facts: DigestFacts, stats_lines: Sequence[str], day: str, zone: str, actions: OverdueActions | None
) -> str:
    now = facts.now
    overdue, on_time = facts.overdue, facts.on_time
    since = _at(facts.since, zone)
    closed = [[_closed_line(item), _root_cause_line(item)] for item in facts.closed]
    return mailtext.template("digest.txt").substitute(
        day=day,
        as_of=mailtext.when(now, zone),
        summary=_summary(facts, since),
        since=since,
        overdue_count=len(overdue),
        overdue=_capped([[_overdue_line(item, now)] for item in overdue]),
        on_time_count=len(on_time),
        on_time=_capped([[_open_line(item, zone)] for item in on_time]),
        breach_count=len(facts.breaches),
        breaches=_capped([[_breach_line(item, zone)] for item in facts.breaches]),
        closed_count=len(facts.closed),
        closed=_capped(closed),
        recurrences=_recurrences(facts),
        actions=_late_actions(actions, now) if actions is not None else "",
        statistics=_statistics(stats_lines),
    )


def _summary(facts: DigestFacts, since: str) -> str:
    """``3 open, 1 overdue, 1 paused; 2 breaches and 1 closed since Mon 23 Nov 10:00 CET.``"""
    paused = sum(item.paused for item in facts.open)
    summary = f"{len(facts.open)} open, {len(facts.overdue)} overdue" + (
        f", {paused} paused" if paused else ""
    )
    summary += f"; {_count(len(facts.breaches), 'breach', 'breaches')} and {len(facts.closed)} closed"
    return summary + f" since {since}."


def _recurrences(facts: DigestFacts) -> str:
    """``2 (Q-31 after Q-12, Q-40 after Q-7)``, or ``0``; at most :data:`MAX_LINES` pairs named."""
    pairs = [f"{item.ref} after {item.earlier}" for item in facts.recurrences[:MAX_LINES]]
    more = len(facts.recurrences) - len(pairs)
    named = ", ".join(pairs) + (f" and {more} more" if more > 0 else "")
    return f"{len(facts.recurrences)} ({named})" if pairs else "0"


def _root_cause_line(item: ClosedItem) -> str:
    return f"    root cause: {one_line(item.root_cause) or NO_ROOT_CAUSE}"


def _statistics(stats_lines: Sequence[str]) -> str:
    stats = [clean_text(line, max_len=300) for line in stats_lines]
    return "\n".join(f"- {line}" for line in stats if line) or "- (no statistics)"


def _overdue_line(item: OpenItem, now: datetime) -> str:
    late = item.late_by(now) or timedelta(0)
    return f"- {item.ref}  {_span(late)} late  {_who(item.owner)} ({_AWAITED[item.state]}): {_subject(item)}"


def _open_line(item: OpenItem, zone: str) -> str:
    if item.state not in CHASED:
        status, awaited = "awaiting approval", ""
    else:
        status = "paused" if item.paused else f"due {_short(item.deadline, zone)}"
        awaited = f" ({_AWAITED[item.state]})"
    return f"- {item.ref}  {status}  {_who(item.owner)}{awaited}: {_subject(item)}"


def _breach_line(item: Breach, zone: str) -> str:
    phase = _PHASES.get(item.phase, "")
    level = f" (level {item.level})" if item.level else ""
    chased = clean_text(item.chased, max_len=254)
    if item.kind == "breached":
        what = f"{_who(item.owner)} missed the {phase + ' ' if phase else ''}deadline"
        what += f"; {chased}{level} chased" if chased else ""
    elif item.kind == "chased_up":
        what = f"still late; chased up to {chased or 'the next manager'}{level}"
    else:
        what = "top of the ladder reached, nobody left to chase"
    return f"- {item.ref}  {_short(item.at, zone)}  {what}: {_subject(item)}"


def _late_actions(actions: OverdueActions, now: datetime) -> str:
    """The section ``Actions overdue: N``, a line ``- A-3  4d 2h late  pat@acme.test (Q-1): what`` per
    action listed, then "and N more" for those not listed."""
    lines = [
        f"- {item.ref}  {_span(now - item.due_at)} late  {clean_text(item.owner, max_len=254)} "
        f"({item.escalation}): {clean_text(item.title, max_len=SUBJECT_CHARS) or '(no title)'}"
        for item in actions.items
    ]
    if actions.total > len(actions.items):
        lines.append(f"- and {actions.total - len(actions.items)} more")
    return f"Actions overdue: {actions.total}\n" + ("\n".join(lines) or "- none") + "\n\n"


def _closed_line(item: ClosedItem) -> str:
    return f"- {item.ref}  {_who(item.owner)}: {_subject(item)}"


def _capped(items: Sequence[Sequence[str]], limit: int = MAX_LINES) -> str:
    """The first ``limit`` items (each one or more lines), then "and N more"; "- none" when empty."""
    if not items:
        return "- none"
    lines = [line for item in items[:limit] for line in item]
    if len(items) > limit:
        lines.append(f"- and {len(items) - limit} more")
    return "\n".join(lines)


# --- small helpers ---------------------------------------------------------------------------------


def _subject(item: OpenItem | Breach | ClosedItem) -> str:
    return clean_text(item.subject, max_len=SUBJECT_CHARS) or "(no subject)"


def _who(owner: Address) -> str:
    return mailtext.name_of(owner)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _span(span: timedelta) -> str:
    """``45m``, ``3h 20m``, ``2d 5h``, rounded up: lateness is never shown smaller than it is."""
    minutes = max(1, math.ceil(span.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(math.ceil(minutes / 60), 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def _short(moment: datetime, zone: str) -> str:
    """``Tue 24 Nov 14:30`` in ``zone`` (the zone is named once, at the top of the digest)."""
    parts = mailtext.when(moment, zone).split(" ")  # Tue 24 Nov 2026 14:30 CET
    return " ".join(parts[:3] + parts[4:5])


def _at(moment: datetime, zone: str) -> str:
    """``Tue 24 Nov 14:30 CET``."""
    parts = mailtext.when(moment, zone).split(" ")
    return " ".join(parts[:3] + parts[4:])
