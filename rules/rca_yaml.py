"""Read rca.yaml: the closing policy, the writeup deadline, and the sections a root-cause writeup needs.

Without ``deadline:`` a writeup is due in 5 business days; without ``sections:``
it needs :data:`DEFAULT_RCA_SECTIONS`. Each mistake is a problem at its line
(see :mod:`rules.loader`).
"""

from __future__ import annotations

from yaml.nodes import Node

from rules.durations import Duration, parse_duration
from rules.rulesfile import RulesFile
from rules.schema import RCA_POLICIES, RcaPolicy, RcaRules, RcaSection, SectionKind
from rules.yamlfile import Entry, shown

DEFAULT_RCA_SECTIONS: tuple[RcaSection, ...] = (
    RcaSection("what_happened", "What happened", ("Summary", "Incident"), 10),
    RcaSection("impact", "Impact", ("Customer impact",), 10),
    RcaSection(
        "root_cause", "Root cause (five whys)", ("Root cause", "Five whys", "5 whys"), 10, "root_cause"
    ),
    RcaSection("corrective_actions", "Corrective actions", ("Corrections", "Fix"), 10, "actions"),
    RcaSection("preventive_actions", "Preventive actions", ("Prevention", "Follow-ups"), 10, "actions"),
)
_DEFAULT_DEADLINE = "5 business days"


def read_rca(file: RulesFile, root: Node) -> RcaRules | None:
    """The RCA rules; None when any part of them has a problem."""
    top = file.mapping(root, "", ("policy", "deadline", "sections"), ("policy",))
    if top is None or "policy" not in top:
        return None
    policy = _read_policy(file, top["policy"])
    deadline = _read_deadline(file, top)
    sections = _read_sections(file, top) if "sections" in top else DEFAULT_RCA_SECTIONS
    if policy is None or deadline is None or not sections:
        return None
    return RcaRules(policy, deadline, sections)


def default_kind(key: str) -> SectionKind:
    """How a section is judged when rca.yaml does not say: ``root_cause`` names the cause, a key
    ending in ``_actions`` holds actions, anything else is text."""
    if key == "root_cause":
        return "root_cause"
    return "actions" if key.endswith("_actions") else "text"


def _read_policy(file: RulesFile, node: Node) -> RcaPolicy | None:
    policy = next((p for p in RCA_POLICIES if p == file.value(node)), None)
    if policy is None:
        fix = f"write policy: {' or policy: '.join(RCA_POLICIES)}"
        file.problem(node, f"policy {shown(node)} is not a policy", fix)
    return policy


def _read_deadline(file: RulesFile, top: Entry) -> Duration | None:
    if "deadline" not in top:
        return parse_duration(_DEFAULT_DEADLINE)
    return file.get(top, "deadline", file.duration, "")


def _read_sections(file: RulesFile, top: Entry) -> tuple[RcaSection, ...]:
    sections: list[RcaSection] = []
    keys: list[tuple[str, Node]] = []
    headings: list[tuple[str, Node]] = []
    fields = ("key", "title", "aliases", "min_words")
    for where, entry in file.entries(top, "sections", fields, ("key", "title"), "- key: impact"):
        key = file.get(entry, "key", file.section_key, where)
        context = f'section "{key}":' if key else where
        title = file.get(entry, "title", file.string, context)
        aliases = file.get(entry, "aliases", file.texts, context) if "aliases" in entry else ()
        min_words = file.get(entry, "min_words", file.count, context) if "min_words" in entry else 10
        if key and title and aliases is not None and min_words:
            keys.append((key, entry["key"]))
            headings.append((title.lower(), entry["title"]))
            headings += [(alias.lower(), entry["aliases"]) for alias in aliases]
            sections.append(RcaSection(key, title, aliases, min_words, default_kind(key)))
    file.once(keys, "section key")
    file.once(headings, "section title or alias")
    return tuple(sections)
