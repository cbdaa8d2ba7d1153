"""What an owner's reply commands: ``#close``, ``#reassign``, ``#need-more-time`` and friends. Pure, no I/O.

Every function reads the new words of a reply, already reduced by the caller with
:func:`pipeline.inbound.quotes.latest_reply` (no quoted history, reply headers or signature).

A command is the first non-blank line when it starts with ``#`` and a name:
a letter, then letters, digits, ``-`` or ``_`` (at most 40 characters), ended by the
end of the line, whitespace or punctuation. Names ignore case and ``_`` counts as
``-``: ``#Close``, ``#close.``, ``#need_more_time 2h vendor`` and ``#reassign: lee@acme.test``
are commands. ``# close`` (a space after the ``#``) is a Markdown heading, and ``#1 priority``,
``##close``, a lone ``#`` or a hashtag after other words are plain text. The rest of the
command line is its arguments; the lines below are the sender's other words. A name qmark
does not know gives :class:`UnknownCommand`, with the closest known name as a suggestion
(so a first line "#urgent ..." or "#Impact" is an unknown command, not prose or a heading).
The known commands are data (:data:`COMMANDS`); each parser raises :class:`CommandError`,
whose text is the one-line explanation mailed back to the sender.

Acknowledgements and approvals are read by :mod:`pipeline.inbound.acknowledgements`, an
executive's "?" by :mod:`pipeline.inbound.question`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from rules.durations import Duration, parse_duration


@dataclass(frozen=True)
class Command:
    """A known command: its ``name`` (lower case, no "#"), the rest of its line, the lines below."""

    name: str
    args: str
    rest: str


@dataclass(frozen=True)
class CommandSpec:
    """One command qmark knows: its name, how it is written and what it does, as shown to senders."""

    name: str
    usage: str
    does: str


#: The most extra time one #need-more-time may ask for. Business time is capped at the same
#: share of a five-day, eight-hour working week: 10 business days or 80 business hours.
MAX_EXTRA_DAYS = 14

#: The commands qmark knows, in the order help lists them.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("close", "#close", "closes the escalation once its root-cause writeup is complete"),
    CommandSpec(
        "reassign", "#reassign person@domain", "hands the escalation to someone listed in people.yaml"
    ),
    CommandSpec(
        "need-more-time",
        "#need-more-time 2d reason",
        f"asks for more time (at most {MAX_EXTRA_DAYS} days); the reason is passed on to the executive",
    ),
    CommandSpec(
        "waiting-on-customer",
        "#waiting-on-customer reason",
        "pauses the deadline while you wait for the customer; your next mail (or #resume) resumes it",
    ),
    CommandSpec("resume", "#resume", "resumes a paused deadline"),
    CommandSpec("done", "#done A-3 what was done", "marks an action of the ledger done (at least 5 words)"),
    CommandSpec("drop", "#drop A-3 why", "drops an action; the executive is told"),
    CommandSpec(
        "due", "#due A-3 2026-12-20", "moves an action's due date (once; a second move asks the manager)"
    ),
)


class CommandError(ValueError):
    """A command qmark knows, used wrongly; str() is the one-line explanation for the sender."""


@dataclass(frozen=True)
class UnknownCommand:
    """A first line that is a command qmark does not know: ``word`` lower case without "#"."""

    word: str
    suggestion: str | None = None

    @property
    def problem(self) -> str:
        """The one-line explanation for the sender."""
        known = ", ".join(f"#{spec.name}" for spec in COMMANDS)
        hint = f"did you mean #{self.suggestion}?" if self.suggestion else f"the commands are {known}."
        return f"#{self.word} is not a command qmark knows; {hint}"


def describe_commands() -> str:
    """One line per known command, "usage — what it does", each ending with a newline."""
    return "".join(f"{spec.usage} — {spec.does}\n" for spec in COMMANDS)


# Commands ---------------------------------------------------------------------------------------------

_COMMAND_LINE = re.compile(r"#(?P<name>[A-Za-z][A-Za-z0-9_-]{0,39})(?P<tail>(?:[.!:,;]|\s).*|)", re.S)
_ARG_LEAD = ".!:,; \t"
_SUGGEST_CUTOFF = 0.6  # difflib ratio: "clsoe" and "reasign" are close to a command, "hello" is not


def parse_command(words: str) -> Command | UnknownCommand | None:
    """The command on the first non-blank line of ``words``, UnknownCommand, or None when it is no command."""
    first, rest = first_line(words)
    match = _COMMAND_LINE.fullmatch(first)
    if match is None:
        return None
    name = match.group("name").lower().replace("_", "-").rstrip("-")
    names = [spec.name for spec in COMMANDS]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1, cutoff=_SUGGEST_CUTOFF)
        return UnknownCommand(name, close[0] if close else None)
    return Command(name, match.group("tail").lstrip(_ARG_LEAD).strip(), rest)


def first_line(words: str) -> tuple[str, str]:
    """The first non-blank line of ``words``, stripped, and the text below it, stripped."""
    lines = words.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if line.strip():
            return line.strip(), "\n".join(lines[index + 1 :]).strip()
    return "", ""


# #need-more-time ----------------------------------------------------------------------------------------

_MAX_BUSINESS_DAYS = MAX_EXTRA_DAYS * 5 // 7
_MAX_BUSINESS_HOURS = _MAX_BUSINESS_DAYS * 8
_MAX_DURATION_TOKENS = 6  # "1 h 30 m" or "8 business hours"; the reason follows
_NEED_MORE_TIME_EXAMPLE = '"#need-more-time 2d waiting for the vendor\'s logs"'
_REASON_LEAD = "-–—:,; \t"
_HAS_LETTER = re.compile(r"[^\W\d_]")


def parse_need_more_time(args: str, *, rest: str = "") -> tuple[Duration, str]:
    """(extra time, reason) from ``#need-more-time`` arguments: a duration, then why.

    The reason is the rest of the command line, or, when the line has none, the
    sender's other words (``rest``). Raises CommandError when the duration is missing,
    invalid, zero or over :data:`MAX_EXTRA_DAYS`, or when the reason is missing.
    """
    if not args.strip():
        raise CommandError(f"Say how much more time you need and why, e.g. {_NEED_MORE_TIME_EXAMPLE}.")
    found = _leading_duration(args)
    if found is None:
        first = args.split(maxsplit=1)[0]
        raise CommandError(
            f'"{first[:40]}" is not a duration; start with one such as "4h", "2d" or "8 business hours", '
            f"then the reason, e.g. {_NEED_MORE_TIME_EXAMPLE}."
        )
    duration, reason = found
    _check_extra_time(duration)
    reason = reason or rest.strip()
    if not _HAS_LETTER.search(reason):
        raise CommandError(f"Say why you need more time after the duration, e.g. {_NEED_MORE_TIME_EXAMPLE}.")
    return duration, reason


def _leading_duration(args: str) -> tuple[Duration, str] | None:
    """The longest run of leading words that is a duration, and the text after it."""
    tokens = args.split()
    for count in range(min(len(tokens), _MAX_DURATION_TOKENS), 0, -1):
        text = " ".join(tokens[:count]).rstrip(_REASON_LEAD)
        try:
            duration = parse_duration(text)
        except ValueError:
            continue
        return duration, " ".join(tokens[count:]).lstrip(_REASON_LEAD).strip()
    return None


def _check_extra_time(duration: Duration) -> None:
    if duration.seconds == 0 or duration.business_hours == 0 or duration.business_days == 0:
        raise CommandError(f'"{duration}" is no time at all; ask for e.g. "4h" or "2d".')
    too_long = (
        (duration.seconds or 0) > MAX_EXTRA_DAYS * 86400
        or (duration.business_days or 0) > _MAX_BUSINESS_DAYS
        or (duration.business_hours or 0) > _MAX_BUSINESS_HOURS
    )
    if too_long:
        raise CommandError(
            f'"{duration}" is too long: ask for at most {MAX_EXTRA_DAYS} days '
            f"({_MAX_BUSINESS_DAYS} business days) at a time."
        )


# #reassign ----------------------------------------------------------------------------------------------

_ADDRESS = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
_ADDRESS_RE = re.compile(_ADDRESS)
_REASSIGN_ARGS = re.compile(
    rf"[^<>]*?\s*<\s*(?:mailto:)?{_ADDRESS}\s*>"  # <a@b>, Name <a@b>, "Name" <a@b>
    rf"|(?:mailto:)?{_ADDRESS}(?:\s*<\s*mailto:{_ADDRESS}\s*>)?",  # a@b, Outlook's a@b<mailto:a@b>
    re.IGNORECASE,
)
_MAX_REASSIGN_ARGS = 320  # an address is at most 254 characters; longer lines cost time for nothing
_REASSIGN_EXAMPLE = '"#reassign lee@acme.test"'


def parse_reason(args: str, rest: str = "") -> str:
    """The reason a command carries: the rest of its line, else the lines below; CommandError if none."""
    reason = " ".join(args.split()) or " ".join(rest.split()[:200])
    if not reason:
        raise CommandError("say why on the same line, e.g. #waiting-on-customer they are checking their bank")
    return reason


def parse_reassign(args: str) -> str:
    """The one address, lower case, in ``#reassign`` arguments: a@b, <a@b> or "Name <a@b>".

    Raises CommandError when there is no address, more than one, or other words on the line.
    """
    text = args.strip().rstrip(".")
    if len(text) > _MAX_REASSIGN_ARGS:
        raise CommandError(f"That #reassign line is too long; write e.g. {_REASSIGN_EXAMPLE}.")
    addresses: list[str] = list(dict.fromkeys(found.lower() for found in _ADDRESS_RE.findall(text)))
    if not addresses:
        shown = f'"{text[:60]}" has no email address' if text else "Say who should take it over"
        raise CommandError(f"{shown}; write e.g. {_REASSIGN_EXAMPLE}.")
    if len(addresses) > 1:
        raise CommandError(
            f"Name one person only, not {' and '.join(addresses)}; write e.g. {_REASSIGN_EXAMPLE}."
        )
    if _REASSIGN_ARGS.fullmatch(text) is None:
        raise CommandError(
            f"Write only the address on the #reassign line, e.g. {_REASSIGN_EXAMPLE}; "
            "put anything else on the lines below."
        )
    return addresses[0]
