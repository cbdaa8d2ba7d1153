"""Parse and check a root-cause writeup against the rca rules.

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

A section is then missing (absent or empty), only a placeholder ("TBD", "n/a",
"-", ...) or too thin (fewer than ``min_words`` words with a letter or digit).
:func:`check_sections` judges sections already parsed, so that a writeup an owner
completes over several mails can be merged (:func:`merge_sections`) and judged whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from rules.schema import RcaRules, RcaSection

Problem = Literal["missing", "too_thin", "placeholder"]

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
_PLACEHOLDERS = frozenset(
    {"", "tbd", "tba", "tbc", "todo", "to do", "n a", "na", "none", "see above", "same as above"}
)
_SHOWN_PLACEHOLDER = 40  # characters of a placeholder quoted back to the owner


@dataclass(frozen=True)
class Finding:
    """What one required section lacks; ``words`` were found, ``needed`` are required."""

    key: str
    title: str
    problem: Problem
    words: int
    needed: int


@dataclass(frozen=True)
class WriteupCheck:
    """The check of one writeup: complete when there are no findings.

    ``sections`` maps each section found to its text; it is read-only and left out
    of the hash, so a verdict stays hashable.
    """

    complete: bool
    findings: tuple[Finding, ...]
    sections: Mapping[str, str] = field(hash=False)


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


def check_sections(found: Mapping[str, str], rca: RcaRules) -> WriteupCheck:
    """Check every required section in ``found`` (section key -> text); findings follow the rca order."""
    findings = tuple(
        finding
        for section in rca.sections
        if (finding := _judge(section, found.get(section.key))) is not None
    )
    return WriteupCheck(complete=not findings, findings=findings, sections=MappingProxyType(dict(found)))


def merge_sections(earlier: Mapping[str, str], newer: Mapping[str, str], rca: RcaRules) -> dict[str, str]:
    """The writeup so far, when an owner completes it over several mails; rca sections in rca order.

    A section in ``newer`` replaces the earlier one only when it is at least as good:
    missing < placeholder < too thin (more words is better) < complete. So an empty or
    "TBD" section never undoes text, a thin one never undoes a complete one, and a
    complete one always replaces (the owner's latest version wins). Keys that are no
    rca section are dropped.
    """
    merged: dict[str, str] = {}
    for section in rca.sections:
        old, new = earlier.get(section.key), newer.get(section.key)
        if new is not None and (old is None or _rank(section, new) >= _rank(section, old)):
            merged[section.key] = new
        elif old is not None:
            merged[section.key] = old
    return merged


def render_sections(found: Mapping[str, str], rca: RcaRules) -> list[tuple[str, str]]:
    """(title, text) of every section in ``found`` that has text, in rca order."""
    return [(section.title, text) for section in rca.sections if (text := found.get(section.key, "").strip())]


def describe_findings(verdict: WriteupCheck) -> str:
    """One line per finding, as mailed to the owner (each ends with a newline); "" when complete."""
    lines: list[str] = []
    for finding in verdict.findings:
        if finding.problem == "too_thin":
            what = f"too thin ({finding.words} of {finding.needed} words)"
        elif finding.problem == "placeholder":
            shown = " ".join(verdict.sections.get(finding.key, "").split())
            if len(shown) > _SHOWN_PLACEHOLDER:
                shown = shown[: _SHOWN_PLACEHOLDER - 1] + "…"
            what = f'only a placeholder ("{shown}")'
        else:
            what = "missing"
        lines.append(f"- {finding.title}: {what}\n")
    return "".join(lines)


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
    stripped = line.strip()
    heading = _HEADING.match(line)
    bold = None if heading else _BOLD_LINE.fullmatch(stripped)
    whole = line[heading.end() :].strip().rstrip("#").strip() if heading else bold.group(2) if bold else None
    if whole is not None and (key := _lookup(whole, titles)) is not None:
        return key, ""
    labelled = _LABELLED.match(whole if heading and whole is not None else stripped)
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


def _blocks(text: str) -> list[list[tuple[str, bool]]]:
    """The runs of (unquoted line, was quoted) between reply separators, which are dropped."""
    lines = [(_QUOTE.sub("", raw), _QUOTE.match(raw) is not None) for raw in text.splitlines()]
    bare = [line for line, _ in lines]
    stops: set[int] = set()
    for index, line in enumerate(bare):
        forwarded = _FROM.match(line) and any(_HEADER.match(below) for below in bare[index + 1 : index + 4])
        if _is_separator(line) or forwarded:
            stops.add(index)
        elif _WROTE.search(line.rstrip()):
            stops.add(index)
            if index and not _ON.match(line) and _ON.match(bare[index - 1]):
                stops.add(index - 1)  # an attribution wrapped over two lines
    blocks: list[list[tuple[str, bool]]] = [[]]
    for index, pair in enumerate(lines):
        if index in stops:
            blocks.append([])
        else:
            blocks[-1].append(pair)
    return blocks


def _read_block(lines: Sequence[tuple[str, bool]], titles: Mapping[str, str]) -> _Block:
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


def _words(text: str) -> int:
    return sum(1 for token in text.split() if _ALNUM.search(token))


def _is_placeholder(text: str) -> bool:
    return " ".join(_ALNUM.findall(text.casefold())) in _PLACEHOLDERS


def _rank(section: RcaSection, text: str) -> tuple[int, int]:
    """How good a section's text is: missing < placeholder < too thin (by words) < complete."""
    finding = _judge(section, text)
    if finding is None:
        return (3, 0)
    return {"missing": (0, 0), "placeholder": (1, 0), "too_thin": (2, finding.words)}[finding.problem]


def _judge(section: RcaSection, text: str | None) -> Finding | None:
    """The finding for one required section, or None when it is good enough."""
    if text is None or not text.strip():
        return Finding(section.key, section.title, "missing", 0, section.min_words)
    if _is_placeholder(text):
        return Finding(section.key, section.title, "placeholder", 0, section.min_words)
    words = _words(text)
    if words < section.min_words:
        return Finding(section.key, section.title, "too_thin", words, section.min_words)
    return None
