"""Read a root-cause writeup out of a reply's text: section key -> the text the owner typed.

A section starts at a line ``Title:`` (its text may follow on the same line), a
heading ``## Title`` (``#`` to ``###``, optional trailing colon) or a line that is
only the title in bold. The title is the section's title or any alias, compared
without case, surrounding punctuation, list numbering ("1.", "1)") or a
parenthetical, so "ROOT CAUSE:", "## 5 whys" and "**1. Root cause (five whys)**"
all start ``root_cause``. A section runs to the next section start (a repeated
section is joined to the first) or to the end of its block.

Blocks are the parts of a reply between separators: "On ... wrote:", a
"---- ... ----" or "________" line, an Outlook "From:/Sent:" header, and "-- ".
Headings count at any ">" depth, but a section's text is what the owner typed,
unquoted, under the nearest heading above, whether or not that heading is
quoted. The writeup is the first block where the owner typed under a heading:
a filled-in template above qmark's quoted empty one, or answers typed inline
under the quoted headings; quoted text and later blocks (the forward quoted
below, an unquoted Outlook original) never add to it. Only when the owner typed
under no heading at all is a writeup quoted whole read from the quotes: then
the block with most sections counts, so that the template block of qmark's own
quoted forward (all empty) wins over a "Summary:" line in the quoted complaint.

:func:`check_writeup` reads and judges in one go; judging is
:func:`pipeline.model.rootcause.check_sections`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.model.rootcause import WriteupCheck, check_sections
from rules.schema import RcaRules, RcaSection

_QUOTE = re.compile(r"^(?:>[ ]?)+")
_HEADING = re.compile(r"[ \t]{0,3}#{1,3}")
_BOLD_LINE = re.compile(r"(\*{1,2}|_{1,2})(?!\s)(.{1,80}?)\1")
_LABELLED = re.compile(r"([^:：]{1,80})[:：](.*)")
_OPEN_EMPHASIS = re.compile(r"^\s*[*_]")
_CLOSE_EMPHASIS = re.compile(r"[*_]\s*$")
_NUMBERING = re.compile(r"^(?:\(?\d{1,2}[.)]|\d{1,2}\s*[-–—](?=\s))")
_PARENTHETICAL = re.compile(r"\([^)]*\)")
_ALNUM = re.compile(r"[^\W_]+")
_WROTE = re.compile(r"\b(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef)\s*:$", re.I)
_ON = re.compile(r"\s*(?:On|Am|Le|El|Il|Op)\s")
_FROM = re.compile(r"\s*\**From\**\s*:", re.I)
_HEADER = re.compile(r"\s*\**(?:Sent|Date|To|Subject)\**\s*:", re.I)
_MAX_LABEL = 200  # longer text is never a title; keeps hostile lines cheap
_SIGNATURE = "-- "

Line = tuple[str, bool]  # a line without its ">" marks, and whether it had any


def parse_writeup(text: str, sections: Sequence[RcaSection]) -> dict[str, str]:
    """Section key -> its text, in rca order, for every section that has a start line in ``text``."""
    titles = _titles(sections)
    blocks = [_read_block(block, titles) for block in _blocks(text)]
    written = [block.own for block in blocks if block.owner_typed]
    # Typed under no heading: a writeup quoted whole, read from the block with most sections.
    found = written[0] if written else max((block.everything for block in blocks), key=len, default={})
    return {key: _tidy(found[key]) for key in dict.fromkeys(s.key for s in sections) if key in found}


def check_writeup(text: str, rca: RcaRules) -> WriteupCheck:
    """Check every required section of the writeup in ``text``; findings follow the rca order."""
    return check_sections(parse_writeup(text, rca.sections), rca)


def _titles(sections: Sequence[RcaSection]) -> dict[str, str]:
    """Normalised title or alias -> section key; the first section in rca order wins a clash."""
    titles: dict[str, str] = {}
    for section in sections:
        for name in (section.title, *section.aliases):
            for variant in (_normalise(name), _normalise(name, keep_parenthetical=True)):
                if variant:
                    titles.setdefault(variant, section.key)
    return titles


def _normalise(label: str, *, keep_parenthetical: bool = False) -> str:
    text = _NUMBERING.sub("", label.casefold().strip().strip("*_`#>- \t"))
    if not keep_parenthetical:
        text = _PARENTHETICAL.sub(" ", text)
    return " ".join(_ALNUM.findall(text))


def _lookup(label: str, titles: Mapping[str, str]) -> str | None:
    if len(label) > _MAX_LABEL:
        return None
    key = titles.get(_normalise(label))
    return key if key is not None else titles.get(_normalise(label, keep_parenthetical=True))


def _section_start(line: str, titles: Mapping[str, str]) -> tuple[str, str] | None:
    """(key, text after the title on the same line) when ``line`` starts a section."""
    heading = _HEADING.match(line)
    if heading is not None:
        text = line[heading.end() :].strip().rstrip("#").strip()
        return _whole_title(text, titles) or _labelled(text, titles)
    stripped = line.strip()
    bold = _BOLD_LINE.fullmatch(stripped)
    return (_whole_title(bold.group(2), titles) if bold else None) or _labelled(stripped, titles)


def _whole_title(text: str, titles: Mapping[str, str]) -> tuple[str, str] | None:
    """(key, "") when all of ``text`` is a title: a heading's or a bold line's."""
    key = _lookup(text, titles)
    return None if key is None else (key, "")


def _labelled(text: str, titles: Mapping[str, str]) -> tuple[str, str] | None:
    """(key, the text after the colon) when ``text`` is "Title: text"."""
    labelled = _LABELLED.match(text)
    if labelled is None or (key := _lookup(labelled.group(1), titles)) is None:
        return None
    label, rest = labelled.groups()
    if _OPEN_EMPHASIS.match(label) and not _CLOSE_EMPHASIS.search(label):
        rest = re.sub(r"^\s*[*_]+", "", rest)  # "**Impact:** text"
    return key, rest.strip()


def _is_separator(line: str) -> bool:
    """A signature delimiter, an Outlook underscore rule or a "---- Original Message ----" line."""
    text = line.strip()
    if line == _SIGNATURE or (len(text) >= 8 and not text.strip("_")):
        return True
    return text.startswith("---") and text.endswith("---") and bool(text.strip("- \t"))


@dataclass
class _Block:
    """The sections of one block: ``own`` holds only unquoted lines, ``everything`` all of them."""

    own: dict[str, list[str]] = field(default_factory=dict)
    everything: dict[str, list[str]] = field(default_factory=dict)
    owner_typed: bool = False


def _blocks(text: str) -> list[list[Line]]:
    """The runs of (unquoted line, was quoted) between reply separators, which are dropped."""
    lines = [(_QUOTE.sub("", raw), _QUOTE.match(raw) is not None) for raw in text.splitlines()]
    bare = [line for line, _ in lines]
    stops = {stop for index in range(len(bare)) for stop in _stops_at(bare, index)}
    blocks: list[list[Line]] = [[]]
    for index, pair in enumerate(lines):
        if index in stops:
            blocks.append([])
        else:
            blocks[-1].append(pair)
    return blocks


def _stops_at(bare: list[str], index: int) -> tuple[int, ...]:
    """The separator lines found at ``index``: itself, and the first half of a wrapped attribution."""
    line = bare[index]
    if _is_separator(line) or _is_forward_header(bare, index):
        return (index,)
    if not _WROTE.search(line.rstrip()):
        return ()
    if index and not _ON.match(line) and _ON.match(bare[index - 1]):
        return index - 1, index  # an attribution wrapped over two lines
    return (index,)


def _is_forward_header(bare: list[str], index: int) -> bool:
    """An Outlook "From:" line with "Sent:", "Date:", "To:" or "Subject:" within three lines below."""
    below = bare[index + 1 : index + 4]
    return bool(_FROM.match(bare[index])) and any(_HEADER.match(line) for line in below)


def _read_block(lines: Sequence[Line], titles: Mapping[str, str]) -> _Block:
    """Each line belongs to the nearest section start above it in the block, at any quote depth."""
    block = _Block()
    current: str | None = None
    for line, quoted in lines:
        content = line
        start = _section_start(line, titles)
        if start is not None:
            current, content = start
            block.own.setdefault(current, []).append("")
            block.everything.setdefault(current, []).append("")
        if current is None:
            continue
        block.everything[current].append(content)
        if not quoted:
            block.own[current].append(content)
            block.owner_typed = block.owner_typed or bool(content.strip())
    return block


def _tidy(parts: list[str]) -> str:
    text = "\n".join(part.rstrip() for part in parts)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
