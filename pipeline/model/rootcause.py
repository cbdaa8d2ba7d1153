"""Judge a root-cause writeup against the rca rules: findings, merging over several mails, rendering.

Pure nouns and verdicts; reading a writeup out of a reply's text is
:mod:`pipeline.inbound.writeup`'s job, which hands over section key -> text.

A required section is missing (absent or empty), only a placeholder ("TBD", "n/a",
"-", ...) or too thin (fewer than ``min_words`` words with a letter or digit).
A section of kind ``root_cause`` is *not a cause* when it names one of
``rca.not_causes`` ("human error", "training", ...) and, without those phrases and
the words that carry no cause (:data:`_NO_CAUSE_WORDS`: articles, pronouns,
auxiliaries, "the operator", "next time", ...; en/de/fr), fewer than
:data:`_CAUSE_WORDS` words are left: "Human error, the agent will be more careful"
is refused, "Human error: the form accepts any amount without a confirmation step"
is a cause. A section of kind ``actions`` with text but no action read from it has
*no actions* (only when the actions were read, see :func:`check_sections`).
:func:`check_sections` judges sections already parsed, so that a writeup an owner
completes over several mails can be merged (:func:`merge_sections`) and judged whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pipeline.model.action_items import ActionItem, ActionProblem, ActionReading
from rules.schema import RcaRules, RcaSection

Problem = Literal["missing", "too_thin", "placeholder", "not_a_cause", "no_actions"]

_ALNUM = re.compile(r"[^\W_]+")
_PLACEHOLDERS = frozenset(
    {"", "tbd", "tba", "tbc", "todo", "to do", "n a", "na", "none", "see above", "same as above"}
)
_SHOWN_PLACEHOLDER = 40  # characters of a placeholder quoted back to the owner
_SHOWN_LINE = 80  # characters of an action line quoted back to the owner
#: A root cause naming a not-cause needs at least this many words that carry a cause besides it:
#: "the retry job re-submits settled payments" has 5, "the agent will be more careful" none,
#: "human error: the form accepts any amount" 4 (form, accepts, any, amount).
_CAUSE_WORDS = 4
#: Words that say nothing about why the system let a mistake happen (en, de, fr; lower case).
_NO_CAUSE_WORDS = frozenset(
    re.findall(
        r"\S+",
        """
    a an the this that these those it its he she they we i you him her them us our his their my your
    is are was were be been being am has have had do does did will would shall should can could may
    might must not no and or but so then also just only again next time future from now on in on at
    to of for by with about as into more less careful carefully better properly sure make made making
    made take took person people someone somebody operator operators agent agents staff employee
    employees team colleague user users engineer human humans error errors simply because due cause
    caused root reason was why happened happen need needs needed get got given retrain retrained
    remind reminded told briefed informed
    der die das den dem des ein eine einen einem einer eines er sie es wir ich ihr man uns sein seine
    ist sind war waren wird werden wurde wurden hat haben hatte hatten kann können muss müssen soll
    sollen nicht kein keine und oder aber dann auch nur wieder nächste nächstes nächsten mal zukunft
    künftig in im an am zu zum zur von vom mit für bei durch auf aus besser sorgfältiger sorgfältig
    aufpassen achten mitarbeiter mitarbeiterin kollege kollegin jemand team person grund ursache weil
    le la les un une des du de d l il elle ils elles nous vous je on son sa ses leur leurs ce cette
    est sont était été être a ont avait avoir fait faire va vont sera doit doivent ne pas plus et ou
    mais puis aussi seulement encore prochaine prochain fois avenir désormais à au aux en dans par pour
    avec sur mieux attentif attentive attention agent agents employé employée personnel équipe
    quelqu collègue opérateur cause raison parce que former formé formée rappel rappelé
    geschult schulen nachschulung erinnert
    """,
    )
)


@dataclass(frozen=True)
class Finding:
    """What one required section lacks; ``words`` were found, ``needed`` are required."""

    key: str
    title: str
    problem: Problem
    words: int
    needed: int
    detail: str = ""  # not_a_cause: the not-cause phrase found, as the rules write it


@dataclass(frozen=True)
class WriteupCheck:
    """The check of one writeup: complete when there are no findings and no refused action lines.

    ``sections`` maps each section found to its text; it is read-only and left out
    of the hash, so a verdict stays hashable. ``actions`` are the actions read from
    the action sections, ``action_problems`` the lines refused there (both empty
    when the actions were not read).
    """

    complete: bool
    findings: tuple[Finding, ...]
    sections: Mapping[str, str] = field(hash=False)
    actions: tuple[ActionItem, ...] = ()
    action_problems: tuple[ActionProblem, ...] = ()


def check_sections(
    found: Mapping[str, str], rca: RcaRules, actions: ActionReading | None = None
) -> WriteupCheck:
    """Check every required section in ``found`` (section key -> text); findings follow the rca order.

    With ``actions`` (read by :func:`pipeline.inbound.actions.read_writeup_actions`) its
    items and refused lines go into the verdict, and an action section with text is
    judged by its items: none read from it is a "no_actions" finding, one or more
    is enough whatever the word count (an action line is short). Without ``actions``,
    action sections are judged as text only.
    """
    findings: list[Finding] = []
    for section in rca.sections:
        finding = _judge(section, found.get(section.key), rca.not_causes)
        if actions is not None and section.kind == "actions":
            finding = _judge_actions(section, finding, actions)
        if finding is not None:
            findings.append(finding)
    reading = actions or ActionReading()
    return WriteupCheck(
        complete=not findings and not reading.problems,
        findings=tuple(findings),
        sections=MappingProxyType(dict(found)),
        actions=reading.items,
        action_problems=reading.problems,
    )


def _judge_actions(section: RcaSection, finding: Finding | None, actions: ActionReading) -> Finding | None:
    """An action section with text is judged by its items: none is "no_actions", one is enough words."""
    if finding is not None and finding.problem in ("missing", "placeholder"):
        return finding
    if any(item.section == section.key for item in actions.items):
        return None
    words = finding.words if finding is not None else section.min_words
    return Finding(section.key, section.title, "no_actions", words, section.min_words)


def merge_sections(earlier: Mapping[str, str], newer: Mapping[str, str], rca: RcaRules) -> dict[str, str]:
    """The writeup so far, when an owner completes it over several mails; rca sections in rca order.

    A section in ``newer`` replaces the earlier one only when it is at least as good:
    missing < placeholder < not a cause < too thin (more words is better) < complete.
    So an empty or "TBD" section never undoes text, "human error" never undoes a thin
    but real cause, a thin one never undoes a complete one, and a complete one always
    replaces (the owner's latest version wins). Action sections are ranked as text
    here (reading their actions needs the people; "no actions" ranks with "not a
    cause" in :func:`_rank`). Keys that are no rca section are dropped.
    """
    merged: dict[str, str] = {}
    for section in rca.sections:
        old, new = earlier.get(section.key), newer.get(section.key)
        better = old is None or _rank(section, new or "", rca) >= _rank(section, old, rca)
        if new is not None and better:
            merged[section.key] = new
        elif old is not None:
            merged[section.key] = old
    return merged


def render_sections(found: Mapping[str, str], rca: RcaRules) -> list[tuple[str, str]]:
    """(title, text) of every section in ``found`` that has text, in rca order."""
    return [(section.title, text) for section in rca.sections if (text := found.get(section.key, "").strip())]


def describe_findings(verdict: WriteupCheck, rca: RcaRules | None = None) -> str:
    """One line per finding, then one per refused action line, as mailed to the owner; "" when complete.

    Each line ends with a newline. An action line's section is named by its title in
    ``rca`` (without it, by its key spelt as words: "Corrective actions").
    """
    lines = [f"- {finding.title}: {_what_lacks(finding, verdict)}\n" for finding in verdict.findings]
    titles = {section.key: section.title for section in rca.sections} if rca else {}
    for problem in verdict.action_problems:
        title = titles.get(problem.section) or problem.section.replace("_", " ").capitalize()
        lines.append(f'- {title}: "{_shortened(problem.line, _SHOWN_LINE)}" — {problem.reason}\n')
    return "".join(lines)


def _what_lacks(finding: Finding, verdict: WriteupCheck) -> str:
    if finding.problem == "too_thin":
        return f"too thin ({finding.words} of {finding.needed} words)"
    if finding.problem == "placeholder":
        shown = _shortened(verdict.sections.get(finding.key, ""), _SHOWN_PLACEHOLDER)
        return f'only a placeholder ("{shown}")'
    if finding.problem == "not_a_cause":
        return f'"{finding.detail}" is not a cause: say why the system let the mistake happen'
    if finding.problem == "no_actions":
        return 'no action found: write one per line, "- <what> — owner: <address or me> — due: <date>"'
    return "missing"


def _shortened(text: str, limit: int) -> str:
    shown = " ".join(text.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _words(text: str) -> int:
    return sum(1 for token in text.split() if _ALNUM.search(token))


def _is_placeholder(text: str) -> bool:
    return " ".join(_ALNUM.findall(text.casefold())) in _PLACEHOLDERS


_RANKS: dict[Problem, int] = {
    "missing": 0,
    "placeholder": 1,
    "not_a_cause": 2,
    "no_actions": 2,
    "too_thin": 3,
}


def _rank(section: RcaSection, text: str, rca: RcaRules) -> tuple[int, int]:
    """How good a section's text is: missing < placeholder < not a cause, no actions < too thin
    (by words) < complete."""
    finding = _judge(section, text, rca.not_causes)
    if finding is None:
        return (4, 0)
    return (_RANKS[finding.problem], finding.words if finding.problem == "too_thin" else 0)


def _judge(section: RcaSection, text: str | None, not_causes: tuple[str, ...]) -> Finding | None:
    """The finding for one required section, or None when it is good enough."""
    if text is None or not text.strip():
        return Finding(section.key, section.title, "missing", 0, section.min_words)
    if _is_placeholder(text):
        return Finding(section.key, section.title, "placeholder", 0, section.min_words)
    words = _words(text)
    if section.kind == "root_cause" and (blamed := not_a_cause(text, not_causes)):
        return Finding(section.key, section.title, "not_a_cause", words, section.min_words, blamed)
    if words < section.min_words:
        return Finding(section.key, section.title, "too_thin", words, section.min_words)
    return None


def not_a_cause(text: str, not_causes: tuple[str, ...]) -> str:
    """The first not-cause ``text`` names when that is all it says (see the module docstring), else ""."""
    words = " ".join(_ALNUM.findall(text.casefold()))
    folded = words
    found: list[tuple[int, str]] = []
    for phrase in sorted(not_causes, key=len, reverse=True):
        pattern = r"\b" + r"\s+".join(map(re.escape, _ALNUM.findall(phrase.casefold()))) + r"\b"
        where = re.search(pattern, folded) if _ALNUM.search(phrase) else None
        if where is not None:
            found.append((where.start(), phrase))
            folded = re.sub(pattern, lambda match: " " * len(match.group(0)), folded)
    left = [word for word in folded.split() if word not in _NO_CAUSE_WORDS]
    return min(found)[1] if found and len(left) < _CAUSE_WORDS else ""
