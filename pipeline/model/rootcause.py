"""Judge a root-cause writeup against the rca rules: findings, merging over several mails, rendering.

Pure nouns and verdicts; reading a writeup out of a reply's text is
:mod:`pipeline.inbound.writeup`'s job, which hands over section key -> text.

A required section is missing (absent or empty), only a placeholder ("TBD", "n/a",
"-", ...) or too thin (fewer than ``min_words`` words with a letter or digit).
:func:`check_sections` judges sections already parsed, so that a writeup an owner
completes over several mails can be merged (:func:`merge_sections`) and judged whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from rules.schema import RcaRules, RcaSection

Problem = Literal["missing", "too_thin", "placeholder"]

_ALNUM = re.compile(r"[^\W_]+")
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
