"""Read rca.yaml: the closing policy, the writeup deadline, the sections a writeup needs, and its actions.

Without ``deadline:`` a writeup is due in 5 business days; without ``sections:``
it needs :data:`DEFAULT_RCA_SECTIONS`. A section's ``kind:`` (text, root_cause,
actions) defaults to :func:`default_kind` of its key. ``actions:`` (max_due,
remind_before, rechase_every) defaults key by key to :data:`DEFAULT_ACTION_RULES`;
``not_causes:`` (kept lower-cased) to :data:`DEFAULT_NOT_CAUSES`. Each mistake is a
problem at its line (see :mod:`rules.loader`).
"""

from __future__ import annotations

from yaml.nodes import Node

from rules.durations import Duration, parse_duration
from rules.rulesfile import RulesFile
from rules.schema import (
    DEFAULT_ACTION_RULES,
    DEFAULT_NOT_CAUSES,
    RCA_POLICIES,
    SECTION_KINDS,
    ActionRules,
    RcaPolicy,
    RcaRules,
    RcaSection,
    SectionKind,
)
from rules.yamlfile import Entry, say, shown

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
_TOP_KEYS = ("policy", "deadline", "sections", "actions", "not_causes")
_SECTION_KEYS = ("key", "title", "aliases", "min_words", "kind")
_ACTION_KEYS = ("max_due", "remind_before", "rechase_every")


def read_rca(file: RulesFile, root: Node) -> RcaRules | None:
    """The RCA rules; None when any part of them has a problem."""
    top = file.mapping(root, "", _TOP_KEYS, ("policy",))
    if top is None or "policy" not in top:
        return None
    policy = _read_policy(file, top["policy"])
    deadline = _read_deadline(file, top)
    sections = _read_sections(file, top) if "sections" in top else DEFAULT_RCA_SECTIONS
    actions = _read_actions(file, top["actions"]) if "actions" in top else DEFAULT_ACTION_RULES
    not_causes = _read_not_causes(file, top["not_causes"]) if "not_causes" in top else DEFAULT_NOT_CAUSES
    if policy is None or deadline is None or not sections or actions is None or not_causes is None:
        return None
    return RcaRules(policy, deadline, sections, actions, not_causes)


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
    for where, entry in file.entries(top, "sections", _SECTION_KEYS, ("key", "title"), "- key: impact"):
        key = file.get(entry, "key", file.section_key, where)
        context = f'section "{key}":' if key else where
        title = file.get(entry, "title", file.string, context)
        aliases = file.get(entry, "aliases", file.texts, context) if "aliases" in entry else ()
        min_words = file.get(entry, "min_words", file.count, context) if "min_words" in entry else 10
        kind = _read_kind(file, entry["kind"], context) if "kind" in entry else default_kind(key or "")
        if key and title and aliases is not None and min_words and kind:
            keys.append((key, entry["key"]))
            headings.append((title.lower(), entry["title"]))
            headings += [(alias.lower(), entry["aliases"]) for alias in aliases]
            sections.append(RcaSection(key, title, aliases, min_words, kind))
    file.once(keys, "section key")
    file.once(headings, "section title or alias")
    return tuple(sections)


def _read_kind(file: RulesFile, node: Node, context: str) -> SectionKind | None:
    kind = next((k for k in SECTION_KINDS if k == file.value(node)), None)
    if kind is None:
        message = say(context, f"kind {shown(node)} is not a kind of section")
        file.problem(node, message, f"write kind: {' or kind: '.join(SECTION_KINDS)}")
    return kind


def _read_actions(file: RulesFile, node: Node) -> ActionRules | None:
    """``actions:``; each key left out takes its default from :data:`DEFAULT_ACTION_RULES`."""
    entry = file.mapping(node, "actions:", _ACTION_KEYS)
    if entry is None:
        return None
    read = {key: file.get(entry, key, file.duration, "actions:") for key in entry}
    if any(value is None for value in read.values()):
        return None
    defaults = DEFAULT_ACTION_RULES
    return ActionRules(
        max_due=read.get("max_due") or defaults.max_due,
        remind_before=read.get("remind_before") or defaults.remind_before,
        rechase_every=read.get("rechase_every") or defaults.rechase_every,
    )


def _read_not_causes(file: RulesFile, node: Node) -> tuple[str, ...] | None:
    """``not_causes:``, lower-cased with spaces tidied; an empty list turns the check off."""
    items = file.sequence(node, "not_causes:", '["human error", "menschliches Versagen"]')
    if items is None:
        return None
    texts = [file.string(item, "not_causes:") for item in items]
    if None in texts:
        return None
    lowered = [
        (" ".join(text.lower().split()), item) for text, item in zip(texts, items, strict=True) if text
    ]
    file.once(lowered, "not-cause")
    return tuple(dict.fromkeys(text for text, _ in lowered))
