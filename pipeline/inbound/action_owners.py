"""Find the owner in an action line: a labelled owner, an address, "Pat to ...", or a part that is a name.

An owner is, in this order: the words after a label (``owner:``, ``Verantwortlich:``,
``Responsable :``, ``assigned to`` ...); an address anywhere in the line; a name
opening the line before "to"/"will" ("Pat to add a run key"); a part of the line
between separators that is a name or "me". A name is an address in people.yaml (any
case), a person's full name, a first name only one person has, or the local part
of an address; "me", "myself", "ich", "moi" (and a few more) are the writer. A
labelled owner or an address that names nobody in people.yaml, and a first name
several people share, come back as the reason the line is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.inbound.due_phrases import SEPARATOR, segments
from rules.errors import did_you_mean
from rules.schema import Person

_ME = frozenset({"me", "myself", "i", "ich", "mich", "selbst", "moi", "moi-même", "je"})
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.I)
_LABEL = re.compile(
    r"(?<![\w@.])(?:owner|owned\s+by|assignee|assigned\s+to|who\s*:|responsible\s*:|verantwortlich(?:e[rn]?)?"
    r"|zust[äa]ndig|verantw\.|responsable|resp\.|porteur|pilote|propri[ée]taire)(?![\w@])\s*[:=]?\s*",
    re.I,
)
_LEADING = re.compile(r"^\s*@?([\w.'-]+(?:\s+[\w.'-]+)?)\s+(?:to|will|shall|soll|wird|muss|doit|va)\s+", re.I)
_NAME_WORD = re.compile(r"[\w.@+'’-]+")
_MAX_NAME_WORDS = 3


@dataclass(frozen=True)
class OwnerFound:
    """The owner named in a line (``email``), or why it names none usable (``reason``), and where."""

    start: int
    end: int
    email: str | None = None
    reason: str | None = None
    ambiguous: bool = False

    @property
    def named(self) -> bool:
        """True when the words name someone: one person, or several (ambiguous)."""
        return self.email is not None or self.ambiguous


def find_owner(text: str, people: Mapping[str, Person], writer: str) -> OwnerFound | None:
    """The owner of an action line; None when the line names no owner at all."""
    for label in _LABEL.finditer(text):
        found = _after_label(text, label.end(), people, writer)
        if found is not None:
            return OwnerFound(label.start(), found.end, found.email, found.reason, found.ambiguous)
    address = _ADDRESS.search(text)
    if address is not None:
        return _resolved(address.start(), address.end(), address.group(0), people, writer)
    leading = _LEADING.match(text)
    if leading is not None:
        found = _resolved(0, leading.end(), leading.group(1), people, writer)
        if found.email is not None:
            return found
    for start, end in segments(text):
        found = _resolved(start, end, text[start:end], people, writer)
        if found.named:
            return found
    return None


def _after_label(text: str, start: int, people: Mapping[str, Person], writer: str) -> OwnerFound | None:
    """The longest run of up to three words after a label that names an owner, else the first word."""
    stop = SEPARATOR.search(text, start)
    words = list(_NAME_WORD.finditer(text, start, stop.start() if stop else len(text)))[:_MAX_NAME_WORDS]
    if not words:
        return None
    for count in range(len(words), 0, -1):
        found = _resolved(start, words[count - 1].end(), text[start : words[count - 1].end()], people, writer)
        if found.named:
            return found
    return _resolved(start, words[0].end(), words[0].group(0), people, writer)


def _resolved(start: int, end: int, name: str, people: Mapping[str, Person], writer: str) -> OwnerFound:
    """``name`` read as an owner: an address in people, "me", or a name of exactly one person."""
    wanted = " ".join(name.strip().strip("@.,:;").split()).casefold()
    if wanted in _ME:
        return OwnerFound(start, end, email=writer.strip().lower())
    if _ADDRESS.fullmatch(wanted):
        if wanted in people:
            return OwnerFound(start, end, email=wanted)
        return OwnerFound(start, end, reason=_unknown(wanted, people))
    matches = _by_name(wanted, people)
    if len(matches) == 1:
        return OwnerFound(start, end, email=matches[0])
    if len(matches) > 1:
        reason = f'owner "{name.strip()}" could be {" or ".join(matches)}: write the address'
        return OwnerFound(start, end, reason=reason, ambiguous=True)
    return OwnerFound(start, end, reason=_unknown(name.strip(), people))


def _by_name(wanted: str, people: Mapping[str, Person]) -> list[str]:
    """The addresses of the people ``wanted`` names: full name first, then first name or local part."""
    if not wanted or not any(c.isalpha() for c in wanted):
        return []
    full = [email for email, person in people.items() if person.name.casefold() == wanted]
    if full:
        return full
    return [
        email
        for email, person in people.items()
        if wanted in {(person.name.split() or [""])[0].casefold(), email.split("@")[0]}
    ]


def _unknown(name: str, people: Mapping[str, Person]) -> str:
    close = did_you_mean(name, people)
    hint = f"did you mean {close[0]}?" if close else "write the address of someone listed there, or me"
    return f"owner {name} is not in people.yaml: {hint}"
